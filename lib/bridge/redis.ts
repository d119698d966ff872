/**
 * Redis Streams as a {@link Transport}, with the official client (`redis`, node-redis).
 *
 * What it keeps in Redis:
 * - the topic is a stream whose key is the topic's name; each message is one entry with one
 *   field (`message` by default): `XADD topic * message "…"`, so `redis-cli XRANGE topic - +`
 *   shows the traffic and any Redis client can take part;
 * - `pipe-io:producer:<uuid>`: the last batch number each running transport appended, so that
 *   a batch sent again after a lost reply is not appended twice (expires after a day);
 * - `pipe-io:position:<topic>:<name>`: the last entry a named broadcast reader delivered.
 *
 * Why the broadcast position is kept in Redis rather than in a local state file: it then shares
 * the stream's fate. If Redis loses its data, position and stream are lost together and the
 * reader starts over consistently; a local file would survive and point into a stream that no
 * longer exists (or miss it when the bridge moves to another machine or container). It costs one
 * `SET` per batch on a connection that is open anyway, and needs no disk of its own.
 *
 * Two connections per reader: blocking reads (`XREADGROUP … BLOCK`) hold a connection, so each
 * reader gets a duplicate of the main one; appends, acknowledgements and claims share the main one.
 * Both reconnect by themselves (exponential back-off up to `reconnectMaxDelayMs`); commands
 * issued meanwhile wait for the connection to come back.
 *
 * Not for Redis Cluster: the append script touches the stream and the producer key together.
 * @module
 */
import { messageOf } from '../errors.js';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { BridgeError, closedError } from './errors.js';
import { StreamAppender } from './redis-append.js';
import { type Failure, Link, type RedisConnection, type RedisModule, loadRedis, redisUrlProblem, safeUrl } from './redis-link.js';
import { RedisBroadcastReader, RedisQueueReader, type ReaderContext, type RedisReader } from './redis-readers.js';
import type { Subscription, TopicReader, Transport, TransportEvents, TransportState } from './transport.js';

export { REDIS_URL_FORM, compareStreamIds, redisUrlProblem } from './redis-link.js';

/** Options of {@link RedisTransport}. */
export interface RedisTransportOptions {
  /** `redis[s]://[[user][:password]@]host[:port][/db]`. Default `$REDIS_URL`, else `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * More options for node-redis's `createClient` (TLS, credentials, `socket.connectTimeout`…).
   * `RESP` and the reply type mapping are the transport's own and cannot be changed.
   */
  clientOptions?: Record<string, unknown>;
  /** Prefix of the keys the transport keeps besides the streams. Default `'pipe-io:'`. */
  keyPrefix?: string;
  /** Name of the entry field holding the message. Default `'message'`. */
  field?: string;
  /** Trims each stream to about this many entries on append (`MAXLEN ~`). Default: no trimming. */
  maxLen?: number;
  /** How long {@link RedisTransport.connect} tries before it gives up, in ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Longest wait between two reconnection attempts, in ms. Default 2000. */
  reconnectMaxDelayMs?: number;
  /** How long {@link RedisTransport.close} waits for acknowledgements and replies still due, in ms. Default 2000. */
  closeTimeoutMs?: number;
}

/**
 * A {@link Transport} on Redis Streams (Redis 7 or later, for `XAUTOCLAIM`'s reply).
 *
 * ```ts
 * const transport = new RedisTransport({ url: 'redis://redis.internal:6379' });
 * await transport.append('jobs', ['one', 'two']);
 * const reader = await transport.subscribe({ mode: 'queue', topic: 'jobs', group: 'workers', consumer: 'w1' });
 * for (const entry of await reader.read({ count: 100, blockMs: 1000 })) … await reader.ack([entry.id]);
 * await transport.close();
 * ```
 */
