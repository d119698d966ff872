/**
 * The calling half of a peer: requests sent and not answered yet, their timeouts and aborts,
 * and the ids given up on, so that a late reply is told from a stray one.
 * @module
 */
import { RpcError, RpcErrorCodes } from './errors.js';
import type { RpcErrorMessage, RpcResultMessage } from './protocol.js';

interface Pending {
  method: string;
  resolve: (result: any) => void;
  reject: (error: RpcError) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Ids of abandoned requests remembered, to tell a late reply from a stray one. */
const ABANDONED_MEMORY = 10_000;

/** What became of a response: it settled a request, came after its request was given up, or matches nothing. */
export type ResponseFate = 'settled' | 'late' | 'unknown';

/** @internal */
export class PendingCalls {
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  readonly #abandoned = new Set<number>();

  /** @param cancel - tells the peer a request was given up on (`$/cancelRequest`) */
  constructor(private readonly cancel: (id: number) => void) {}

  /** Requests waiting for their reply. */
  get size(): number {
    return this.#pending.size;
  }

  /** The id for the next request. */
  nextId(): number {
    return ++this.#nextId;
  }

  /** Waits for the reply to request `id`, for at most `timeout` ms (0: no limit), until `signal` aborts. */
  track<R>(id: number, method: string, timeout: number, signal: AbortSignal | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const entry: Pending = { method, resolve, reject, timer: undefined, signal, onAbort: undefined };
      this.#pending.set(id, entry);
      if (timeout > 0 && timeout !== Infinity) {
        entry.timer = setTimeout(() => this.abandon(id, new RpcError(RpcErrorCodes.RequestTimeout, `No reply to '${method}' within ${timeout} ms.`)), timeout);
      }
      if (signal) {
        entry.onAbort = () => this.abandon(id, new RpcError(RpcErrorCodes.RequestCancelled, `The request '${method}' was cancelled.`, undefined, { cause: signal.reason }));
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
    });
  }

  /** Settles the request a response answers, if it is still waiting. */
  settle(message: RpcResultMessage | RpcErrorMessage): ResponseFate {
    const { id } = message;
    if (typeof id !== 'number') return 'unknown';
    const entry = this.#take(id);
    if (entry === undefined) return this.#abandoned.delete(id) ? 'late' : 'unknown';
    if ('error' in message) entry.reject(new RpcError(message.error.code, message.error.message, message.error.data));
    else entry.resolve(message.result);
    return 'settled';
  }

  /** The request could not be sent: reject it, nothing to tell the peer. */
  fail(id: number, error: (method: string) => RpcError): void {
    const entry = this.#take(id);
    entry?.reject(error(entry.method));
  }

  /** A request given up on (timeout, abort): reject it, remember its id, and tell the peer. */
  abandon(id: number, error: RpcError): void {
    const entry = this.#take(id);
    if (entry === undefined) return;
    this.#remember(id);
    this.cancel(id);
    entry.reject(error);
  }

  /** The ids waiting now. */
  ids(): number[] {
    return [...this.#pending.keys()];
  }

  /**
   * Rejects the waiting requests (those of `ids` only, if given) with `error(method)`. With
   * `remember`, their ids are kept so that replies still on their way count as late.
   */
  rejectAll(error: (method: string) => RpcError, remember: boolean, ids: readonly number[] = this.ids()): void {
    for (const id of ids) {
      const entry = this.#take(id);
      if (entry === undefined) continue; // settled meanwhile
      if (remember) this.#remember(id);
      entry.reject(error(entry.method));
    }
  }

  #remember(id: number): void {
    this.#abandoned.add(id);
    if (this.#abandoned.size > ABANDONED_MEMORY) this.#abandoned.delete(this.#abandoned.values().next().value!);
  }

  #take(id: number): Pending | undefined {
    const entry = this.#pending.get(id);
    if (entry === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
    return entry;
  }
}
