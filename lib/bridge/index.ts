/**
 * Named pipes across machines: a FIFO pair bridged to a Redis Streams topic, and the same
 * topics from Node code with {@link push} and {@link pull}.
 * @module
 */
export { PipeBridge, type PipeBridgeOptions, type BridgeStats, type BridgeEvents } from './bridge.js';
export { push, pull, type TopicOptions, type PullOptions } from './topic.js';
export { RedisTransport, type RedisTransportOptions } from './redis.js';
export { BridgeError, type BridgeErrorCode, type BridgeErrorDetails } from './errors.js';
export type {
  Transport,
  TransportState,
  TransportEvents,
  TopicReader,
  TopicEntry,
  Subscription,
  QueueSubscription,
  BroadcastSubscription,
  StartPosition,
  ReadOptions,
  ClaimOptions,
} from './transport.js';
