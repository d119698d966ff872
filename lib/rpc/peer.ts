/**
 * JSON-RPC 2.0 over any line channel: both ends request and serve. This file reads lines and
 * routes messages; the calling half is in calls.ts, the serving half in dispatch.ts.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { PluginExit } from '../plugin/index.js';
import { PendingCalls } from './calls.js';
import { type ChannelLink, type RpcChannel, linkChannel } from './channel.js';
import { messageOf } from '../errors.js';
import { type Batch, Dispatcher, errorReply } from './dispatch.js';
import { RpcError, RpcErrorCodes, RpcWarning } from './errors.js';
import { type RpcErrorMessage, type RpcId, type RpcParams, type RpcResultMessage, classify } from './protocol.js';

/** What a handler gets besides the params. */
export interface RpcContext {
  /** Aborted when the peer sends `$/cancelRequest` for this request, the channel closes, or the plugin instance that asked exits. */
  readonly signal: AbortSignal;
  /** The request's id; `undefined` for a notification. */
  readonly id: RpcId | undefined;
  /** The method called. */
  readonly method: string;
  /** The peer serving it: a handler may call back the other side through it. */
  readonly peer: RpcPeer;
}

/**
 * Serves one method. What it returns (or resolves with) is the result; `undefined` is sent as
 * `null`, since a response must have a result. To answer with a chosen error, throw an
 * {@link RpcError}; anything else thrown becomes an internal error (-32603), shown to the
 * peer only as `exposeErrors` allows.
 * @typeParam P - the params it expects (they come from the peer: check them)
 * @typeParam R - what it returns
 */
export type RpcHandler<P = any, R = unknown> = (params: P, context: RpcContext) => R | PromiseLike<R>;

/** Options of {@link RpcPeer}. */
export interface RpcPeerOptions {
  /** Handlers by method name; {@link RpcPeer.method} adds more. */
  methods?: Readonly<Record<string, RpcHandler>>;
  /**
   * Handlers running at once, at most (requests and notifications alike). Default `64`:
   * replies carry the request's id, so they need not come back in order, and a handler that
   * waits on I/O should not hold up the next one; the bound keeps a flood from starting
   * handlers without limit. Handlers start in arrival order; with `1` each one ends before the
   * next begins (what notifications that must apply in order, like an editor's edits, need).
   */
  concurrency?: number;
  /**
   * Requests that may wait for a free handler slot before the peer stops reading the
   * channel. Default `1024`. Past it the channel's iterator is not read, so its pipe pauses
   * and the sender waits: memory stays bounded. Replies to this side's own requests wait
   * too, so a handler that requests back to the other side while this queue is full waits
   * until a handler ends (or its `timeout`).
   */
  maxQueued?: number;
  /** Default timeout of {@link RpcPeer.request}, in milliseconds; `0` (default) for none. */
  timeout?: number;
  /**
   * What the peer learns when a handler throws something other than an {@link RpcError}:
   * `'message'` (default) sends the error's message, `'none'` only "Internal error", and
   * `'stack'` adds `data: { stack }` (for debugging; it shows paths and code). A stack trace
   * never leaves otherwise. The full error is always reported locally as a `'warning'`.
   */
  exposeErrors?: 'none' | 'message' | 'stack';
}

/** Options of one {@link RpcPeer.request}. */
export interface RpcRequestOptions {
  /** Milliseconds to wait for the reply before rejecting with `RequestTimeout`; `0` for none. Default: the peer's `timeout`. */
  timeout?: number;
  /** Aborting it rejects the request with `RequestCancelled` and sends the peer `$/cancelRequest`. */
  signal?: AbortSignal;
}

