/**
 * A worker: one stage of a pipeline that spans machines. It reads a topic as a member of a
 * consumer group, hands each message to a program (stdio.ts or reply.ts for the two ways),
 * and appends what the program outputs to another topic.
 *
 * Backpressure: at most `maxInFlight` entries (plus one read's worth) are in the worker at a
 * time; a slow program leaves the rest in Redis, where the topic's stream grows, never the
 * worker's memory. The output side pauses the program's stdout while Redis is behind.
 * @module
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConsumedItem, TopicConsumer } from '../bridge/consumer.js';
import { BridgeError } from '../bridge/errors.js';
import { RedisTransport } from '../bridge/redis.js';
import type { TopicReader } from '../bridge/transport.js';
import { decodeLine, jsonCodec, yamlCodec } from '../codec.js';
import type { PluginExit } from '../plugin/types.js';
import { Registration } from './registry.js';
import { ReplyStage } from './reply.js';
import type { ProgramOptions, Stage, StageContext, StageInput } from './stage.js';
import { StdioStage } from './stdio.js';
import type { WorkerCodec, WorkerEvents, WorkerMeta, WorkerMode, WorkerOptions, WorkerState, WorkerStats } from './types.js';

const DEFAULT_META_KEY = '__pipe_io';

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new RangeError(`Option ${name} must be an integer >= ${min}, got ${String(value)}.`);
  return value;
}

/**
 * Runs a program as a stage of a distributed pipeline; see the module comment and
 * `pipe-io work --help`.
 *
 * ```ts
 * const worker = new Worker({ redis: 'redis://hub:6379', from: 'raw', to: 'upper', group: 'upper', command: 'tr', args: ['a-z', 'A-Z'] });
 * await worker.start();
 * // … later, on SIGTERM: finish what is in flight, then exit
 * await worker.stop();
 * ```
 */
export class Worker extends EventEmitter<WorkerEvents> {
  /** This worker's consumer name in its group. */
  readonly name: string;
  /** How it talks to its program. */
  readonly mode: WorkerMode;
  readonly #options: WorkerOptions;
  readonly #codec: WorkerCodec;
  readonly #metaKey: string | undefined;
  readonly #maxInFlight: number;
  readonly #transport: RedisTransport;
  readonly #stage: Stage;
  #state: WorkerState = 'idle';
  #reader: TopicReader | undefined;
  #consumer: TopicConsumer | undefined;
  #registration: Registration | undefined;
  #loop: Promise<void> = Promise.resolve();
  #stopping: Promise<PluginExit> | undefined;
  #slot: (() => void) | undefined;
  #received = 0;
  #acked = 0;
  #skipped = 0;
  #emitted = 0;
  #retried = 0;
  #inFlight = 0;
  /** Output waiting for its append, batched: all lines that come in one turn of the event loop go in one round trip. */
  #batch: { lines: string[]; done: Promise<void> } | undefined;
  #appendChain: Promise<void> = Promise.resolve();
  #toAck: string[] = [];
  #acking: Promise<void> = Promise.resolve();

