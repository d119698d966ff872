/**
 * Sessions: one server, many clients, each over a private FIFO pair.
 * @module
 */
export { PipeSessionServer, type PipeSessionServerOptions, type PipeSessionServerEvents } from './server.js';
export { PipeSession, type PipeSessionEvents, type SessionState } from './session.js';
export type { SessionPeer } from './folder.js';
export { PROTOCOL_VERSION } from './protocol.js';
