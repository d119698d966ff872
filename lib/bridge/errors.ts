/**
 * Errors of the bridge between a FIFO pair and a topic.
 * @module
 */

/**
 * Machine-readable reason of a {@link BridgeError}.
 *
 * - `ERR_BRIDGE_CONNECT`: the broker could not be reached within `connectTimeoutMs` at start.
 * - `ERR_BRIDGE_CONNECTION`: the connection to the broker dropped; the bridge reconnects by itself.
 * - `ERR_BRIDGE_BROKER`: the broker refused a command (wrong key type, out of memory…); the bridge retries.
 * - `ERR_BRIDGE_MALFORMED`: an entry of the topic cannot be a message (no message field, not
 *   UTF-8, too long, contains a newline); it was skipped and acknowledged.
 * - `ERR_BRIDGE_LOST`: messages were lost: entries deleted from the topic (trimmed) before any
 *   reader delivered them, or lines read from the in pipe that could not be appended before stop.
 * - `ERR_BRIDGE_CLOSED`: the bridge or transport closed before the operation finished.
 * - `ERR_BRIDGE_USAGE`: wrong options or command-line arguments.
 */
export type BridgeErrorCode =
  | 'ERR_BRIDGE_CONNECT'
  | 'ERR_BRIDGE_CONNECTION'
  | 'ERR_BRIDGE_BROKER'
  | 'ERR_BRIDGE_MALFORMED'
  | 'ERR_BRIDGE_LOST'
  | 'ERR_BRIDGE_CLOSED'
  | 'ERR_BRIDGE_USAGE';

/** Details a {@link BridgeError} may carry. */
export interface BridgeErrorDetails {
  /** The topic concerned. */
  topic?: string | undefined;
  /** The entry concerned (for `ERR_BRIDGE_MALFORMED` and `ERR_BRIDGE_LOST`). */
  id?: string | undefined;
  /** The underlying error. */
  cause?: unknown;
}

/** An error of the bridge or of its transport, with a stable {@link BridgeErrorCode}. */
export class BridgeError extends Error {
  /** Stable reason, for code that reacts to the error. */
  readonly code: BridgeErrorCode;
  /** The topic concerned, when there is one. */
  readonly topic: string | undefined;
  /** The entry concerned, when there is one. */
  readonly id: string | undefined;

  /**
   * @param code - stable reason
   * @param message - what happened and what to do about it
   * @param details - topic, entry and underlying error
   */
  constructor(code: BridgeErrorCode, message: string, details: BridgeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.topic = details.topic;
    this.id = details.id;
  }
}

/** @internal The error that operations reject with once their transport or bridge is closed. */
export function closedError(what: string, topic?: string): BridgeError {
  return new BridgeError('ERR_BRIDGE_CLOSED', `${what}: the transport is closed.`, { topic });
}
