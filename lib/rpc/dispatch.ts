/**
 * The serving half of a peer: the other side's requests and notifications, from arrival to
 * reply. Handlers start in arrival order, at most `concurrency` at once; the rest queue, and
 * the peer stops reading while the queue is full. Batch replies go out as one array once the
 * batch's last request is answered.
 * @module
 */
import { messageOf } from '../errors.js';
import { RpcError, type RpcErrorObject, RpcErrorCodes, RpcWarning } from './errors.js';
import type { RpcErrorMessage, RpcId, RpcNotificationMessage, RpcParams, RpcRequestMessage, RpcResultMessage } from './protocol.js';

/** @internal A handler as the dispatcher calls it; `RpcHandler` (peer.ts) is the public face. */
export type Handler<P> = (params: any, context: HandlerContext<P>) => unknown;

/** @internal The replies of one batch, sent as one array once its last request is answered. */
export interface Batch {
  replies: object[];
  waiting: number;
}

/** A request or notification from the peer, from its arrival to its reply. */
interface Job {
  readonly method: string;
  readonly params: RpcParams | undefined;
  /** `undefined` for a notification. */
  readonly id: RpcId | undefined;
  readonly handler: Handler<unknown>;
  readonly batch: Batch | undefined;
  /** The peer instance it came from; see Dispatcher.#generation. */
  readonly generation: number;
  state: 'queued' | 'running' | 'done';
  context: HandlerContext<unknown> | undefined;
  /** The peer sent `$/cancelRequest` for it, or it was dropped. */
  cancelled: boolean;
}

