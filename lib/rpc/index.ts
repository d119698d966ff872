/**
 * JSON-RPC 2.0 over pipe-io channels.
 * @module
 */
export { RpcPeer, type RpcPeerOptions, type RpcRequestOptions, type RpcHandler, type RpcContext, type RpcStats, type RpcPeerEvents, type RpcPeerState } from './peer.js';
export { RpcError, RpcErrorCodes, type RpcErrorCode, type RpcErrorObject, RpcWarning, type RpcWarningKind } from './errors.js';
export type { RpcChannel } from './channel.js';
export type { RpcId, RpcParams, RpcMessage, RpcRequestMessage, RpcNotificationMessage, RpcResultMessage, RpcErrorMessage } from './protocol.js';
