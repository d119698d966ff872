/**
 * The broker side of a bridge, behind an interface small enough to be implemented with
 * Redis Streams (see {@link RedisTransport}), Kafka or NATS JetStream, so that the FIFO
 * side ({@link PipeBridge}, {@link push}, {@link pull}) never changes.
 *
 * What a transport promises, whatever the broker:
 * - **Append is exactly once and in order.** {@link Transport.append} resolves once the broker
 *   holds the whole batch; it retries through reconnects without appending a batch twice
 *   (Redis: an idempotent script; Kafka: the idempotent producer; JetStream: `Nats-Msg-Id`).
 *   Batches from one transport are appended in call order.
 * - **Reading is at least once.** An entry handed out by {@link TopicReader.read} or
 *   {@link TopicReader.claim} and not acknowledged is handed out again: to the same consumer
 *   when it comes back under the same name, or to another member of its group once it has been
 *   idle for the claim timeout. An acknowledged entry is never handed out again to the same
 *   group (queue) or reader name (broadcast).
 * - **Calls never fail for a dropped connection.** They wait for the transport to reconnect,
 *   and retry; they reject only with `ERR_BRIDGE_CLOSED` once the transport or reader is closed.
 *   Connection trouble is reported through the `'state'` and `'warning'` events instead.
 *
 * | this interface | Redis Streams | Kafka | NATS JetStream |
 * |---|---|---|---|
 * | topic | stream key | topic | stream subject |
 * | queue group | consumer group | consumer group | durable pull consumer |
 * | broadcast name | position key | consumer group of one | durable consumer per name |
 * | {@link TopicReader.ack} | `XACK` / `SET` position | commit offset | `+ACK` |
 * | {@link TopicReader.claim} | `XAUTOCLAIM` | rebalance (returns `[]`) | redelivery (returns `[]`) |
 * | {@link TopicReader.inProgress} | `XCLAIM … JUSTID` | no-op | `+WPI` |
 * @module
 */
import type { BridgeError } from './errors.js';

/** Where a transport's connection to its broker stands. */
export type TransportState = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** Events of a {@link Transport}. */
export interface TransportEvents {
  /** The connection changed state. */
  state: [state: TransportState];
  /** Something went wrong that the transport survives (connection lost, a command refused…). */
  warning: [error: BridgeError];
}

/** One entry read from a topic. */
export interface TopicEntry {
  /** Position of the entry in its topic: unique, increasing; what {@link TopicReader.ack} takes. */
  readonly id: string;
  /**
   * The message, as bytes (the FIFO side checks that they are one UTF-8 line). `undefined` when
   * the entry carries no message: written by someone else in another shape, or deleted.
   */
  readonly payload: Uint8Array | undefined;
  /** True when the entry was deleted (trimmed) before anyone delivered it: a lost message. */
  readonly deleted?: boolean;
}

/**
 * Where a reader starts the first time its group or name is seen: `'new'`, only entries
 * appended from now on (the default, like a pipe: you get what is written while you are
 * there); `'start'`, everything the topic still holds.
 */
export type StartPosition = 'new' | 'start';

/** Queue delivery: every entry goes to one member of the group. */
export interface QueueSubscription {
  /** Queue delivery. */
  readonly mode: 'queue';
  /** The topic. */
  readonly topic: string;
  /** The group sharing the work. */
  readonly group: string;
  /**
   * This member's name, unique in the group and stable across restarts: entries it held when
   * it died are handed to it again when it comes back under the same name.
   */
  readonly consumer: string;
  /** Where a new group starts; default `'new'`. */
  readonly from?: StartPosition | undefined;
}