  /** @param options - see {@link WorkerOptions} */
  constructor(options: WorkerOptions) {
    super();
    if (!options.from) throw new BridgeError('ERR_BRIDGE_USAGE', 'A worker needs a topic to read (from).');
    if (!options.group) throw new BridgeError('ERR_BRIDGE_USAGE', 'A worker needs a consumer group (group).');
    if (!options.command) throw new BridgeError('ERR_BRIDGE_USAGE', 'A worker needs a program to run (command).');
    this.#options = options;
    this.mode = options.mode ?? 'stdio';
    this.#codec = options.codec ?? 'text';
    if (!['text', 'json', 'yaml'].includes(this.#codec)) throw new BridgeError('ERR_BRIDGE_USAGE', `codec must be 'text', 'json' or 'yaml', got '${String(this.#codec)}'.`);
    this.#metaKey = options.meta === true ? DEFAULT_META_KEY : typeof options.meta === 'string' && options.meta !== '' ? options.meta : undefined;
    if (this.#metaKey !== undefined && this.#codec === 'text') {
      throw new BridgeError('ERR_BRIDGE_USAGE', "meta needs structured messages: codec 'json' or 'yaml' (a text line has nowhere to carry it).");
    }
    this.#maxInFlight = positive('maxInFlight', options.maxInFlight, 256);
    this.name = options.name ?? `${hostname()}:${process.pid}`;
    const redis = options.redis;
    this.#transport = new RedisTransport({ ...(typeof redis === 'string' ? { url: redis } : (redis ?? {})), ...(options.maxLen === undefined ? {} : { maxLen: options.maxLen }) });
    this.#transport.on('warning', (error) => this.#warn(error));
    const env: NodeJS.ProcessEnv = {
      ...options.env,
      // The metadata that does not change from one message to the next; see WorkerMeta.
      PIPE_IO_WORKER: this.name,
      PIPE_IO_HOST: hostname(),
      PIPE_IO_GROUP: options.group,
      PIPE_IO_FROM: options.from,
      ...(options.to === undefined ? {} : { PIPE_IO_TO: options.to }),
    };
    const common: ProgramOptions = {
      command: options.command,
      args: options.args ?? [],
      env,
      restart: options.restart ?? 'never',
      maxRestarts: positive('maxRestarts', options.maxRestarts, 5, 0),
      gracePeriod: positive('gracePeriod', options.gracePeriod, 5000, 0),
    };
    const context = this.#stageContext();
    this.#stage =
      this.mode === 'reply'
        ? new ReplyStage({ ...common, method: options.method ?? 'process', from: options.from }, context)
        : new StdioStage({ ...common, lineBuffered: options.lineBuffered ?? true, oneToOne: options.oneToOne ?? false }, context);
  }

  /** Where the worker is in its life. */
  get state(): WorkerState {
    return this.#state;
  }

  /** Counters since start. */
  get stats(): WorkerStats {
    return { received: this.#received, acked: this.#acked, skipped: this.#skipped, emitted: this.#emitted, retried: this.#retried, inFlight: this.#inFlight };
  }

  /**
   * Connects, joins the group, starts the program and registers in Redis; then works until
   * {@link stop} or until the program ends for good (`'stopped'`). Rejects if Redis cannot be
   * reached (`ERR_BRIDGE_CONNECT`) or the program cannot be started (the spawn error).
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new BridgeError('ERR_BRIDGE_USAGE', 'A worker starts once.');
    this.#state = 'running';
    const { from, group } = this.#options;
    try {
      await this.#transport.connect();
      this.#reader = await this.#transport.subscribe({ mode: 'queue', topic: from, group, consumer: this.name, from: this.#options.start });
      await this.#stage.start();
    } catch (error) {
      this.#state = 'stopped';
      await this.#transport.close();
      throw error;
    }
    this.#consumer = new TopicConsumer(this.#reader, {
      count: Math.min(128, this.#maxInFlight),
      blockMs: 500,
      claimIdleMs: this.#options.claimIdleMs ?? 30_000,
      maxMessageBytes: 1024 * 1024,
      warn: (error) => this.#warn(error),
    });
    const ttl = this.#options.registryTtlMs ?? 10_000;
    if (ttl > 0) {
      this.#registration = new Registration(
        this.#transport,
        {
          role: 'worker',
          name: this.name,
          group,
          from: [from],
          to: this.#options.to === undefined ? [] : [this.#options.to],
          command: [this.#options.command, ...(this.#options.args ?? [])].join(' '),
        },
        ttl,
        () => this.#acked,
      );
      await this.#registration.start().catch((error: unknown) => this.#warn(new BridgeError('ERR_BRIDGE_BROKER', `Cannot register in Redis: ${String(error)}.`, { cause: error })));
    }
    this.#loop = this.#read();
    void this.#stage.ended.then((exit) => {
      // The program is done for good on its own (gave up restarting, or a filter that ended).
      if (this.#state === 'running') void this.#shutdown(exit);
    });
  }

  async #read(): Promise<void> {
    const consumer = this.#consumer!;
    while (this.#state === 'running') {
      if (this.#inFlight >= this.#maxInFlight) {
        await new Promise<void>((resolve) => (this.#slot = resolve));
        continue;
      }
      let items: ConsumedItem[];
      try {
        items = await consumer.next();
      } catch {
        return; // closed
      }
      // Read after stop() began: left unacknowledged, they come again to a member of the group.
      if (this.#state !== 'running') return;
      const inputs: StageInput[] = [];
      for (const item of items) {
        this.#received++;
        if (item.message === undefined) {
          this.#skipped++;
          this.#ack(item.id); // reported by the consumer already
          continue;
        }
        const decoded = this.#decodeInput(item);
        if (decoded !== undefined) inputs.push({ id: item.id, value: decoded.value });
      }
      if (inputs.length === 0) continue;
      this.#inFlight += inputs.length;
      consumer.hold(inputs.map((input) => input.id));
      // A whole read at once: one write to a stdio program's pipe instead of one per message.
      await this.#stage.feed(inputs);
    }
  }

  #decodeInput(item: ConsumedItem): { value: unknown } | undefined {
    if (this.#codec === 'text') return { value: item.message };
    // The topics carry JSON; YAML is what the program speaks. A YAML line is accepted too.
    const decoded = decodeLine(this.#codec === 'json' ? jsonCodec : yamlCodec, item.message!);
    if (decoded.ok) return { value: decoded.value };
    this.#skipped++;
    this.#warn(
      new BridgeError('ERR_BRIDGE_MALFORMED', `Entry ${item.id} of '${this.#options.from}' is not ${this.#codec.toUpperCase()} (${decoded.error.message}); it was skipped.`, {
        topic: this.#options.from,
        id: item.id,
      }),
    );
    this.#ack(item.id);
    return undefined;
  }

  /**
   * A worker that leaves with nothing pending removes its name from the group, so that the
   * group's list (`pipe-io ls`) does not fill with the names of every run (HOST:PID by
   * default). With entries still pending it stays: deleting it would drop them from the group,
   * and they must go to another member instead.
   */
  async #leaveGroup(): Promise<void> {
    const { from, group } = this.#options;
    try {
      const pending = (await this.#transport.command(['XPENDING', from, group, '-', '+', '1', this.name])) as unknown[];
      if (Array.isArray(pending) && pending.length === 0) await this.#transport.command(['XGROUP', 'DELCONSUMER', from, group, this.name]);
    } catch {
      // Redis away or the group gone: the name stays, which is harmless.
    }
  }

  #warn(error: BridgeError): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', error);
    else process.emitWarning(error);
  }

  #ack(id: string): void {
    this.#acked++;
    // Acknowledgements of one turn of the event loop go together: one XACK, one promise.
    if (this.#toAck.length === 0) setImmediate(() => this.#flushAcks());
    this.#toAck.push(id);
  }

  #flushAcks(): void {
    const ids = this.#toAck;
    this.#toAck = [];
    if (ids.length > 0) this.#acking = this.#consumer!.ack(ids).catch(() => {});
  }

  #meta(id?: string): WorkerMeta {
    return { host: hostname(), pid: process.pid, worker: this.name, from: this.#options.from, ...(id === undefined ? {} : { id }), time: new Date().toISOString() };
  }

  #stageContext(): StageContext {
    return {
      output: (value, id) => this.#output(value, id),
      done: (id, skipped) => {
        this.#inFlight--;
        this.#consumer?.release([id]);
        if (skipped !== undefined) {
          this.#skipped++;
          this.#warn(skipped);
        }
        this.#ack(id);
        const wake = this.#slot;
        this.#slot = undefined;
        wake?.();
      },
      decodeOutput: (line) => {
        if (this.#codec === 'text') return { value: line };
        const decoded = decodeLine(this.#codec === 'json' ? jsonCodec : yamlCodec, line);
        if (decoded.ok) return { value: decoded.value };
        this.#warn(new BridgeError('ERR_BRIDGE_MALFORMED', `The program wrote a line that is not ${this.#codec.toUpperCase()}; it was skipped (${decoded.error.message}).`));
        return undefined;
      },
      encodeInput: (value) => (this.#codec === 'text' ? (value as string) : this.#codec === 'json' ? JSON.stringify(value) : yamlCodec.encode(value)),
      meta: (id) => this.#meta(id),
      warn: (error) => this.#warn(error),
      restarting: (info) => this.emit('restart', info),
      stderr: process.stderr,
      retried: () => this.#retried++,
    };
  }

  /** Encodes one output value for the topic (JSON for structured codecs, with the metadata member) and appends it. */
  #output(value: unknown, id?: string): Promise<void> {
    let line: string;
    if (this.#codec === 'text') {
      if (typeof value !== 'string') value = JSON.stringify(value);
      line = value as string;
    } else {
      if (this.#metaKey !== undefined && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        value = { ...(value as object), [this.#metaKey]: this.#meta(id) };
      }
      line = JSON.stringify(value) ?? 'null';
    }
    if (line.includes('\n')) {
      this.#warn(new BridgeError('ERR_BRIDGE_MALFORMED', 'The program gave an output holding a newline; it was skipped (a message is one line).'));
      return Promise.resolve();
    }
    this.#emitted++;
    if (this.#options.to === undefined) {
      this.emit('output', line);
      return Promise.resolve();
    }
    const batch = this.#batch ?? this.#newBatch(this.#options.to);
    batch.lines.push(line);
    if (batch.lines.length >= 1000) this.#batch = undefined; // the next output starts a new batch
    return batch.done;
  }

  #newBatch(to: string): { lines: string[]; done: Promise<void> } {
    const lines: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        if (this.#batch?.lines === lines) this.#batch = undefined;
        // Batches are appended one after the other, in the order their outputs came.
        this.#appendChain = this.#appendChain.then(() => this.#transport.append(to, lines).then(resolve, reject));
      });
    });
    this.#batch = { lines, done };
    return this.#batch;
  }

  /**
   * Stops taking entries, lets the program finish what it holds (stdio: its stdin is closed,
   * and it is waited for up to the grace period; reply: every request in flight is answered
   * and its output appended), acknowledges, unregisters and closes. Resolves with how the
   * program ended. Idempotent.
   */
  stop(): Promise<PluginExit> {
    return this.#shutdown();
  }

  #shutdown(ended?: PluginExit): Promise<PluginExit> {
    this.#stopping ??= (async () => {
      if (this.#state === 'idle') {
        this.#state = 'stopped';
        await this.#transport.close();
        return { code: null, signal: null, restarts: 0 };
      }
      this.#state = 'draining';
      const wake = this.#slot;
      this.#slot = undefined;
      wake?.();
      // A program that stopped reading its stdin holds the loop in a write: wait for it only so long.
      await Promise.race([this.#loop, sleep(this.#options.gracePeriod ?? 5000)]);
      await this.#stage.drain();
      const exit = ended ?? (await this.#stage.stop());
      await this.#appendChain;
      this.#flushAcks();
      await this.#acking;
      this.#consumer?.dispose();
      await this.#registration?.stop();
      await this.#reader?.close();
      await this.#leaveGroup();
      await this.#transport.close();
      this.#state = 'stopped';
      this.emit('stopped', exit);
      return exit;
    })();
    return this.#stopping;
  }
}