/** Counters of an {@link RpcPeer}, since it was made. */
export interface RpcStats {
  /** Requests sent. */
  readonly requestsSent: number;
  /** Notifications sent. */
  readonly notificationsSent: number;
  /** Responses sent for the peer's requests. */
  readonly responsesSent: number;
  /** Notifications from the peer given to a handler. */
  readonly notificationsHandled: number;
  /** Requests of this side waiting for their reply now. */
  readonly pending: number;
  /** Handlers running now. */
  readonly active: number;
  /** The peer's requests waiting for a handler slot now. */
  readonly queued: number;
  /** Replies that came after their request timed out or was cancelled: dropped. */
  readonly lateResponses: number;
  /** Replies for ids this side never sent (or had settled already): dropped and reported. */
  readonly unknownResponses: number;
  /** Lines that were not JSON, or not JSON-RPC. */
  readonly malformed: number;
}

/** Events of {@link RpcPeer}. */
export interface RpcPeerEvents {
  /** A problem the peer survives. With no listener, it goes to `process.emitWarning`. */
  warning: [warning: RpcWarning];
  /** The channel closed, or {@link RpcPeer.close} was called: pending requests have been rejected. */
  close: [];
}

/** Where a peer is in its life. */
export type RpcPeerState = 'open' | 'closed';

const DEFAULT_CONCURRENCY = 64;
const DEFAULT_MAX_QUEUED = 1024;

/**
 * One end of a JSON-RPC 2.0 conversation over a pipe-io channel ({@link RpcChannel}): it
 * sends requests and notifications, and serves the other end's with its handlers. Both ends
 * may do both. One message per line, JSON done here, so the channel must use the text codec.
 *
 * ```ts
 * const plugin = await spawnPlugin('python3', ['plugin.py']);
 * const rpc = new RpcPeer(plugin, { methods: { log: (params) => console.log(params) } });
 * const size = await rpc.request('resize', { w: 640 }, { timeout: 5000 });
 * rpc.notify('config', { theme: 'dark' });
 * ```
 *
 * Requests reject with an {@link RpcError}: the peer's error, or `RequestTimeout`,
 * `RequestCancelled`, `ConnectionClosed` (at once when the channel closes) or `PeerExited`
 * (a plugin instance died with the request in its hands; it may or may not have run it, and
 * with `restart: 'on-failure'` a request it had not read yet reaches the next instance,
 * whose reply is then dropped as late: retry only what is safe to run twice).
 *
 * What the peer sends that is not JSON-RPC is answered as the specification says (-32700,
 * -32600) and reported through `'warning'`; nothing it sends can throw in the host.
 */
export class RpcPeer extends EventEmitter<RpcPeerEvents> {
  readonly #link: ChannelLink;
  readonly #methods = new Map<string, RpcHandler>();
  readonly #timeout: number;
  readonly #calls: PendingCalls;
  readonly #dispatcher: Dispatcher<RpcPeer>;
  #state: RpcPeerState = 'open';
  #warnedNotText = false;
  readonly #unsubscribe: () => void;
  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => {};
  readonly #reading: Promise<void>;
  #stats = { requestsSent: 0, notificationsSent: 0, responsesSent: 0, lateResponses: 0, unknownResponses: 0, malformed: 0 };

