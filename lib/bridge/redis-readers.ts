/**
 * Reading streams: a consumer group member (queue) and a plain reader with an optional
 * position kept in Redis (broadcast). Used by the transport; each reader blocks on a
 * connection of its own.
 * @module
 */
import { messageOf } from '../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { BridgeError, closedError } from './errors.js';
import { type Failure, type RedisConnection, compareStreamIds, text } from './redis-link.js';
import type { BroadcastSubscription, ClaimOptions, QueueSubscription, ReadOptions, Subscription, TopicEntry, TopicReader } from './transport.js';

/** @internal What readers need from their transport. */
export interface ReaderContext {
  readonly main: RedisConnection;
  readonly field: Buffer;
  readonly keyPrefix: string;
  readonly closeTimeoutMs: number;
  classify(error: unknown): Failure;
  warn(error: BridgeError): void;
  readonly closed: boolean;
  forget(reader: RedisReader): void;
}

/** Splits `[id, [field, value, …] | null]` entries; the message is the configured field's value. */
export function parseEntries(list: unknown, field: Buffer): TopicEntry[] {
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
export abstract class RedisReader implements TopicReader {
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
export class RedisQueueReader extends RedisReader {
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
export class RedisBroadcastReader extends RedisReader {
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
