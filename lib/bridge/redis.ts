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
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { BridgeError, closedError } from './errors.js';
import type {
  BroadcastSubscription,
  ClaimOptions,
  QueueSubscription,
  ReadOptions,
  Subscription,
  TopicEntry,
  TopicReader,
  Transport,
  TransportEvents,
  TransportState,
} from './transport.js';

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

/** The part of a node-redis client the transport uses. */
interface RedisConnection {
  connect(): Promise<unknown>;
  sendCommand(args: ReadonlyArray<string | Buffer>): Promise<unknown>;
  duplicate(): RedisConnection;
  destroy(): void;
  close(): Promise<void>;
  on(event: string, listener: (arg: unknown) => void): unknown;
}

type RedisModule = typeof import('redis');
let redisModule: Promise<RedisModule> | undefined;
// Loaded on first connect, so that importing pipe-io-server costs nothing to those who never bridge.
const loadRedis = (): Promise<RedisModule> => (redisModule ??= import('redis'));

/**
 * Appends one batch exactly once. KEYS: stream, producer key. ARGV: batch number, TTL of the
 * producer key, field, MAXLEN ('' for none), messages… A batch number not above the last one
 * this producer appended means the batch is already in: its reply was lost, not its effect.
 * The producer key is written last, so a batch cut short by an error is appended again
 * (duplicates) rather than skipped (loss).
 */
const APPEND_SCRIPT = `local seq = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') >= seq then return 0 end
for i = 5, #ARGV do
  if ARGV[4] == '' then
    redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[i])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', ARGV[3], ARGV[i])
  end
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return #ARGV - 4`;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');
const PRODUCER_TTL_SECONDS = 24 * 3600;

/** Stream IDs are `ms-seq`: compare them as two numbers, not as strings. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  if (as.length !== bs.length) return as.length - bs.length;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
}

/** The form a Redis URL must have, for messages. */
export const REDIS_URL_FORM = 'redis[s]://[user:password@]host[:port][/db]';

/**
 * What is wrong with a Redis URL, or `undefined` if it has the form node-redis accepts:
 * {@link REDIS_URL_FORM}. Checked before connecting, so that a typo is reported as such
 * instead of as `Invalid URL` from deep inside the client, or as an endless "reconnecting".
 * @param url - the URL as the user gave it
 */
