/**
 * pipe-io-server: dependable line-based message channels over POSIX named pipes.
 *
 * ```ts
 * import { PipeIOServer } from 'pipe-io-server';
 * const server = new PipeIOServer('send', 'recv');
 * server.on('message', (line) => server.send(line));
 * await server.start();
 * ```
 * @module pipe-io-server
 */
export { PipeIOServer } from './server.js';
export { PipeReaderServer } from './reader.js';
export { PipeWriterServer } from './writer.js';
export { PipeServerBase, type ServerState, type EventMapOf } from './lifecycle.js';
export { PipeIOError, type PipeIOErrorCode } from './errors.js';
export type { PipeOptions, HandlerOptions, ReaderOptions, WriterOptions, PipeIOServerOptions } from './options.js';
export type { PipeRole, OversizeInfo, RecreateInfo, ReaderEvents, WriterEvents, PipeIOServerEvents } from './events.js';
export {
  type Codec,
  type BinaryCodec,
  type AnyCodec,
  type CodecOption,
  type Outgoing,
  textCodec,
  jsonCodec,
  yamlCodec,
  bufferCodec,
  resolveCodec,
  CodecError,
} from './codec.js';
export {
  PipeSessionServer,
  type PipeSessionServerOptions,
  type PipeSessionServerEvents,
  PipeSession,
  type PipeSessionEvents,
  type SessionState,
  type SessionPeer,
  PROTOCOL_VERSION,
} from './session/index.js';
export { PipeIOClient, type PipeSessionClientOptions, type PipeIOClientOptions, type PipeIOClientEvents, type ClientState } from './client.js';
export {
  spawnPlugin,
  PluginHandle,
  type PluginOptions,
  type PluginExit,
  type PluginRestartInfo,
  type PluginEvents,
  type PluginState,
} from './plugin/index.js';
export {
  PipeBridge,
  type PipeBridgeOptions,
  type BridgeStats,
  type BridgeEvents,
  push,
  pull,
  type TopicOptions,
  type PullOptions,
  RedisTransport,
  type RedisTransportOptions,
  BridgeError,
  type BridgeErrorCode,
  type BridgeErrorDetails,
  type Transport,
  type TransportState,
  type TransportEvents,
  type TopicReader,
  type TopicEntry,
  type Subscription,
  type QueueSubscription,
  type BroadcastSubscription,
  type StartPosition,
  type ReadOptions,
  type ClaimOptions,
} from './bridge/index.js';
export {
  Worker,
  listServices,
  type ServiceInfo,
  type ServiceDescription,
  type WorkerOptions,
  type WorkerMode,
  type WorkerCodec,
  type WorkerMeta,
  type WorkerStats,
  type WorkerState,
  type WorkerEvents,
} from './work/index.js';
export {
  RpcPeer,
  type RpcPeerOptions,
  type RpcRequestOptions,
  type RpcHandler,
  type RpcContext,
  type RpcStats,
  type RpcPeerEvents,
  type RpcPeerState,
  RpcError,
  RpcErrorCodes,
  type RpcErrorCode,
  type RpcErrorObject,
  RpcWarning,
  type RpcWarningKind,
  type RpcChannel,
  type RpcId,
  type RpcParams,
  type RpcMessage,
  type RpcRequestMessage,
  type RpcNotificationMessage,
  type RpcResultMessage,
  type RpcErrorMessage,
} from './rpc/index.js';