  /**
   * Starts reading `channel` at once (lines that came before are not seen).
   * @param channel - a `PipeIOServer`, `PluginHandle` or `PipeIOClient` in the text codec, or anything that is an {@link RpcChannel}
   * @param options - see {@link RpcPeerOptions}
   */
  constructor(channel: RpcChannel, options: RpcPeerOptions = {}) {
    super();
    const concurrency = positive('concurrency', options.concurrency, DEFAULT_CONCURRENCY, 1);
    const maxQueued = positive('maxQueued', options.maxQueued, DEFAULT_MAX_QUEUED, 0);
    this.#timeout = positive('timeout', options.timeout, 0, 0);
    const exposeErrors = options.exposeErrors ?? 'message';
    if (!['none', 'message', 'stack'].includes(exposeErrors)) {
      throw new TypeError(`Option exposeErrors must be 'none', 'message' or 'stack', got ${String(options.exposeErrors)}.`);
    }
    for (const [name, handler] of Object.entries(options.methods ?? {})) this.method(name, handler);
    this.#closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
    this.#link = linkChannel(channel);
    this.#calls = new PendingCalls((id) => {
      if (this.#state === 'open') this.#link.send(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } })).catch(() => {});
    });
    this.#dispatcher = new Dispatcher<RpcPeer>({
      peer: this,
      methods: this.#methods,
      concurrency,
      maxQueued,
      exposeErrors,
      sendReply: (reply) => this.#sendReply(reply),
      warn: (warning) => this.#warn(warning),
    });
    this.#unsubscribe = this.#link.onPeerExit((status) => this.#peerExited(status));
    this.#reading = this.#read();
  }

  /** `'open'` until the channel closes or {@link close} is called. */
  get state(): RpcPeerState {
    return this.#state;
  }

  /** Resolves once the peer is closed. Never rejects. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** A snapshot of the counters. */
  get stats(): RpcStats {
    return {
      ...this.#stats,
      notificationsHandled: this.#dispatcher.notificationsHandled,
      pending: this.#calls.size,
      active: this.#dispatcher.active,
      queued: this.#dispatcher.queued,
    };
  }

  /**
   * Registers (or replaces) the handler of `name`. Names starting with `rpc.` are reserved by
   * the specification, and `$/cancelRequest` is handled by the peer itself.
   * @returns the peer, to chain calls
   */
  method(name: string, handler: RpcHandler): this {
    if (typeof name !== 'string' || name.startsWith('rpc.') || name === '$/cancelRequest') {
      throw new TypeError(`Cannot register the method ${JSON.stringify(name)}: names starting with "rpc." are reserved, and $/cancelRequest is built in.`);
    }
    if (typeof handler !== 'function') throw new TypeError(`The handler of '${name}' must be a function, got ${typeof handler}.`);
    this.#methods.set(name, handler);
    return this;
  }

  /**
   * Calls `method` on the other side. Resolves with its result; rejects with an
   * {@link RpcError} (the peer's, or `RequestTimeout`, `RequestCancelled`, `ConnectionClosed`,
   * `PeerExited`), or a `TypeError` if the params are not an array, an object or JSON.
   * @typeParam R - what the result is expected to be (not checked)
   */
  request<R = unknown>(method: string, params?: RpcParams, options: RpcRequestOptions = {}): Promise<R> {
    let line: string;
    let timeout: number;
    const id = this.#calls.nextId();
    try {
      line = encodeCall(method, params, id);
      timeout = options.timeout === undefined ? this.#timeout : positive('timeout', options.timeout, 0, 0);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state !== 'open') return Promise.reject(this.#closedError(method));
    const { signal } = options;
    if (signal?.aborted) {
      return Promise.reject(new RpcError(RpcErrorCodes.RequestCancelled, `The request '${method}' was cancelled before it was sent.`, undefined, { cause: signal.reason }));
    }
    const reply = this.#calls.track<R>(id, method, timeout, signal);
    this.#stats.requestsSent++;
    this.#link.send(line).catch((error: unknown) => {
      this.#calls.fail(id, (m) => new RpcError(RpcErrorCodes.ConnectionClosed, `Cannot send the request '${m}': ${messageOf(error)}`, undefined, { cause: error }));
    });
    return reply;
  }

  /**
   * Sends a notification: no reply comes. The promise resolves once the line is written and
   * rejects if it cannot be; ignoring it is safe (no unhandled rejection), the failure is then
   * reported through `'warning'`.
   */
  notify(method: string, params?: RpcParams): Promise<void> {
    let line: string;
    try {
      line = encodeCall(method, params, undefined);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state !== 'open') {
      const failed = Promise.reject(this.#closedError(method));
      failed.catch(() => {});
      return failed;
    }
    this.#stats.notificationsSent++;
    const sent = this.#link.send(line).then(
      () => {},
      (error: unknown) => {
        this.#warn(new RpcWarning('send', `Cannot send the notification '${method}': ${messageOf(error)}`, { cause: error }));
        throw new RpcError(RpcErrorCodes.ConnectionClosed, `Cannot send the notification '${method}': ${messageOf(error)}`, undefined, { cause: error });
      },
    );
    sent.catch(() => {});
    return sent;
  }

  /**
   * Stops using the channel (which stays open: it is yours to stop): pending requests
   * reject with `ConnectionClosed`, running handlers see their signal abort and their replies
   * are dropped. Idempotent.
   */
  async close(): Promise<void> {
    this.#shutDown('the RPC peer was closed');
    await this.#link.lines.return?.();
    await this.#reading;
  }

  /** `await using rpc = …` closes the peer when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #read(): Promise<void> {
    const lines = this.#link.lines;
    try {
      for (;;) {
        // Backpressure: with handlers saturated and the queue full, take no more lines; the
        // channel's iterator then pauses its pipe and the other side's writes wait.
        const room = this.#dispatcher.room();
        if (room) await room;
        if (this.#state !== 'open') break;
        const next = await lines.next();
        if (next.done) break;
        this.#onLine(next.value);
      }
    } catch (error) {
      this.#warn(new RpcWarning('send', `Reading the channel failed: ${messageOf(error)}`, { cause: error }));
    }
    this.#shutDown('the channel closed');
  }

  #onLine(line: unknown): void {
    if (typeof line !== 'string') {
      this.#stats.malformed++;
      if (!this.#warnedNotText) {
        this.#warnedNotText = true;
        this.#warn(new RpcWarning('not-text', 'The channel delivered a decoded value, not a line: give RpcPeer a channel in the text codec (the default); it does the JSON itself.'));
      }
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      this.#stats.malformed++;
      this.#warn(new RpcWarning('parse', `A line from the peer is not JSON (answered with -32700): ${messageOf(error)}`, { line, cause: error }));
      this.#sendReply(errorReply(null, RpcErrorCodes.ParseError, 'Parse error'));
      return;
    }
    if (!Array.isArray(value)) {
      this.#onMessage(value, undefined, line);
      return;
    }
    if (value.length === 0) {
      this.#stats.malformed++;
      this.#warn(new RpcWarning('invalid', 'The peer sent an empty batch (answered with -32600).', { line }));
      this.#sendReply(errorReply(null, RpcErrorCodes.InvalidRequest, 'Invalid Request'));
      return;
    }
    const batch = this.#dispatcher.openBatch();
    for (const entry of value) this.#onMessage(entry, batch, line);
    this.#dispatcher.closeBatch(batch);
  }

  /** One message, alone or in a batch. */
  #onMessage(value: unknown, batch: Batch | undefined, line: string): void {
    const message = classify(value);
    switch (message.kind) {
      case 'request':
        this.#dispatcher.request(message.message, batch);
        return;
      case 'notification':
        this.#dispatcher.notification(message.message, line);
        return;
      case 'response':
        this.#onResponse(message.message);
        return;
      case 'bad-response':
        this.#stats.malformed++;
        this.#warn(new RpcWarning('invalid', `The peer sent a malformed response (not answered): ${message.reason}.`, { line }));
        return;
      case 'invalid':
        this.#stats.malformed++;
        this.#warn(new RpcWarning('invalid', `The peer sent an invalid request (answered with -32600): ${message.reason}.`, { line }));
        this.#dispatcher.reply(errorReply(message.id, RpcErrorCodes.InvalidRequest, 'Invalid Request'), batch);
    }
  }

  #onResponse(message: RpcResultMessage | RpcErrorMessage): void {
    const fate = this.#calls.settle(message);
    if (fate === 'settled') return;
    if (fate === 'late') {
      this.#stats.lateResponses++;
      return;
    }
    if (message.id === null && 'error' in message) {
      this.#warn(new RpcWarning('peer-error', `The peer reported an error it could not tie to a request: ${message.error.code} ${message.error.message}.`));
      return;
    }
    this.#stats.unknownResponses++;
    this.#warn(new RpcWarning('unknown-response', `The peer answered the id ${JSON.stringify(message.id)}, which this side is not waiting for; dropped.`));
  }

  #sendReply(reply: object): void {
    if (this.#state !== 'open') return;
    let line: string;
    try {
      line = JSON.stringify(reply);
    } catch (error) {
      // A result JSON cannot carry (a BigInt, a cycle): the caller still gets an answer.
      this.#warn(new RpcWarning('handler', `A reply could not be encoded as JSON: ${messageOf(error)}`, { cause: error }));
      line = JSON.stringify(Array.isArray(reply) ? reply.map(encodable) : encodable(reply as { id: RpcId }));
    }
    this.#stats.responsesSent += Array.isArray(reply) ? reply.length : 1;
    this.#link.send(line).catch((error: unknown) => {
      if (this.#state === 'open') this.#warn(new RpcWarning('send', `A reply could not be sent: ${messageOf(error)}`, { cause: error }));
    });
  }

  #peerExited(status: PluginExit): void {
    // Its last replies may still be on their way to the iterator: they are read in this turn
    // of the loop or the next, so settle after two turns, not at once; and only the requests
    // sent before the exit (later ones wait in the pipe for the next instance).
    const ids = this.#calls.ids();
    setImmediate(() =>
      setImmediate(() => {
        if (this.#state !== 'open') return;
        const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${String(status.code)}`;
        this.#dispatcher.dropAll(new RpcError(RpcErrorCodes.PeerExited, `The plugin ${how}.`));
        // Their requests may still be read by the next instance; a reply from it is then late, not stray.
        const data = { code: status.code, signal: status.signal };
        this.#calls.rejectAll((method) => new RpcError(RpcErrorCodes.PeerExited, `No reply to '${method}': the plugin ${how} before answering.`, data), true, ids);
      }),
    );
  }

  #shutDown(why: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    this.#unsubscribe();
    this.#dispatcher.dropAll(new RpcError(RpcErrorCodes.ConnectionClosed, `The request was abandoned: ${why}.`));
    this.#calls.rejectAll((method) => new RpcError(RpcErrorCodes.ConnectionClosed, `No reply to '${method}': ${why}.`), false);
    this.#dispatcher.wake();
    this.#resolveClosed();
    this.emit('close');
  }

  #closedError(method: string): RpcError {
    return new RpcError(RpcErrorCodes.ConnectionClosed, `Cannot send '${method}': the RPC peer is closed (its channel closed, or close() was called).`);
  }

  #warn(warning: RpcWarning): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', warning);
    else process.emitWarning(warning);
  }
}

/** The reply itself if JSON can carry it, else an internal error for its id. */
function encodable(reply: { id: RpcId }): object {
  try {
    JSON.stringify(reply);
    return reply;
  } catch {
    return errorReply(reply.id, RpcErrorCodes.InternalError, 'The result could not be encoded as JSON');
  }
}

/** The line of a request (with `id`) or a notification; throws a `TypeError` for what cannot be one. */
function encodeCall(method: string, params: RpcParams | undefined, id: number | undefined): string {
  if (typeof method !== 'string') throw new TypeError(`The method name must be a string, got ${typeof method}.`);
  if (params !== undefined && (typeof params !== 'object' || params === null)) {
    throw new TypeError(`The params of '${method}' must be an array or an object (JSON-RPC has no other kind), got ${params === null ? 'null' : typeof params}.`);
  }
  const message = id === undefined ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', id, method, params };
  try {
    return JSON.stringify(message);
  } catch (error) {
    throw new TypeError(`The params of '${method}' cannot be encoded as JSON: ${messageOf(error)}`, { cause: error });
  }
}

function positive(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (value !== Infinity && !Number.isInteger(value))) {
    throw new RangeError(`Option ${name} must be an integer >= ${min} (or Infinity), got ${String(value)}.`);
  }
  return value;
}
