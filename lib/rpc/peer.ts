/**
 * JSON-RPC 2.0 over any line channel: both ends request and serve.
 * @module
 */
import { EventEmitter } from 'node:events';
import type { PluginExit } from '../plugin.js';
import { type ChannelLink, type RpcChannel, linkChannel } from './channel.js';
import { RpcError, type RpcErrorObject, RpcErrorCodes, RpcWarning } from './errors.js';
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

interface Pending {
  method: string;
  resolve: (result: any) => void;
  reject: (error: RpcError) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The replies of one batch, sent as one array once its last request is answered. */
interface Batch {
  replies: object[];
  waiting: number;
}

/** A request or notification from the peer, from its arrival to its reply. */
interface Job {
  readonly method: string;
  readonly params: RpcParams | undefined;
  /** `undefined` for a notification. */
  readonly id: RpcId | undefined;
  readonly handler: RpcHandler;
  readonly batch: Batch | undefined;
  /** The peer instance it came from; see RpcPeer.#generation. */
  readonly generation: number;
  state: 'queued' | 'running' | 'done';
  context: HandlerContext | undefined;
  /** The peer sent `$/cancelRequest` for it. */
  cancelled: boolean;
}

class HandlerContext implements RpcContext {
  #controller: AbortController | undefined;
  constructor(
    readonly id: RpcId | undefined,
    readonly method: string,
    readonly peer: RpcPeer,
  ) {}
  get signal(): AbortSignal {
    // Made on first use: most handlers never look, and a controller per call costs.
    return (this.#controller ??= new AbortController()).signal;
  }
  abort(reason: RpcError): void {
    (this.#controller ??= new AbortController()).abort(reason);
  }
}

const DEFAULT_CONCURRENCY = 64;
const DEFAULT_MAX_QUEUED = 1024;
/** Ids of abandoned requests remembered, to tell a late reply from a stray one. */
const ABANDONED_MEMORY = 10_000;

const errorReply = (id: RpcId, code: number, message: string): RpcErrorMessage => ({ jsonrpc: '2.0', id, error: { code, message } });

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
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #timeout: number;
  readonly #exposeErrors: 'none' | 'message' | 'stack';
  #state: RpcPeerState = 'open';
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  readonly #abandoned = new Set<number>();
  /** The peer's requests not answered yet (queued or running), by id, for `$/cancelRequest`. */
  readonly #serving = new Map<RpcId, Job>();
  readonly #running = new Set<Job>();
  #queue: Job[] = [];
  #queueHead = 0;
  #pumping = false;
  #resumeReading: (() => void) | undefined;
  /** Bumped when a plugin instance exits: work that came from it is answered to nobody. */
  #generation = 0;
  #warnedNotText = false;
  readonly #unsubscribe: () => void;
  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => {};
  readonly #reading: Promise<void>;
  #stats = {
    requestsSent: 0,
    notificationsSent: 0,
    responsesSent: 0,
    notificationsHandled: 0,
    lateResponses: 0,
    unknownResponses: 0,
    malformed: 0,
  };