export class RedisTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly #url: string;
  readonly #options: RedisTransportOptions;
  readonly #keyPrefix: string;
  readonly #field: string;
  readonly #connectTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  #redis: RedisModule | undefined;
  #main: RedisConnection | undefined;
  #connecting: Promise<void> | undefined;
  #links = new Set<Link>();
  #readers = new Set<RedisReader>();
  #state: TransportState = 'connecting';
  #everReady = false;
  #closed = false;
  readonly #appender: StreamAppender;
  #lastError: unknown;
  #outageWarnedAt = 0;
  /** Aborted by close(): a connect still waiting for Redis gives up at once instead of at its timeout. */
  readonly #closing = new AbortController();

  /** @param options - see {@link RedisTransportOptions} */
  constructor(options: RedisTransportOptions = {}) {
    super();
    this.#options = options;
    this.#url = options.url ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
    const problem = redisUrlProblem(this.#url);
    if (problem !== undefined) {
      const from = options.url !== undefined ? 'The Redis URL' : 'REDIS_URL';
      throw new BridgeError('ERR_BRIDGE_USAGE', `${from} ${problem}.`);
    }
    this.#keyPrefix = options.keyPrefix ?? 'pipe-io:';
    this.#field = options.field ?? 'message';
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    if (options.maxLen !== undefined && (!Number.isInteger(options.maxLen) || options.maxLen < 1)) {
      throw new RangeError(`Option maxLen must be an integer >= 1, got ${String(options.maxLen)}.`);
    }
    const transport = this;
    this.#appender = new StreamAppender(
      {
        connection: async () => {
          await this.connect();
          return this.#main!;
        },
        classify: (error) => this.#classify(error),
        warn: (error) => this.#warn(error),
        get closed() {
          return transport.#closed;
        },
      },
      `${this.#keyPrefix}producer:${randomUUID()}`,
      this.#field,
      options.maxLen,
    );
  }

  /** The Redis URL, password hidden. */
  get url(): string {
    return safeUrl(this.#url);
  }

  /** Where the connections stand: `'ready'` only when every one of them is. */
  get state(): TransportState {
    return this.#state;
  }

  /** Connects the main connection; see {@link Transport.connect}. */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError('Cannot connect'));
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const redis = (this.#redis ??= await loadRedis());
    const maxDelay = this.#options.reconnectMaxDelayMs ?? 2000;
    const extra = this.#options.clientOptions ?? {};
    const createClient = redis.createClient as (options: Record<string, unknown>) => unknown;
    const client = createClient({
      ...extra,
      url: this.#url,
      RESP: 2,
      socket: {
        ...(extra['socket'] as object | undefined),
        // Jitter keeps a fleet of bridges from reconnecting in lockstep after a Redis restart.
        reconnectStrategy: (retries: number) => Math.round(Math.min(50 * 2 ** Math.min(retries, 10), maxDelay) * (0.8 + Math.random() * 0.4)),
      },
      // Bytes, not strings: a message that is not UTF-8 must be seen as such, not patched with U+FFFD.
      commandOptions: { typeMapping: { [redis.RESP_TYPES.BLOB_STRING]: Buffer } },
    }) as RedisConnection;
    this.#main = client;
    await this.#open(client);
  }

  /** Connects `client`, tracking its state; gives up after the connect timeout. */
  async #open(client: RedisConnection): Promise<void> {
    const link = new Link(client, (changed, error) => this.#linkChanged(changed, error));
    this.#links.add(link);
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), this.#connectTimeoutMs);
      onClose = () => reject(closedError('Cannot connect'));
      this.#closing.signal.addEventListener('abort', onClose, { once: true });
    });
    try {
      await Promise.race([client.connect(), timeout]);
    } catch (error) {
      this.#links.delete(link);
      client.destroy();
      if (this.#closing.signal.aborted) throw closedError('Cannot connect');
      const cause = this.#lastError ?? error;
      throw new BridgeError(
        'ERR_BRIDGE_CONNECT',
        `Cannot reach Redis at ${this.url} within ${this.#connectTimeoutMs} ms (${messageOf(cause)}). Is redis-server running there?`,
        { cause },
      );
    } finally {
      clearTimeout(timer);
      this.#closing.signal.removeEventListener('abort', onClose!);
    }
    if (this.#closed) {
      client.destroy();
      throw closedError('Cannot connect');
    }
  }

  #linkChanged(link: Link, error?: unknown): void {
    if (error !== undefined) this.#lastError = error;
    if (link.state === 'closed') this.#links.delete(link);
    let next: TransportState;
    if (this.#closed) next = 'closed';
    // An empty set is not a ready one: a connection that failed (or never came) leaves it empty.
    else if (this.#links.size > 0 && [...this.#links].every((each) => each.state === 'ready')) next = 'ready';
    else next = this.#everReady ? 'reconnecting' : 'connecting';
    if (next === 'ready') {
      this.#everReady = true;
      this.#outageWarnedAt = 0;
    }
    // One warning when an outage starts, then one every 30 s while it lasts: enough to be seen, not a flood.
    if (error !== undefined && next !== 'ready' && next !== 'closed' && Date.now() - this.#outageWarnedAt > 30_000) {
      this.#outageWarnedAt = Date.now();
      const verb = this.#everReady ? 'Lost the connection to' : 'Cannot reach';
      this.#warn(new BridgeError('ERR_BRIDGE_CONNECTION', `${verb} Redis at ${this.url} (${messageOf(error)}); reconnecting.`, { cause: error }));
    }
    if (next !== this.#state) {
      this.#state = next;
      this.emit('state', next);
    }
  }

  #warn(error: BridgeError): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', error);
    else process.emitWarning(error);
  }

  #classify(error: unknown): Failure {
    if (this.#closed) return 'closed';
    if (this.#redis && error instanceof this.#redis.ErrorReply) return 'reply';
    return 'connection';
  }

  /** Appends a batch; see {@link Transport.append}. Batches go one at a time, in call order. */
  append(topic: string, messages: readonly string[]): Promise<void> {
    return this.#appender.append(topic, messages);
  }

  /**
   * @internal Sends one command on the main connection (connecting first): for the worker
   * registry and `pipe-io ls`, which read and write keys besides the streams. Fails as
   * node-redis does; no retry.
   */
  async command(args: ReadonlyArray<string>): Promise<unknown> {
    await this.connect();
    return this.#main!.sendCommand(args);
  }

  /** The prefix of the keys kept besides the streams. */
  get keyPrefix(): string {
    return this.#keyPrefix;
  }

  /** Opens a reader; see {@link Transport.subscribe}. */
  async subscribe(subscription: Subscription): Promise<TopicReader> {
    await this.connect();
    const blocking = this.#main!.duplicate();
    await this.#open(blocking);
    const context = this.#context();
    let reader: RedisReader;
    try {
      reader =
        subscription.mode === 'queue'
          ? await RedisQueueReader.open(context, subscription, blocking)
          : await RedisBroadcastReader.open(context, subscription, blocking);
    } catch (error) {
      blocking.destroy();
      throw error;
    }
    this.#readers.add(reader);
    return reader;
  }

  #context(): ReaderContext {
    const transport = this;
    return {
      main: this.#main!,
      field: Buffer.from(this.#field),
      keyPrefix: this.#keyPrefix,
      closeTimeoutMs: this.#closeTimeoutMs,
      classify: (error) => this.#classify(error),
      warn: (error) => this.#warn(error),
      get closed() {
        return transport.#closed;
      },
      forget: (reader) => this.#readers.delete(reader),
    };
  }

  /** Closes the readers, then the connection; see {@link Transport.close}. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closing.abort();
    await Promise.all([...this.#readers].map((reader) => reader.close()));
    this.#closed = true;
    const main = this.#main;
    if (main) {
      // Graceful first, so that the last replies arrive; a dead server cannot hold us up.
      await Promise.race([main.close().catch(() => {}), sleep(this.#closeTimeoutMs)]);
      main.destroy();
    }
    for (const link of this.#links) link.client.destroy();
    this.#links.clear();
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.emit('state', 'closed');
    }
  }
}
