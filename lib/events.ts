/**
 * What the servers report, besides messages.
 * @module
 */
import type { PipeIOError } from './errors.js';

/** Which end of the channel a pipe is, seen from the server. */
export type PipeRole = 'in' | 'out';

/** Sent with `'oversize'`: a line longer than `maxMessageBytes` was dropped. */
export interface OversizeInfo {
  /** The in pipe it arrived on. */
  readonly path: string;
  /** The limit it broke, in bytes. */
  readonly limit: number;
}

/** Sent with `'recreate'`: a pipe was deleted or replaced, and the server made or adopted a new one. */
export interface RecreateInfo {
  /** The path that names the new pipe. */
  readonly path: string;
  /** Which pipe it is. */
  readonly role: PipeRole;
}

/**
 * Events of servers that read messages. None of them is `'error'`: nothing here can crash the host.
 * @typeParam T - what a message is: a string, or what the codec decodes
 */
export interface ReaderEvents<T = string> {
  /**
   * One message: a line without its newline, decoded (only while `handleMessage` is not
   * overridden). Listeners are not awaited: for async work override `handleMessage` or iterate.
   */
  message: [message: T];
  /** A line too long was dropped. */
  oversize: [info: OversizeInfo];
  /** A deleted pipe came back. */
  recreate: [info: RecreateInfo];
  /** Something went wrong that the server survives. With no listener, it goes to `process.emitWarning`. */
  warning: [error: PipeIOError];
  /** The server stopped. */
  close: [];
}

/** Events of servers that send messages. */
export interface WriterEvents {
  /** The send queue fell below `highWaterMark` after being above it. */
  drain: [];
  /** A deleted pipe came back. */
  recreate: [info: RecreateInfo];
  /** Something went wrong that the server survives. With no listener, it goes to `process.emitWarning`. */
  warning: [error: PipeIOError];
  /** The server stopped. */
  close: [];
}

/**
 * Events of {@link PipeIOServer}: both halves'.
 * @typeParam T - what a message is: a string, or what the codec decodes
 */
export interface PipeIOServerEvents<T = string> extends ReaderEvents<T>, WriterEvents {}