  /**
   * Starts reading `channel` at once (lines that came before are not seen).
   * @param channel - a `PipeIOServer`, `PluginHandle` or `PipeIOClient` in the text codec, or anything that is an {@link RpcChannel}
   * @param options - see {@link RpcPeerOptions}
   */
  constructor(channel: RpcChannel, options: RpcPeerOptions = {}) {
    super();
    this.#concurrency = positive('concurrency', options.concurrency, DEFAULT_CONCURRENCY, 1);
    this.#maxQueued = positive('maxQueued', options.maxQueued, DEFAULT_MAX_QUEUED, 0);
    this.#timeout = positive('timeout', options.timeout, 0, 0);
    this.#exposeErrors = options.exposeErrors ?? 'message';
    if (!['none', 'message', 'stack'].includes(this.#exposeErrors)) {
      throw new TypeError(`Option exposeErrors must be 'none', 'message' or 'stack', got ${String(options.exposeErrors)}.`);
    }
    for (const [name, handler] of Object.entries(options.methods ?? {})) this.method(name, handler);
    this.#closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
    this.#link = linkChannel(channel);
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
      pending: this.#pending.size,
      active: this.#running.size,
      queued: this.#queue.length - this.#queueHead,
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
    const id = this.#nextId + 1;
    try {
      line = encodeCall(method, params, id);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state !== 'open') return Promise.reject(this.#closedError(method));
    const { signal } = options;
    if (signal?.aborted) {
      return Promise.reject(new RpcError(RpcErrorCodes.RequestCancelled, `The request '${method}' was cancelled before it was sent.`, undefined, { cause: signal.reason }));
    }
    const timeout = options.timeout === undefined ? this.#timeout : positive('timeout', options.timeout, 0, 0);
    this.#nextId = id;
    return new Promise<R>((resolve, reject) => {
      const entry: Pending = { method, resolve, reject, timer: undefined, signal, onAbort: undefined };
      this.#pending.set(id, entry);
      if (timeout > 0 && timeout !== Infinity) {
        entry.timer = setTimeout(() => this.#abandon(id, new RpcError(RpcErrorCodes.RequestTimeout, `No reply to '${method}' within ${timeout} ms.`)), timeout);
      }
      if (signal) {
        entry.onAbort = () =>
          this.#abandon(id, new RpcError(RpcErrorCodes.RequestCancelled, `The request '${method}' was cancelled.`, undefined, { cause: signal.reason }));
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.#stats.requestsSent++;
      this.#link.send(line).catch((error: unknown) => {
        const pending = this.#takePending(id);
        pending?.reject(new RpcError(RpcErrorCodes.ConnectionClosed, `Cannot send the request '${method}': ${messageOf(error)}`, undefined, { cause: error }));
      });
    });
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
    this.#shutDown(`the RPC peer was closed`);
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
        while (this.#queue.length - this.#queueHead >= this.#maxQueued && this.#state === 'open') {
          await new Promise<void>((resolve) => (this.#resumeReading = resolve));
        }
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
    const batch: Batch = { replies: [], waiting: 1 }; // held open until every entry is dispatched
    for (const entry of value) this.#onMessage(entry, batch, line);
    this.#batchDone(batch);
  }

  /** One message, alone or in a batch. */
  #onMessage(value: unknown, batch: Batch | undefined, line: string): void {
    const message = classify(value);
    switch (message.kind) {
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
        this.#reply(errorReply(message.id, RpcErrorCodes.InvalidRequest, 'Invalid Request'), batch);
        return;
      case 'notification': {
        const { method, params } = message.message;
        if (method === '$/cancelRequest') return this.#onCancel(params);
        const handler = this.#methods.get(method);
        if (handler === undefined) {
          if (!method.startsWith('$/')) this.#warn(new RpcWarning('unknown-notification', `The peer sent the notification '${method}', which has no handler.`, { line }));
          return;
        }
        this.#stats.notificationsHandled++;
        this.#enqueue({ method, params, id: undefined, handler, batch: undefined, generation: this.#generation, state: 'queued', context: undefined, cancelled: false });
        return;
      }
      case 'request': {
        const { method, params, id } = message.message;
        const handler = this.#methods.get(method);
        if (handler === undefined) {
          this.#reply(errorReply(id, RpcErrorCodes.MethodNotFound, 'Method not found'), batch);
          return;
        }
        if (batch) batch.waiting++;
        const job: Job = { method, params, id, handler, batch, generation: this.#generation, state: 'queued', context: undefined, cancelled: false };
        this.#serving.set(id, job);
        this.#enqueue(job);
      }
    }
  }

  #onResponse(message: RpcResultMessage | RpcErrorMessage): void {
    const { id } = message;
    const pending = typeof id === 'number' ? this.#takePending(id) : undefined;
    if (pending !== undefined) {
      if ('error' in message) {
        const { code, message: text, data } = message.error;
        pending.reject(new RpcError(code, text, data));
      } else {
        pending.resolve(message.result);
      }
      return;
    }
    if (typeof id === 'number' && this.#abandoned.delete(id)) {
      this.#stats.lateResponses++;
      return;
    }
    if (id === null && 'error' in message) {
      this.#warn(new RpcWarning('peer-error', `The peer reported an error it could not tie to a request: ${message.error.code} ${message.error.message}.`));
      return;
    }
    this.#stats.unknownResponses++;
    this.#warn(new RpcWarning('unknown-response', `The peer answered the id ${JSON.stringify(id)}, which this side is not waiting for; dropped.`));
  }

  #onCancel(params: RpcParams | undefined): void {
    const id = (params as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    const job = this.#serving.get(id);
    if (job === undefined || job.cancelled) return; // answered already: nothing to do
    job.cancelled = true;
    if (job.state === 'running') {
      job.context!.abort(new RpcError(RpcErrorCodes.RequestCancelled, `The peer cancelled the request '${job.method}'.`));
      return;
    }
    // Not started: answer now and let the queue skip it.
    job.state = 'done';
    this.#serving.delete(id);
    this.#reply(errorReply(id, RpcErrorCodes.RequestCancelled, 'Request cancelled'), job.batch);
    if (job.batch) this.#batchDone(job.batch);
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    this.#pump();
  }

  /** Starts queued jobs while there are free slots. Not reentrant: a handler that ends at once lands back here. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running.size < this.#concurrency && this.#queueHead < this.#queue.length) {
        const job = this.#queue[this.#queueHead++]!;
        if (job.state === 'queued') this.#start(job);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.#resumeReading && this.#queue.length - this.#queueHead < this.#maxQueued) {
      const resume = this.#resumeReading;
      this.#resumeReading = undefined;
      resume();
    }
  }

  #start(job: Job): void {
    job.state = 'running';
    this.#running.add(job);
    const context = (job.context = new HandlerContext(job.id, job.method, this));
    let value: unknown;
    try {
      value = job.handler(job.params, context);
    } catch (error) {
      this.#finish(job, false, error);
      return;
    }
    if (typeof (value as PromiseLike<unknown> | null)?.then === 'function') {
      (value as PromiseLike<unknown>).then(
        (result) => this.#finish(job, true, result),
        (error: unknown) => this.#finish(job, false, error),
      );
    } else {
      this.#finish(job, true, value);
    }
  }

  #finish(job: Job, ok: boolean, outcome: unknown): void {
    if (job.state !== 'running') return;
    job.state = 'done';
    this.#running.delete(job);
    const current = job.generation === this.#generation && this.#state === 'open';
    if (job.id !== undefined && this.#serving.get(job.id) === job) this.#serving.delete(job.id);
    // A handler that fails after its cancellation did what was asked: no warning for that.
    if (!ok && !(outcome instanceof RpcError) && !job.cancelled) {
      this.#warn(
        new RpcWarning('handler', `The handler of '${job.method}' failed${job.id === undefined ? '' : ' (the peer got an internal error)'}: ${messageOf(outcome)}`, {
          cause: outcome,
        }),
      );
    }
    if (job.id !== undefined && current) {
      this.#reply(ok ? { jsonrpc: '2.0', id: job.id, result: outcome === undefined ? null : outcome } : { jsonrpc: '2.0', id: job.id, error: this.#errorObject(job, outcome) }, job.batch);
      if (job.batch) this.#batchDone(job.batch);
    }
    this.#pump();
  }

  #errorObject(job: Job, error: unknown): RpcErrorObject {
    if (error instanceof RpcError) return error.toJSON();
    if (job.cancelled) return { code: RpcErrorCodes.RequestCancelled, message: 'Request cancelled' };
    switch (this.#exposeErrors) {
      case 'none':
        return { code: RpcErrorCodes.InternalError, message: 'Internal error' };
      case 'message':
        return { code: RpcErrorCodes.InternalError, message: messageOf(error) };
      case 'stack':
        return { code: RpcErrorCodes.InternalError, message: messageOf(error), data: { stack: error instanceof Error ? error.stack : undefined } };
    }
  }

  /** Sends a reply now, or adds it to its batch. */
  #reply(reply: RpcResultMessage | RpcErrorMessage, batch: Batch | undefined): void {
    if (batch) batch.replies.push(reply);
    else this.#sendReply(reply);
  }

  #batchDone(batch: Batch): void {
    if (--batch.waiting > 0 || batch.replies.length === 0) return;
    // A batch of only notifications gets nothing back, as the specification says.
    this.#sendReply(batch.replies);
  }

  #sendReply(reply: object): void {
    if (this.#state !== 'open') return;
    let line: string;
    try {
      line = JSON.stringify(reply);
    } catch (error) {
      // A result JSON cannot carry (a BigInt, a cycle): the caller still gets an answer.
      this.#warn(new RpcWarning('handler', `A reply could not be encoded as JSON: ${messageOf(error)}`, { cause: error }));
      const replies = Array.isArray(reply) ? reply : [reply];
      const fixed = replies.map((r: { id: RpcId }) => {
        try {
          JSON.stringify(r);
          return r;
        } catch {
          return errorReply(r.id, RpcErrorCodes.InternalError, 'The result could not be encoded as JSON');
        }
      });
      line = JSON.stringify(Array.isArray(reply) ? fixed : fixed[0]);
    }
    this.#stats.responsesSent += Array.isArray(reply) ? reply.length : 1;
    this.#link.send(line).catch((error: unknown) => {
      if (this.#state === 'open') this.#warn(new RpcWarning('send', `A reply could not be sent: ${messageOf(error)}`, { cause: error }));
    });
  }