/** Broadcast delivery: every reader sees every entry. */
export interface BroadcastSubscription {
  /** Broadcast delivery. */
  readonly mode: 'broadcast';
  /** The topic. */
  readonly topic: string;
  /**
   * With a name, the position (the last acknowledged entry) is kept by the broker under that
   * name and the reader resumes from it after a restart. Without, the position lives in memory.
   */
  readonly name?: string | undefined;
  /** Where a reader with a name never seen (or without a name) starts; default `'new'`. */
  readonly from?: StartPosition | undefined;
}

/** How a reader takes entries from a topic. */
export type Subscription = QueueSubscription | BroadcastSubscription;

/** Options of {@link TopicReader.read}. */
export interface ReadOptions {
  /** The most entries to return. */
  readonly count: number;
  /** How long to wait for an entry when there is none, in milliseconds; then `[]` is returned. */
  readonly blockMs: number;
}

/** Options of {@link TopicReader.claim}. */
export interface ClaimOptions {
  /** Entries held by another member for at least this long, in milliseconds, are taken over. */
  readonly minIdleMs: number;
  /** The most entries to take over in one call. */
  readonly count: number;
}

/** One subscription to a topic: reads, acknowledges, takes over what dead members held. */
export interface TopicReader {
  /** What this reader reads. */
  readonly subscription: Subscription;
  /**
   * The next entries not yet handed out by this reader, oldest first; `[]` when none came
   * within `blockMs`. In queue mode, entries that this consumer held and never acknowledged
   * (from a previous run, or whose reply was lost with a connection) come first.
   * Rejects only with `ERR_BRIDGE_CLOSED`.
   */
  read(options: ReadOptions): Promise<TopicEntry[]>;
  /**
   * Marks entries as delivered: they are not handed out again (queue: acknowledged in the
   * group; broadcast with a name: the position moves to the last of them, so acknowledge in
   * order). Resolves once the broker has it; retries through reconnects; resolves without
   * effect after {@link close}.
   */
  ack(ids: readonly string[]): Promise<void>;
  /**
   * Takes over entries that other members of the group have held for at least `minIdleMs`
   * (they died, or lost their way), scanning the topic a page at a time. Returns `[]` in
   * broadcast mode and on brokers that redeliver by themselves.
   */
  claim(options: ClaimOptions): Promise<TopicEntry[]>;
  /**
   * Tells the broker that entries handed out are still being delivered (a slow local reader),
   * so that they are not taken over by another member. Best effort; a no-op where meaningless.
   */
  inProgress(ids: readonly string[]): Promise<void>;
  /**
   * Stops reading (a pending {@link read} rejects with `ERR_BRIDGE_CLOSED`), sends the
   * acknowledgements still due (waiting at most the transport's close timeout) and frees the
   * reader's connection. Entries handed out and not acknowledged are handed out again later.
   */
  close(): Promise<void>;
}

/** Connection to a broker: appends to topics and opens readers on them. */
export interface Transport {
  /** Where the connection stands. */
  readonly state: TransportState;
  /**
   * Connects. Rejects with `ERR_BRIDGE_CONNECT` if the broker cannot be reached in time;
   * later outages are survived. {@link append} and {@link subscribe} connect when needed.
   */
  connect(): Promise<void>;
  /**
   * Appends `messages` to `topic`, in order, exactly once (see the module notes); resolves when
   * the broker holds them. Rejects with `ERR_BRIDGE_CLOSED` if the transport closes first, in
   * which case the batch may or may not have been appended.
   */
  append(topic: string, messages: readonly string[]): Promise<void>;
  /** Opens a reader. Creates the topic and the group when they do not exist. */
  subscribe(subscription: Subscription): Promise<TopicReader>;
  /** Closes every reader (see {@link TopicReader.close}) and the connection. Idempotent. */
  close(): Promise<void>;
  /** Listens to an event. */
  on<K extends keyof TransportEvents>(event: K, listener: (...args: TransportEvents[K]) => void): unknown;
  /** Stops listening to an event. */
  off<K extends keyof TransportEvents>(event: K, listener: (...args: TransportEvents[K]) => void): unknown;
}