export function redisUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not a URL; expected ${REDIS_URL_FORM}`;
  }
  const shown = safeUrl(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `'${shown}' has the scheme '${parsed.protocol}'; expected ${REDIS_URL_FORM}`;
  if (parsed.hostname === '') return `'${shown}' names no host; expected ${REDIS_URL_FORM}`;
  if (!/^\/?(\d+)?$/.test(parsed.pathname)) return `'${shown}' has the path '${parsed.pathname}', which is not a database number; expected ${REDIS_URL_FORM}`;
  return undefined;
}

/** Hides the password of a URL that goes into a message. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How the transport sees one failed command. */
type Failure = 'closed' | 'reply' | 'connection';

/** @internal What readers need from their transport. */
interface ReaderContext {
  readonly main: RedisConnection;
  readonly field: Buffer;
  readonly keyPrefix: string;
  readonly closeTimeoutMs: number;
  classify(error: unknown): Failure;
  warn(error: BridgeError): void;
  readonly closed: boolean;
  forget(reader: RedisReader): void;
}

/** One connection and the state it reports. */
class Link {
  state: TransportState = 'connecting';
  #everReady = false;

  constructor(
    readonly client: RedisConnection,
    onChange: (link: Link, error?: unknown) => void,
  ) {
    client.on('ready', () => {
      this.#everReady = true;
      this.state = 'ready';
      onChange(this);
    });
    client.on('error', (error) => {
      // node-redis reports every failed attempt; the state says whether it was a loss or a retry.
      if (this.state === 'closed') return;
      this.state = this.#everReady ? 'reconnecting' : 'connecting';
      onChange(this, error);
    });
    client.on('reconnecting', () => {
      if (this.state === 'closed') return;
      this.state = this.#everReady ? 'reconnecting' : 'connecting';
      onChange(this);
    });
    client.on('end', () => {
      this.state = 'closed';
      onChange(this);
    });
  }
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
  readonly #producerKey: string;
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
  #seq = 0;
  #appendChain: Promise<unknown> = Promise.resolve();
  #useEval = false;
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
    this.#producerKey = `${this.#keyPrefix}producer:${randomUUID()}`;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    if (options.maxLen !== undefined && (!Number.isInteger(options.maxLen) || options.maxLen < 1)) {
      throw new RangeError(`Option maxLen must be an integer >= 1, got ${String(options.maxLen)}.`);
    }
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
    const run = this.#appendChain.then(() => this.#append(topic, messages));
    this.#appendChain = run.catch(() => {});
    return run;
  }

  async #append(topic: string, messages: readonly string[]): Promise<void> {
    if (messages.length === 0) return;
    await this.connect();
    const seq = String(++this.#seq);
    const tail = [this.#producerKey, seq, String(PRODUCER_TTL_SECONDS), this.#field, String(this.#options.maxLen ?? ''), ...messages];
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw closedError(`Cannot append to '${topic}'`, topic);
      try {
        await this.#main!.sendCommand(this.#useEval ? ['EVAL', APPEND_SCRIPT, '2', topic, ...tail] : ['EVALSHA', APPEND_SHA, '2', topic, ...tail]);
        return;
      } catch (error) {
        const failure = this.#classify(error);
        if (failure === 'closed') throw closedError(`Cannot append to '${topic}'`, topic);
        if (failure === 'reply' && messageOf(error).startsWith('NOSCRIPT')) {
          // A restarted Redis has an empty script cache; EVAL loads the script again.
          this.#useEval = true;
          continue;
        }
        this.#useEval = false;
        if (failure === 'reply') {
          this.#warn(new BridgeError('ERR_BRIDGE_BROKER', `Redis refused to append to '${topic}' (${messageOf(error)}); retrying.`, { topic, cause: error }));
        }
        // The outcome of a command cut by a lost connection is unknown: the batch number makes the retry safe.
        await sleep(Math.min(50 * 2 ** Math.min(attempt, 6), 2000));
      }
    }
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

/** Splits `[id, [field, value, …] | null]` entries; the message is the configured field's value. */
function parseEntries(list: unknown, field: Buffer): TopicEntry[] {
  if (!Array.isArray(list)) return [];
  const entries: TopicEntry[] = [];
  for (const raw of list) {
    if (!Array.isArray(raw)) continue; // XAUTOCLAIM in Redis 6.2 puts nil for deleted entries
    const id = text(raw[0]);
    const fields: unknown = raw[1];
    if (!Array.isArray(fields)) {
      entries.push({ id, payload: undefined, deleted: true });
      continue;
    }
    let payload: Uint8Array | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const key: unknown = fields[i];
      if (Buffer.isBuffer(key) && key.equals(field) && Buffer.isBuffer(fields[i + 1])) {
        payload = fields[i + 1] as Buffer;
        break;
      }
    }
    entries.push({ id, payload });
  }
  return entries;
}

/** The entries of the one stream in an `XREAD`/`XREADGROUP` reply (`null` when none came). */
function parseStreams(reply: unknown, field: Buffer): TopicEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const stream: unknown = reply[0];
  return Array.isArray(stream) ? parseEntries(stream[1], field) : [];
}

/** @internal Base of both readers: the blocking connection, closing, error handling. */
abstract class RedisReader implements TopicReader {
  protected closed = false;

  constructor(
    protected readonly context: ReaderContext,
    readonly subscription: Subscription,
    protected readonly blocking: RedisConnection,
  ) {}

  get topic(): string {
    return this.subscription.topic;
  }