  #takePending(id: number): Pending | undefined {
    const entry = this.#pending.get(id);
    if (entry === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
    return entry;
  }

  /** A request given up on (timeout, abort): reject it, remember its id so a late reply is known, and tell the peer. */
  #abandon(id: number, error: RpcError): void {
    const entry = this.#takePending(id);
    if (entry === undefined) return;
    this.#abandoned.add(id);
    if (this.#abandoned.size > ABANDONED_MEMORY) this.#abandoned.delete(this.#abandoned.values().next().value!);
    if (this.#state === 'open') this.#link.send(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } })).catch(() => {});
    entry.reject(error);
  }

  #peerExited(status: PluginExit): void {
    // Its last replies may still be on their way to the iterator: they are read in this turn
    // of the loop or the next, so settle after two turns, not at once.
    const generation = this.#generation;
    setImmediate(() =>
      setImmediate(() => {
        if (this.#state !== 'open' || generation !== this.#generation) return;
        this.#generation++;
        const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${String(status.code)}`;
        const reason = new RpcError(RpcErrorCodes.PeerExited, `The plugin ${how}`);
        this.#dropWork(reason);
        for (const id of [...this.#pending.keys()]) {
          const entry = this.#takePending(id)!;
          // Its request may still be read by the next instance; a reply from it is then late, not stray.
          this.#abandoned.add(id);
          entry.reject(new RpcError(RpcErrorCodes.PeerExited, `No reply to '${entry.method}': the plugin ${how} before answering.`, { code: status.code, signal: status.signal }));
        }
      }),
    );
  }

  /** Aborts the running handlers (their replies go nowhere) and forgets the queued requests. */
  #dropWork(reason: RpcError): void {
    for (const job of this.#running) {
      job.cancelled = true;
      job.context!.abort(reason);
    }
    for (let i = this.#queueHead; i < this.#queue.length; i++) this.#queue[i]!.state = 'done';
    this.#serving.clear();
    this.#pump();
  }

  #shutDown(why: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    this.#unsubscribe();
    this.#dropWork(new RpcError(RpcErrorCodes.ConnectionClosed, `The request was abandoned: ${why}.`));
    for (const id of [...this.#pending.keys()]) {
      const entry = this.#takePending(id)!;
      entry.reject(new RpcError(RpcErrorCodes.ConnectionClosed, `No reply to '${entry.method}': ${why}.`));
    }
    this.#resumeReading?.();
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function positive(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (value !== Infinity && !Number.isInteger(value))) {
    throw new RangeError(`Option ${name} must be an integer >= ${min} (or Infinity), got ${String(value)}.`);
  }
  return value;
}
