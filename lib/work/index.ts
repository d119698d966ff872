/**
 * Distributed pipelines: any stdin/stdout program or JSON-RPC plugin as a worker on a Redis
 * Streams topic ({@link Worker}), and the registry that says who is serving ({@link listServices}).
 * @module
 */
export { Worker } from './worker.js';
export { listServices, type ServiceInfo, type ServiceDescription } from './registry.js';
export type { WorkerOptions, WorkerMode, WorkerCodec, WorkerMeta, WorkerStats, WorkerState, WorkerEvents } from './types.js';
