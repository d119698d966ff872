/**
 * The start/stop state machine every server shares.
 *
 * ```
 *  idle ──start()──▶ starting ──ok──▶ running ──stop() / signal──▶ stopping ──▶ stopped
 *                       │ failed                                                  │
 *                       └──────────────(cleaned up)──────────────────────────────▶┤
 *                                                  start() again ◀────────────────┘
 * ```
 * A call that arrives during a transition waits for it and then acts, so `start()` and
 * `stop()` may be called in any order, any number of times. The one exception: `stop()` during
 * `starting` first aborts the signal {@link PipeServerBase.open} was given, so that a start
 * that waits on something slow (a broker out of reach) gives up now instead of at its timeout.
 * @module
 */
import { EventEmitter } from 'node:events';
import { PipeIOError } from './errors.js';

/** Where a server is in its life. */
export type ServerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Listener signatures keyed by event name, as `EventEmitter` takes them. */
export type EventMapOf<T> = { [K in keyof T]: unknown[] };

/**
 * Base of every server: `start()`, `stop()`, `closed`, `await using`, and an abort signal.
 * Subclasses say how to open and how to close.
 */
export abstract class PipeServerBase<Events extends EventMapOf<Events>> extends EventEmitter<Events> {
  #state: ServerState = 'idle';
  #transition: Promise<void> = Promise.resolve();
  #closed: Promise<void>;
  #settleClosed: (error?: unknown) => void = () => {};
  #signal: AbortSignal | undefined;
  #onAbort = (): void => void this.stop();
  /** The start in progress, for stop() to cancel. */
  #opening: AbortController | undefined;

  /** @param signal - when aborted, the server stops */
  constructor(signal?: AbortSignal) {
    super();
    this.#signal = signal;
    this.#closed = this.#newClosed();
  }

  #newClosed(): Promise<void> {
    const closed = new Promise<void>((resolve, reject) => {
      this.#settleClosed = (error?: unknown) => (error === undefined ? resolve() : reject(error));
    });
    // `closed` is for those who want it; a server nobody awaits must not raise an unhandled rejection.
    closed.catch(() => {});
    return closed;
  }

  /**
   * Opens the pipes. On failure, {@link close} runs to clean up what was opened.
   * @param signal - aborted when `stop()` is called before this settles; an open that may wait
   *   long should then reject soon (its reason is a {@link PipeIOError} `ERR_SERVER_STOPPED`)
   */
  protected abstract open(signal: AbortSignal): Promise<void>;
  /** Closes everything; must not throw, and must cope with a half-finished {@link open}. */
  protected abstract close(): Promise<void>;

  /** Where the server is in its life. */
  get state(): ServerState {
    return this.#state;
  }

  /**
   * Settles when the server stops: resolves after `stop()`, rejects with the error when `start()`
   * failed. Like the Python original's `wait()`. A restarted server has a new `closed`.
   */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Creates or opens the pipes and serves. Resolves when serving; rejects with a {@link PipeIOError}. */
  start(): Promise<void> {
    // After a failed start the chain holds that rejection: a new start() must try again, not repeat it.
    this.#transition = this.#transition.catch(() => {}).then(() => this.#start());
    return this.#transition;
  }

  /** Stops serving and closes everything. Idempotent; never rejects. */
  stop(): Promise<void> {
    this.#opening?.abort(new PipeIOError('ERR_SERVER_STOPPED', 'The server was stopped before it finished starting.'));
    const stopping = this.#transition.catch(() => {}).then(() => this.#stop());
    this.#transition = stopping;
    return stopping;
  }

  async #start(): Promise<void> {
    if (this.#state === 'running') return;
    if (this.#state === 'stopped') this.#closed = this.#newClosed();
    if (this.#signal?.aborted) {
      const error = new PipeIOError('ERR_SERVER_STOPPED', 'The server was not started: its abort signal is already aborted.', {
        cause: this.#signal.reason,
      });
      this.#state = 'stopped';
      this.#settleClosed(error);
      throw error;
    }
    this.#state = 'starting';
    const opening = (this.#opening = new AbortController());
    try {
      await this.open(opening.signal);
    } catch (error) {
      await this.close();
      this.#state = 'stopped';
      this.#settleClosed(error);
      throw error;
    } finally {
      this.#opening = undefined;
    }
    this.#state = 'running';
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    // Aborted while starting: the listener came too late to hear it.
    if (this.#signal?.aborted) void this.stop();
  }

  async #stop(): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.#signal?.removeEventListener('abort', this.#onAbort);
    await this.close();
    this.#state = 'stopped';
    this.#settleClosed();
    (this as EventEmitter).emit('close');
  }

  /** `await using server = …` stops the server when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Reports a problem the server survives: to `'warning'` listeners, or to
   * `process.emitWarning` when there are none, so it is seen but never crashes the host.
   * Takes any error with a `code` ({@link PipeIOError}, or a subclass's own kind).
   */
  protected warn(error: Error): void {
    const emitter = this as EventEmitter;
    if (emitter.listenerCount('warning') > 0) emitter.emit('warning', error);
    else process.emitWarning(error);
  }
}
