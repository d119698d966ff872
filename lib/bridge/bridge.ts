/**
 * A FIFO pair on one machine joined to a topic shared by many: what local clients write into
 * the in pipe is appended to the topic; what the topic carries is written into the out pipe.
 *
 * ```
 *  host A                                   Redis                          host B
 *  client ─▶ in ─▶ PipeBridge ──XADD──▶  stream "chat"  ──XREAD(GROUP)──▶ PipeBridge ─▶ out ─▶ client
 * ```
 * Delivery on the out side is at least once: an entry is acknowledged (queue) or its position
 * stored (broadcast) only after `send()` resolved, i.e. once the line is in the out pipe.
 * A bridge that dies loses nothing that was not yet in its pipe; what it had in hand is
 * delivered again (by itself after a restart, or by another member of its group).
 * @module
 */
import { once } from 'node:events';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PipeIOError } from '../errors.js';
import type { OversizeInfo, RecreateInfo } from '../events.js';
import { PipeServerBase } from '../lifecycle.js';
import { type HandlerOptions, type PipeIOServerOptions, resolveOptions } from '../options.js';
import { PipeReaderServer } from '../reader.js';
import { PipeIOServer } from '../server.js';
import { PipeWriterServer } from '../writer.js';
import { type ConsumedItem, TopicConsumer } from './consumer.js';
import { BridgeError } from './errors.js';
import { RedisTransport, type RedisTransportOptions } from './redis.js';
import type { StartPosition, Subscription, TopicReader, Transport, TransportState } from './transport.js';

/** Options of {@link PipeBridge}; the pipe options (`permissions`, `maxMessageBytes`, `highWaterMark`…) apply to its FIFOs. */
export interface PipeBridgeOptions extends Omit<PipeIOServerOptions, keyof HandlerOptions> {
  /** The topic: a Redis stream key. */
  topic: string;
  /** The FIFO local clients write to; its lines go to the topic. Omit for a bridge that only delivers. */
  inPipe?: string | undefined;
  /** The FIFO local clients read; the topic's messages come out there. Omit for a bridge that only publishes. */
  outPipe?: string | undefined;
  /**
   * Queue delivery in this consumer group: each message goes to one bridge of the group.
   * Without a group, broadcast: every bridge gets every message.
   */
  group?: string | undefined;
  /**
   * This bridge's name: its consumer name in the group, or the key its broadcast position is
   * kept under. It must be unique and stable across restarts, so that a restarted bridge takes
   * back what it held. Default `<hostname>:<absolute out pipe path>`, unique on a machine
   * because a live server holds a lock on its pipe.
   */
  name?: string | undefined;
  /** Where a new group, or a name never seen, starts reading. Default `'new'`. */
  from?: StartPosition | undefined;
  /** The Redis URL or transport options. Default `$REDIS_URL`, else `redis://127.0.0.1:6379`. */
  redis?: string | RedisTransportOptions | undefined;
  /** Another transport (or a shared one). The bridge does not close a transport it was given. */
  transport?: Transport | undefined;
  /** Most entries read from the topic at once. Default 512. */
  batchSize?: number | undefined;
  /** Longest wait of one read, in ms. Default 1000. */
  blockMs?: number | undefined;
  /**
   * Queue mode: entries that a member of the group has held this long (in ms) without
   * acknowledging them are taken over by another member: it died. Default 30000.
   */
  claimIdleMs?: number | undefined;
  /** How long `stop()` waits for lines in hand to be appended and acknowledgements to be sent, in ms. Default 5000. */
  stopTimeoutMs?: number | undefined;
}

/** Counts of what a bridge did since it was made. */
export interface BridgeStats {
  /** Lines read from the in pipe and appended to the topic. */
  readonly appended: number;
  /** Messages written into the out pipe. */
  readonly delivered: number;
  /** Entries of the topic skipped as malformed or lost. */
  readonly skipped: number;
}

/** Events of {@link PipeBridge}. None is `'error'`: nothing here crashes the host. */
export interface BridgeEvents {
  /** The connection to the broker changed state: `connecting`, `ready`, `reconnecting`, `closed`. */
  state: [state: TransportState];
  /** Something went wrong that the bridge survives. With no listener, it goes to `process.emitWarning`. */
  warning: [error: BridgeError | PipeIOError];
  /** A line longer than `maxMessageBytes` in the in pipe was dropped. */
  oversize: [info: OversizeInfo];
  /** A deleted pipe came back. */
  recreate: [info: RecreateInfo];
  /** The bridge stopped. */
  close: [];
}

