/**
 * Topics from Node code, without pipes: {@link push} and {@link pull}.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { assertMessage } from '../framing.js';
import { type ConsumedItem, TopicConsumer } from './consumer.js';
import { BridgeError } from './errors.js';
import { RedisTransport, type RedisTransportOptions } from './redis.js';
import type { StartPosition, Subscription, TopicReader, Transport } from './transport.js';

/** Where {@link push} and {@link pull} find the topic. */
export interface TopicOptions {
  /** The Redis URL or transport options. Default `$REDIS_URL`, else `redis://127.0.0.1:6379`. */
  redis?: string | RedisTransportOptions | undefined;
  /** A transport to use (and keep open) instead of opening one for the call. */
  transport?: Transport | undefined;
}

/** Options of {@link pull}. */
export interface PullOptions extends TopicOptions {
  /** Queue delivery in this consumer group (each message to one puller); without it, broadcast. */
  group?: string | undefined;
  /**
   * Consumer name in the group, or the name a broadcast position is kept under. Default: in a
   * group, a name unique to this call; in broadcast, none (the position lives in memory).
   */
  name?: string | undefined;
  /** Where a new group or name starts. Default `'new'`. */
  from?: StartPosition | undefined;
  /** Most entries read at once. Default 128. */
  batchSize?: number | undefined;
  /** Longest wait of one read, in ms. Default 1000. */
  blockMs?: number | undefined;
  /** Queue mode: take over entries other members held this long, in ms. Default 30000. */
  claimIdleMs?: number | undefined;
  /** Longer messages are skipped and reported. Default 1 MiB. */
  maxMessageBytes?: number | undefined;
  /** Ends the iteration when aborted. */
  signal?: AbortSignal | undefined;
  /** Where problems go (malformed entries, lost connection). Default `process.emitWarning`. */
  onWarning?: ((error: BridgeError) => void) | undefined;
}

function transportFor(options: TopicOptions): { transport: Transport; owned: boolean } {
  if (options.transport !== undefined) return { transport: options.transport, owned: false };
  const redis = options.redis;
  return { transport: new RedisTransport(typeof redis === 'string' ? { url: redis } : (redis ?? {})), owned: true };
}

/**
 * Appends messages to a topic; resolves once Redis holds them, in order, each once. A message
 * must be one line (a `TypeError` otherwise, and nothing is appended).
 *
 * ```ts
 * await push('jobs', 'resize /photos/1.jpg', { redis: 'redis://hub:6379' });
 * await push('jobs', ['a', 'b', 'c']); // one round trip
 * ```
 * Without `transport`, each call opens and closes a connection: pass one for many calls.
 */
export async function push(topic: string, message: string | readonly string[], options: TopicOptions = {}): Promise<void> {
  const messages = typeof message === 'string' ? [message] : message;
  for (const each of messages) assertMessage(each);
  const { transport, owned } = transportFor(options);
  try {
    await transport.append(topic, messages);
  } finally {
    if (owned) await transport.close();
  }
}

/**
 * The messages of a topic, as they arrive.
 *
 * ```ts
 * for await (const job of pull('jobs', { group: 'workers' })) await handle(job);
 * ```
 * A message is acknowledged when the loop asks for the next one, so a message being handled
 * when the process dies comes again (at least once). Leaving the loop (`break`, a throw, the
 * signal) leaves the current message and the rest of its batch unacknowledged: in a group they
 * go to another member after `claimIdleMs`, or back to this one if it comes again under the
 * same `name`. Malformed entries are reported through `onWarning` and skipped.
 */
export function pull(topic: string, options: PullOptions = {}): AsyncIterableIterator<string> {
  return pullGenerator(topic, options);
}

async function* pullGenerator(topic: string, options: PullOptions): AsyncGenerator<string, void, undefined> {
  const { transport, owned } = transportFor(options);
  const warn = options.onWarning ?? ((error: BridgeError) => process.emitWarning(error));
  if (owned) transport.on('warning', warn);
  const signal = options.signal;
  let reader: TopicReader | undefined;
  let consumer: TopicConsumer | undefined;
  // Closing the reader is what ends a read blocked in the broker.
  const onAbort = (): void => void reader?.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) return;
    const subscription: Subscription =
      options.group === undefined
        ? { mode: 'broadcast', topic, name: options.name, from: options.from }
        : { mode: 'queue', topic, group: options.group, consumer: options.name ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`, from: options.from };
    reader = await transport.subscribe(subscription);
    if (signal?.aborted) return;
    consumer = new TopicConsumer(reader, {
      count: options.batchSize ?? 128,
      blockMs: options.blockMs ?? 1000,
      claimIdleMs: options.claimIdleMs ?? 30_000,
      maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
      warn,
    });
    while (!signal?.aborted) {
      let items: ConsumedItem[];
      try {
        items = await consumer.next();
      } catch (error) {
        if (signal?.aborted && error instanceof BridgeError && error.code === 'ERR_BRIDGE_CLOSED') return;
        throw error;
      }
      if (items.length === 0) continue;
      const ids = items.map((item) => item.id);
      const handled: string[] = [];
      consumer.hold(ids);
      try {
        for (const item of items) {
          // Resuming from this yield means the loop body is done with the message.
          if (item.message !== undefined) yield item.message;
          handled.push(item.id);
          if (signal?.aborted) break;
        }
      } finally {
        consumer.release(ids);
        if (handled.length > 0) await consumer.ack(handled);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    consumer?.dispose();
    await reader?.close();
    if (owned) {
      await transport.close();
      transport.off('warning', warn);
    }
  }
}