  abstract read(options: ReadOptions): Promise<TopicEntry[]>;
  abstract ack(ids: readonly string[]): Promise<void>;
  abstract claim(options: ClaimOptions): Promise<TopicEntry[]>;
  abstract inProgress(ids: readonly string[]): Promise<void>;
  /** Sends what is still due, for at most `closeTimeoutMs`. */
  protected abstract flush(): Promise<void>;

  protected assertOpen(): void {
    if (this.closed || this.context.closed) throw closedError(`Cannot read '${this.topic}'`, this.topic);
  }

  /**
   * What to do after a failed command: throws when closed; after a refusal, warns and waits
   * a little longer each time; after a lost connection, waits a moment (commands wait for
   * the reconnection anyway). Returns the failure kind.
   */
  protected async recover(error: unknown, what: string, attempt: number): Promise<Failure> {
    const failure = this.closed ? 'closed' : this.context.classify(error);
    if (failure === 'closed') throw closedError(`Cannot read '${this.topic}'`, this.topic);
    if (failure === 'reply') {
      this.context.warn(
        new BridgeError('ERR_BRIDGE_BROKER', `Redis refused to ${what} '${this.topic}' (${messageOf(error)}); retrying.`, { topic: this.topic, cause: error }),
      );
    }
    await sleep(failure === 'reply' ? Math.min(100 * 2 ** Math.min(attempt, 5), 3000) : 20);
    if (this.closed) throw closedError(`Cannot read '${this.topic}'`, this.topic);
    return failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Destroying the blocking connection is what ends a read blocked in Redis right now.
    this.blocking.destroy();
    await Promise.race([this.flush(), sleep(this.context.closeTimeoutMs)]);
    this.context.forget(this);
  }
}

/** Queue mode: a consumer group member. */
class RedisQueueReader extends RedisReader {
  /** Handed out and not yet acknowledged in Redis: never handed out twice by this reader. */
  #handedOut = new Set<string>();
  #toAck = new Set<string>();
  #ackLoop: Promise<void> | undefined;
  /** Where to go on reading this consumer's own pending entries; undefined once they are all handed out. */
  #recoverFrom: string | undefined = '0-0';
  #claimFrom = '0-0';
  declare readonly subscription: QueueSubscription;

  static async open(context: ReaderContext, subscription: QueueSubscription, blocking: RedisConnection): Promise<RedisQueueReader> {
    const reader = new RedisQueueReader(context, subscription, blocking);
    await reader.#createGroup(subscription.from === 'start' ? '0' : '$');
    return reader;
  }