/** Lines appended in one script call: large enough to amortise the round trip, small enough not to stall Redis. */
const MAX_APPEND_LINES = 1000;
const MAX_APPEND_CHARS = 1 << 20;

/** What the bridge needs of the server that owns the out pipe. */
interface Sink {
  send(message: string): Promise<void>;
  readonly needsDrain: boolean;
  readonly queuedBytes: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Option ${name} must be an integer >= 1, got ${String(value)}.`);
  return value;
}

function nonEmpty(name: string, value: string | undefined): void {
  if (value !== undefined && (typeof value !== 'string' || value === '')) throw new TypeError(`Option ${name} must be a non-empty string.`);
}

/**
 * Bridges a FIFO pair to a topic of Redis Streams (or of another {@link Transport}).
 *
 * ```ts
 * // host A: lines written into /run/app/to-chat are published
 * const a = new PipeBridge({ topic: 'chat', inPipe: '/run/app/to-chat', redis: 'redis://hub:6379' });
 * // host B: every message of the topic comes out of /run/app/from-chat
 * const b = new PipeBridge({ topic: 'chat', outPipe: '/run/app/from-chat', redis: 'redis://hub:6379' });
 * await Promise.all([a.start(), b.start()]);
 * ```
 * `start()` creates the FIFOs once Redis answers, and rejects with `ERR_BRIDGE_CONNECT` if it
 * does not within `connectTimeoutMs`; later outages are survived: reading from the in pipe
 * pauses (clients block once the pipe is full) and resumes with the connection.
 */
export class PipeBridge extends PipeServerBase<BridgeEvents> {
  /** The topic. */
  readonly topic: string;
  /** `'queue'` with a group, `'broadcast'` without. */
  readonly mode: 'queue' | 'broadcast';
  /** The consumer name or broadcast position name (see {@link PipeBridgeOptions.name}); undefined without an out pipe. */
  readonly name: string | undefined;
  readonly #options: PipeBridgeOptions;
  readonly #maxMessageBytes: number;
  readonly #batchSize: number;
  readonly #blockMs: number;
  readonly #claimIdleMs: number;
  readonly #stopTimeoutMs: number;
  readonly #server: PipeIOServer | PipeReaderServer | PipeWriterServer;
  #transport: Transport | undefined;
  #reader: TopicReader | undefined;
  #consumer: TopicConsumer | undefined;
  #pumps: Promise<void>[] = [];
  #closing = false;
  #abort = new AbortController();
  #connection: TransportState = 'closed';
  #appended = 0;
  #delivered = 0;
  #skipped = 0;

  /** @param options - see {@link PipeBridgeOptions} */
  constructor(options: PipeBridgeOptions) {
    super(options.signal);
    if (typeof options.topic !== 'string' || options.topic === '') throw new TypeError('Option topic must be a non-empty string.');
    nonEmpty('inPipe', options.inPipe);
    nonEmpty('outPipe', options.outPipe);
    nonEmpty('group', options.group);
    nonEmpty('name', options.name);
    if (options.inPipe === undefined && options.outPipe === undefined) throw new TypeError('A bridge needs an inPipe, an outPipe, or both.');
    if (options.from !== undefined && options.from !== 'new' && options.from !== 'start') throw new TypeError(`Option from must be 'new' or 'start'.`);
    this.#options = options;
    this.topic = options.topic;
    this.mode = options.group === undefined ? 'broadcast' : 'queue';
    this.name = options.outPipe === undefined ? undefined : (options.name ?? `${hostname()}:${resolve(options.outPipe)}`);
    this.#maxMessageBytes = resolveOptions(options).maxMessageBytes;
    this.#batchSize = positiveInteger('batchSize', options.batchSize, 512);
    this.#blockMs = positiveInteger('blockMs', options.blockMs, 1000);
    this.#claimIdleMs = positiveInteger('claimIdleMs', options.claimIdleMs, 30_000);
    this.#stopTimeoutMs = positiveInteger('stopTimeoutMs', options.stopTimeoutMs, 5000);
    // An abort stops the bridge, which stops its pipes in order; the pipes must not stop on their own under it.
    const pipeOptions: PipeIOServerOptions = { ...options, signal: undefined };
    const { inPipe, outPipe } = options;
    this.#server =
      inPipe !== undefined && outPipe !== undefined
        ? new PipeIOServer(inPipe, outPipe, pipeOptions)
        : inPipe !== undefined
          ? new PipeReaderServer(inPipe, pipeOptions)
          : new PipeWriterServer(outPipe!, pipeOptions);
    const server = this.#server as PipeIOServer;
    server.on('warning', (error) => this.warn(error));
    server.on('oversize', (info) => this.emit('oversize', info));
    server.on('recreate', (info) => this.emit('recreate', info));
  }

  /** Where the connection to the broker stands. */
  get connection(): TransportState {
    return this.#connection;
  }

  /** What the bridge did since it was made. */
  get stats(): BridgeStats {
    return { appended: this.#appended, delivered: this.#delivered, skipped: this.#skipped };
  }

  /** Bytes queued for the out pipe and not yet in it (0 without an out pipe): stays bounded when the local reader is slow. */
  get queuedBytes(): number {
    return this.#sink?.queuedBytes ?? 0;
  }

  get #sink(): Sink | undefined {
    return this.#options.outPipe === undefined ? undefined : (this.#server as PipeIOServer | PipeWriterServer);
  }

  #onState = (state: TransportState): void => {
    this.#connection = state;
    this.emit('state', state);
  };

  #onWarning = (error: BridgeError): void => this.warn(error);

  protected override async open(signal: AbortSignal): Promise<void> {
    this.#closing = false;
    this.#abort = new AbortController();
    const transport = (this.#transport = this.#options.transport ?? this.#makeTransport());
    transport.on('state', this.#onState);
    transport.on('warning', this.#onWarning);
    if (this.#connection !== transport.state) this.#onState(transport.state);
    // stop() while Redis is still out of reach: give up now rather than at the connect timeout.
    await abortable(transport.connect(), signal);
    if (this.#sink !== undefined) {
      const subscription: Subscription =
        this.mode === 'queue'
          ? { mode: 'queue', topic: this.topic, group: this.#options.group!, consumer: this.name!, from: this.#options.from }
          : { mode: 'broadcast', topic: this.topic, name: this.name, from: this.#options.from };
      this.#reader = await transport.subscribe(subscription);
      this.#consumer = new TopicConsumer(this.#reader, {
        count: this.#batchSize,
        blockMs: this.#blockMs,
        claimIdleMs: this.#claimIdleMs,
        maxMessageBytes: this.#maxMessageBytes,
        warn: (error) => this.warn(error),
      });
    }
    const server = this.#server;
    // Iterating before start: no line can arrive before someone listens.
    const lines = server instanceof PipeWriterServer ? undefined : server.messages();
    try {
      await server.start();
    } catch (error) {
      await lines?.return?.();
      throw error;
    }
    if (lines !== undefined) this.#pumps.push(this.#pumpIn(lines, transport));
    if (this.#consumer !== undefined) this.#pumps.push(this.#pumpOut(this.#consumer, this.#sink!));
  }

  #makeTransport(): Transport {
    const redis = this.#options.redis;
    return new RedisTransport(typeof redis === 'string' ? { url: redis } : (redis ?? {}));
  }

  /**
   * In pipe → topic. Lines that arrived together go in one append; one append at a time, so
   * when Redis is slow or away the server's iterator fills up and pauses reading the pipe.
   */
  async #pumpIn(lines: AsyncIterableIterator<string>, transport: Transport): Promise<void> {
    const TICK = Symbol('tick');
    let pending: Promise<IteratorResult<string>> | undefined = lines.next();
    while (pending !== undefined) {
      const first = await pending;
      if (first.done) return;
      const batch = [first.value];
      let chars = first.value.length;
      pending = undefined;
      // setImmediate runs after the microtasks that hand over lines already read: "this tick".
      const tick = new Promise<typeof TICK>((done) => setImmediate(() => done(TICK)));
      for (;;) {
        if (batch.length >= MAX_APPEND_LINES || chars >= MAX_APPEND_CHARS) {
          pending = lines.next();
          break;
        }
        const next = lines.next();
        const result = await Promise.race([next, tick]);
        if (result === TICK) {
          pending = next;
          break;
        }
        if (result.done) break;
        batch.push(result.value);
        chars += result.value.length;
      }
      try {
        await transport.append(this.topic, batch);
        this.#appended += batch.length;
      } catch (error) {
        this.warn(
          new BridgeError('ERR_BRIDGE_LOST', `${batch.length} line(s) read from '${this.#options.inPipe}' were not appended to '${this.topic}': ${(error as Error).message}`, {
            topic: this.topic,
            cause: error,
          }),
        );
        return;
      }
    }
  }

  /** Topic → out pipe: one batch in hand at a time, acknowledged once it is in the pipe. */
  async #pumpOut(consumer: TopicConsumer, sink: Sink): Promise<void> {
    let acking: Promise<void> = Promise.resolve();
    while (!this.#closing) {
      if (sink.needsDrain) {
        await once(this.#server, 'drain', { signal: this.#abort.signal }).catch(() => {});
        continue;
      }
      let items: ConsumedItem[];
      try {
        items = await consumer.next();
      } catch (error) {
        if (this.#closing || (error instanceof BridgeError && error.code === 'ERR_BRIDGE_CLOSED')) break;
        this.warn(new BridgeError('ERR_BRIDGE_BROKER', `Reading '${this.topic}' failed: ${(error as Error).message}`, { topic: this.topic, cause: error }));
        await sleep(200);
        continue;
      }
      if (items.length === 0) continue;
      const ids = items.map((item) => item.id);
      consumer.hold(ids);
      let delivered: number;
      try {
        delivered = await this.#deliver(items, sink);
      } finally {
        consumer.release(ids);
      }
      // One acknowledgement in flight at most: it overlaps the next read without piling up.
      await acking;
      if (delivered > 0) acking = consumer.ack(ids.slice(0, delivered)).catch(() => {});
      if (delivered < items.length) break;
    }
    await acking;
    consumer.dispose();
  }

  /**
   * Writes a batch into the out pipe; returns how many entries from the first one on are
   * done (in the pipe, or skipped), which is what may be acknowledged. A failed write is
   * tried again; only stopping leaves a batch unfinished.
   */
  async #deliver(items: readonly ConsumedItem[], sink: Sink): Promise<number> {
    const done = new Array<boolean>(items.length).fill(false);
    let todo = items.map((_, index) => index);
    for (;;) {
      const results = await Promise.allSettled(todo.map((index) => (items[index]!.message === undefined ? undefined : sink.send(items[index]!.message!))));
      const failed: number[] = [];
      results.forEach((result, k) => {
        const index = todo[k]!;
        if (result.status === 'rejected') {
          failed.push(index);
          return;
        }
        done[index] = true;
        if (items[index]!.message === undefined) this.#skipped++;
        else this.#delivered++;
      });
      // The server has reported the write error; the line is still ours to deliver.
      if (failed.length === 0 || this.#closing) break;
      await sleep(100);
      todo = failed;
    }
    let prefix = 0;
    while (prefix < done.length && done[prefix]) prefix++;
    return prefix;
  }

  protected override async close(): Promise<void> {
    this.#closing = true;
    this.#abort.abort();
    const transport = this.#transport;
    const reader = this.#reader;
    this.#reader = undefined;
    this.#consumer = undefined;
    // The reader first, to end a blocked read now; acknowledgements still go out through the transport.
    const readerClosed = reader?.close();
    // Stopping the server ends its iterator (the in pump appends what it holds) and settles pending sends.
    await this.#server.stop();
    await readerClosed;
    const pumps = Promise.all(this.#pumps);
    this.#pumps = [];
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      pumps.then(() => false),
      new Promise<boolean>((done) => (timer = setTimeout(() => done(true), this.#stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (late) {
      this.warn(
        new BridgeError('ERR_BRIDGE_CONNECTION', `Stopping: Redis did not take the last lines and acknowledgements within ${this.#stopTimeoutMs} ms; giving up on them.`, {
          topic: this.topic,
        }),
      );
    }
    if (transport !== undefined) {
      if (this.#options.transport === undefined) await transport.close();
      transport.off('state', this.#onState);
      transport.off('warning', this.#onWarning);
      // Our own transport is closed now, which ends the pumps; a shared one may keep them going.
      if (late && this.#options.transport === undefined) await pumps;
    }
    this.#transport = undefined;
    if (this.#connection !== 'closed') this.#onState('closed');
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // The loser's rejection is expected; the caller hears the winner.
  promise.catch(() => {});
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort!));
}
