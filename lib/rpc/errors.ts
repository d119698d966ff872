/**
 * JSON-RPC errors: the ones a peer answers with, and the ones a request meets locally.
 * @module
 */

/**
 * Error codes. The first five are the JSON-RPC 2.0 specification's; `RequestCancelled` is
 * the Language Server Protocol's (so LSP tooling reads it); the last three never travel on
 * the wire: they say why a request failed on this side, in the range the specification
 * leaves to implementations (-32000 to -32099).
 */
export const RpcErrorCodes = {
  /** The line is not JSON. */
  ParseError: -32700,
  /** The JSON is not a valid request object. */
  InvalidRequest: -32600,
  /** No handler is registered under that name. */
  MethodNotFound: -32601,
  /** The params do not suit the method (thrown by handlers). */
  InvalidParams: -32602,
  /** The handler failed; its message is shown only as `exposeErrors` allows. */
  InternalError: -32603,
  /** The request was cancelled: by the caller's `signal`, or by a `$/cancelRequest` from the peer. */
  RequestCancelled: -32800,
  /** No reply within the request's `timeout`. */
  RequestTimeout: -32001,
  /** The channel closed (or was never open) before the reply came. */
  ConnectionClosed: -32002,
  /** The plugin instance serving the request exited; with `restart: 'on-failure'` the next instance serves later requests. */
  PeerExited: -32003,
} as const;

/** One of {@link RpcErrorCodes}' values, or any other integer a peer chose. */
export type RpcErrorCode = (typeof RpcErrorCodes)[keyof typeof RpcErrorCodes] | (number & {});

/** The error object of a JSON-RPC response, as it travels. */
export interface RpcErrorObject {
  /** An integer; see {@link RpcErrorCodes}. */
  code: number;
  /** One sentence. */
  message: string;
  /** Anything more the peer chose to say. */
  data?: unknown;
}

/**
 * A JSON-RPC error. A request rejects with one (the peer's error, or a local reason:
 * timeout, cancellation, closed channel); a handler throws one to answer with exactly that
 * `code`, `message` and `data`.
 *
 * ```ts
 * rpc.method('resize', ({ w }) => {
 *   if (!(w > 0)) throw new RpcError(RpcErrorCodes.InvalidParams, 'w must be a positive number', { w });
 *   return { w };
 * });
 * ```
 */
export class RpcError extends Error {
  /** The JSON-RPC error code. */
  readonly code: RpcErrorCode;
  /** The error's `data` member, if any. */
  readonly data: unknown;

  /**
   * @param code - an integer; see {@link RpcErrorCodes}
   * @param message - one sentence
   * @param data - anything JSON can carry; sent to the peer as is
   * @param options - `cause`, kept locally and never sent
   */
  constructor(code: RpcErrorCode, message: string, data?: unknown, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }

  /** The error as it travels: `{ code, message, data? }`. */
  toJSON(): RpcErrorObject {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

/**
 * What {@link RpcWarning} is about.
 *
 * - `parse`: a line is not JSON (the peer was answered with -32700).
 * - `invalid`: a message is not a valid request (the peer was answered with -32600), or is a malformed response.
 * - `not-text`: the channel delivered something other than a string: it must use the text codec.
 * - `unknown-response`: a response for an id this side never sent or already settled.
 * - `peer-error`: the peer answered with an error it could not tie to a request (id `null`), e.g. it could not parse a line of ours.
 * - `unknown-notification`: a notification for a method with no handler (`$/…` ones are ignored silently, as in the LSP).
 * - `handler`: a handler threw something other than an {@link RpcError}; the peer got an internal error.
 * - `send`: a response or notification could not be sent (the channel is closing, …).
 */
export type RpcWarningKind = 'parse' | 'invalid' | 'not-text' | 'unknown-response' | 'peer-error' | 'unknown-notification' | 'handler' | 'send';

/** A problem an {@link RpcPeer} survives, sent with its `'warning'` event. */
export class RpcWarning extends Error {
  /** What it is about. */
  readonly kind: RpcWarningKind;
  /** The line concerned, cut to 200 characters, when there is one. */
  readonly line: string | undefined;

  /**
   * @param kind - what it is about
   * @param message - what happened
   * @param options - the line concerned and the underlying error
   */
  constructor(kind: RpcWarningKind, message: string, options: { line?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RpcWarning';
    this.kind = kind;
    this.line = options.line === undefined ? undefined : options.line.length > 200 ? `${options.line.slice(0, 200)}…` : options.line;
  }
}