  async #createGroup(from: string): Promise<void> {
    const { topic, group } = this.subscription;
    try {
      await this.context.main.sendCommand(['XGROUP', 'CREATE', topic, group, from, 'MKSTREAM']);
    } catch (error) {
      if (!messageOf(error).startsWith('BUSYGROUP')) throw error;
    }
  }

  /** The group (or the whole stream) is gone, e.g. Redis restarted without persistence. */
  async #groupLost(error: unknown): Promise<void> {
    this.context.warn(
      new BridgeError(
        'ERR_BRIDGE_BROKER',
        `The group '${this.subscription.group}' of '${this.topic}' is gone (${messageOf(error)}); creating it again, reading the stream from its start.`,
        { topic: this.topic, cause: error },
      ),
    );
    // From the start: entries appended since the loss have been delivered to nobody.
    await this.#createGroup('0').catch(() => {});
    this.#recoverFrom = '0-0';
    this.#claimFrom = '0-0';
  }

  #handOut(entries: TopicEntry[]): TopicEntry[] {
    const fresh = entries.filter((entry) => !this.#handedOut.has(entry.id));
    for (const entry of fresh) this.#handedOut.add(entry.id);
    return fresh;
  }

  async read({ count, blockMs }: ReadOptions): Promise<TopicEntry[]> {
    const { topic, group, consumer } = this.subscription;
    for (let attempt = 0; ; attempt++) {
      this.assertOpen();
      try {
        if (this.#recoverFrom !== undefined) {
          // Our own pending entries: held by a previous run under this name, or read by a reply that a lost connection swallowed.
          const reply = await this.blocking.sendCommand(['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), 'STREAMS', topic, this.#recoverFrom]);
          const page = parseStreams(reply, this.context.field);
          if (page.length === 0) {
            this.#recoverFrom = undefined;
            continue;
          }
          this.#recoverFrom = page[page.length - 1]!.id;
          const fresh = this.#handOut(page);
          if (fresh.length > 0) return fresh;
          continue;
        }
        const reply = await this.blocking.sendCommand([
          'XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', topic, '>',
        ]);
        return this.#handOut(parseStreams(reply, this.context.field));
      } catch (error) {
        if (!this.closed && messageOf(error).startsWith('NOGROUP')) {
          await this.#groupLost(error);
          continue;
        }
        // The lost reply may have handed entries to us in Redis: look at our pending list again.
        if ((await this.recover(error, 'read from', attempt)) === 'connection') this.#recoverFrom = '0-0';
      }
    }
  }

  async claim({ minIdleMs, count }: ClaimOptions): Promise<TopicEntry[]> {
    const { topic, group, consumer } = this.subscription;
    this.assertOpen();
    try {
      const reply = await this.context.main.sendCommand(['XAUTOCLAIM', topic, group, consumer, String(minIdleMs), this.#claimFrom, 'COUNT', String(count)]);
      if (!Array.isArray(reply)) return [];
      this.#claimFrom = text(reply[0]);
      const claimed = this.#handOut(parseEntries(reply[1], this.context.field).filter((entry) => !entry.deleted));
      // Redis 7 lists entries deleted while pending apart (and drops them from the pending list): lost messages.
      const deleted: unknown = reply[2];
      if (Array.isArray(deleted)) for (const id of deleted) claimed.push({ id: text(id), payload: undefined, deleted: true });
      return claimed;
    } catch (error) {
      if (!this.closed && messageOf(error).startsWith('NOGROUP')) {
        await this.#groupLost(error);
        return [];
      }
      if ((await this.recover(error, 'claim entries of', 0)) === 'connection') this.#recoverFrom = '0-0';
      return [];
    }
  }

  async inProgress(ids: readonly string[]): Promise<void> {
    if (ids.length === 0 || this.closed) return;
    const { topic, group, consumer } = this.subscription;
    // Claiming our own entries with no minimum idle time only resets their idle time.
    await this.context.main.sendCommand(['XCLAIM', topic, group, consumer, '0', ...ids, 'JUSTID']).catch(() => {});
  }

  async ack(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.#toAck.add(id);
    // A loop that ends just as ids are added leaves them behind: check and start another.
    while (!this.context.closed && ids.some((id) => this.#toAck.has(id))) {
      this.#ackLoop ??= this.#sendAcks().finally(() => (this.#ackLoop = undefined));
      await this.#ackLoop;
    }
  }

  async #sendAcks(): Promise<void> {
    const { topic, group } = this.subscription;
    for (let attempt = 0; this.#toAck.size > 0 && !this.context.closed; attempt++) {
      const ids = [...this.#toAck];
      try {
        await this.context.main.sendCommand(['XACK', topic, group, ...ids]);
      } catch (error) {
        const failure = this.context.classify(error);
        if (failure === 'closed') return;
        if (failure === 'reply') {
          // The group is gone: nothing left to acknowledge in.
          this.context.warn(new BridgeError('ERR_BRIDGE_BROKER', `Redis refused to acknowledge entries of '${topic}' (${messageOf(error)}).`, { topic, cause: error }));
        } else {
          await sleep(Math.min(20 * 2 ** Math.min(attempt, 6), 1000));
          continue;
        }
      }
      for (const id of ids) {
        this.#toAck.delete(id);
        this.#handedOut.delete(id);
      }
    }
  }

  protected async flush(): Promise<void> {
    if (this.#toAck.size > 0) await this.ack([...this.#toAck]);
  }
}

/** Broadcast mode: every reader reads the whole stream; a named one keeps its position in Redis. */
class RedisBroadcastReader extends RedisReader {
  #cursor: string;
  readonly #positionKey: string | undefined;
  #target: string | undefined;
  #committed: string | undefined;
  #commitLoop: Promise<void> | undefined;
  declare readonly subscription: BroadcastSubscription;

  private constructor(context: ReaderContext, subscription: BroadcastSubscription, blocking: RedisConnection, cursor: string, positionKey: string | undefined) {
    super(context, subscription, blocking);
    this.#cursor = cursor;
    this.#positionKey = positionKey;
    this.#committed = cursor;
  }

  static async open(context: ReaderContext, subscription: BroadcastSubscription, blocking: RedisConnection): Promise<RedisBroadcastReader> {
    const { topic, name } = subscription;
    const key = name === undefined ? undefined : `${context.keyPrefix}position:${topic}:${name}`;
    let cursor: string | undefined;
    if (key !== undefined) {
      const stored = await context.main.sendCommand(['GET', key]);
      if (stored !== null) cursor = text(stored);
    }
    if (cursor === undefined) {
      // '$' would be evaluated at each XREAD, missing what arrives between two reads: pin it to an ID now.
      cursor = '0-0';
      if (subscription.from !== 'start') {
        const last = await context.main.sendCommand(['XREVRANGE', topic, '+', '-', 'COUNT', '1']);
        if (Array.isArray(last) && Array.isArray(last[0])) cursor = text(last[0][0]);
      }
      if (key !== undefined) {
        // Stored now, so that a restart before the first message does not skip what came meanwhile.
        const set = await context.main.sendCommand(['SET', key, cursor, 'NX']);
        if (set === null) cursor = text(await context.main.sendCommand(['GET', key]));
      }
    }
    return new RedisBroadcastReader(context, subscription, blocking, cursor, key);
  }

  async read({ count, blockMs }: ReadOptions): Promise<TopicEntry[]> {
    for (let attempt = 0; ; attempt++) {
      this.assertOpen();
      try {
        const reply = await this.blocking.sendCommand(['XREAD', 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', this.topic, this.#cursor]);
        const entries = parseStreams(reply, this.context.field);
        if (entries.length > 0) this.#cursor = entries[entries.length - 1]!.id;
        return entries;
      } catch (error) {
        // The cursor only moves with a reply in hand, so reading again is all it takes.
        await this.recover(error, 'read from', attempt);
      }
    }
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (this.#positionKey === undefined || ids.length === 0) return;
    // Entries are acknowledged in order, so the last one is the new position; never move back, though.
    const last = ids[ids.length - 1]!;
    if (this.#target === undefined || compareStreamIds(last, this.#target) > 0) this.#target = last;
    while (!this.context.closed && this.#committed !== this.#target) {
      this.#commitLoop ??= this.#commit().finally(() => (this.#commitLoop = undefined));
      await this.#commitLoop;
    }
  }

  /** Only the latest position matters: positions acknowledged meanwhile fold into one SET. */
  async #commit(): Promise<void> {
    for (let attempt = 0; this.#target !== this.#committed && !this.context.closed; attempt++) {
      const target = this.#target!;
      try {
        await this.context.main.sendCommand(['SET', this.#positionKey!, target]);
        this.#committed = target;
      } catch (error) {
        const failure = this.context.classify(error);
        if (failure === 'closed') return;
        if (failure === 'reply') {
          this.context.warn(new BridgeError('ERR_BRIDGE_BROKER', `Redis refused to store the position of '${this.topic}' (${messageOf(error)}).`, { topic: this.topic, cause: error }));
        }
        await sleep(Math.min(20 * 2 ** Math.min(attempt, 6), 1000));
      }
    }
  }

  claim(): Promise<TopicEntry[]> {
    return Promise.resolve([]);
  }

  inProgress(): Promise<void> {
    return Promise.resolve();
  }

  protected async flush(): Promise<void> {
    if (this.#target !== undefined) await this.ack([this.#target]);
  }
}