/** @internal What a handler gets besides the params: the public `RpcContext`, with `P` the peer. */
export class HandlerContext<P> {
  #controller: AbortController | undefined;
  constructor(
    readonly id: RpcId | undefined,
    readonly method: string,
    readonly peer: P,
  ) {}
  get signal(): AbortSignal {
    // Made on first use: most handlers never look, and a controller per call costs.
    return (this.#controller ??= new AbortController()).signal;
  }
  abort(reason: RpcError): void {
    (this.#controller ??= new AbortController()).abort(reason);
  }
}

/** @internal What the dispatcher needs from its peer. */
export interface DispatchHost<P> {
  readonly peer: P;
  readonly methods: ReadonlyMap<string, Handler<P>>;
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly exposeErrors: 'none' | 'message' | 'stack';
  /** Sends a reply (one message, or a batch's array), if the channel is still open. */
  sendReply(reply: object): void;
  warn(warning: RpcWarning): void;
}

/** @internal An error response with no data. */
export const errorReply = (id: RpcId, code: number, message: string): RpcErrorMessage => ({ jsonrpc: '2.0', id, error: { code, message } });

/** @internal */
export class Dispatcher<P> {
  /** The peer's requests not answered yet (queued or running), by id, for `$/cancelRequest`. */
  readonly #serving = new Map<RpcId, Job>();
  readonly #running = new Set<Job>();
  #queue: Job[] = [];
  #queueHead = 0;
  #pumping = false;
  #room: (() => void) | undefined;
  /** Bumped when the peer's process is gone: work that came from it is answered to nobody. */
  #generation = 0;
  /** Notifications given to a handler. */
  notificationsHandled = 0;

  constructor(private readonly host: DispatchHost<P>) {}

  /** Handlers running now. */
  get active(): number {
    return this.#running.size;
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** Resolves once the queue is below `maxQueued` (at once if it is), or {@link wake} is called. */
  room(): Promise<void> | undefined {
    if (this.queued < this.host.maxQueued) return undefined;
    return new Promise<void>((resolve) => (this.#room = resolve));
  }

  /** Lets a reader waiting in {@link room} go (the peer is closing). */
  wake(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  /** A batch, held open until {@link closeBatch}: entries dispatched meanwhile cannot complete it early. */
  openBatch(): Batch {
    return { replies: [], waiting: 1 };
  }

  /** Every entry is dispatched: the batch's replies go out once its requests are answered. */
  closeBatch(batch: Batch): void {
    if (--batch.waiting > 0 || batch.replies.length === 0) return;
    // A batch of only notifications gets nothing back, as the specification says.
    this.host.sendReply(batch.replies);
  }

  /** Sends a reply now, or adds it to its batch. */
  reply(reply: RpcResultMessage | RpcErrorMessage, batch: Batch | undefined): void {
    if (batch) batch.replies.push(reply);
    else this.host.sendReply(reply);
  }

  request({ method, params, id }: RpcRequestMessage, batch: Batch | undefined): void {
    const handler = this.host.methods.get(method);
    if (handler === undefined) {
      this.reply(errorReply(id, RpcErrorCodes.MethodNotFound, 'Method not found'), batch);
      return;
    }
    if (batch) batch.waiting++;
    const job: Job = { method, params, id, handler: handler as Handler<unknown>, batch, generation: this.#generation, state: 'queued', context: undefined, cancelled: false };
    this.#serving.set(id, job);
    this.#enqueue(job);
  }

  notification({ method, params }: RpcNotificationMessage, line: string): void {
    if (method === '$/cancelRequest') return this.#cancel(params);
    const handler = this.host.methods.get(method);
    if (handler === undefined) {
      // `$/` notifications are optional by the LSP's convention: no handler, no noise.
      if (!method.startsWith('$/')) this.host.warn(new RpcWarning('unknown-notification', `The peer sent the notification '${method}', which has no handler.`, { line }));
      return;
    }
    this.notificationsHandled++;
    this.#enqueue({ method, params, id: undefined, handler: handler as Handler<unknown>, batch: undefined, generation: this.#generation, state: 'queued', context: undefined, cancelled: false });
  }

  /**
   * Aborts the running handlers with `reason` (their replies go to nobody) and forgets the
   * queued requests: the peer that sent them is gone.
   */
  dropAll(reason: RpcError): void {
    this.#generation++;
    for (const job of this.#running) {
      job.cancelled = true;
      job.context!.abort(reason);
    }
    for (let i = this.#queueHead; i < this.#queue.length; i++) this.#queue[i]!.state = 'done';
    this.#serving.clear();
    this.#pump();
  }

  #cancel(params: RpcParams | undefined): void {
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
    this.reply(errorReply(id, RpcErrorCodes.RequestCancelled, 'Request cancelled'), job.batch);
    if (job.batch) this.closeBatch(job.batch);
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
      while (this.#running.size < this.host.concurrency && this.#queueHead < this.#queue.length) {
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
    if (this.#room && this.queued < this.host.maxQueued) this.wake();
  }

  #start(job: Job): void {
    job.state = 'running';
    this.#running.add(job);
    const context = (job.context = new HandlerContext<unknown>(job.id, job.method, this.host.peer));
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
    if (job.id !== undefined && this.#serving.get(job.id) === job) this.#serving.delete(job.id);
    // A handler that fails after its cancellation did what was asked: no warning for that.
    if (!ok && !(outcome instanceof RpcError) && !job.cancelled) {
      this.host.warn(
        new RpcWarning('handler', `The handler of '${job.method}' failed${job.id === undefined ? '' : ' (the peer got an internal error)'}: ${messageOf(outcome)}`, {
          cause: outcome,
        }),
      );
    }
    if (job.id !== undefined && job.generation === this.#generation) {
      this.reply(ok ? { jsonrpc: '2.0', id: job.id, result: outcome === undefined ? null : outcome } : { jsonrpc: '2.0', id: job.id, error: this.#errorObject(job, outcome) }, job.batch);
      if (job.batch) this.closeBatch(job.batch);
    }
    this.#pump();
  }

  #errorObject(job: Job, error: unknown): RpcErrorObject {
    if (error instanceof RpcError) return error.toJSON();
    if (job.cancelled) return { code: RpcErrorCodes.RequestCancelled, message: 'Request cancelled' };
    switch (this.host.exposeErrors) {
      case 'none':
        return { code: RpcErrorCodes.InternalError, message: 'Internal error' };
      case 'message':
        return { code: RpcErrorCodes.InternalError, message: messageOf(error) };
      case 'stack':
        return { code: RpcErrorCodes.InternalError, message: messageOf(error), data: { stack: error instanceof Error ? error.stack : undefined } };
    }
  }
}

