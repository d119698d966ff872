/**
 * Calling `handleMessage` with a bounded number of its promises pending: in order, one at a
 * time by default, with backpressure on the in pipe while every slot is taken.
 *
 * A handler that returns no promise costs one comparison per message: no promise, no
 * microtask, no queue. Only when a promise is pending in every slot do messages go to a
 * {@link Backlog}, which pauses reading once it is full, the same way a lagging iterator does.
 * @module
 */
import { PipeIOError, messageOf } from './errors.js';
import { Backlog, type FlowGate } from './feed.js';
import type { ResolvedOptions } from './options.js';
import { isSendPromise } from './batch.js';

/** Who handles the messages. */
export interface MessageHandler<T> {
  /** The hook every message goes through. */
  handleMessage(message: T): unknown;
  /**
   * When present (looked up at the first message), it takes the place of `handleMessage`: it
   * gets the messages of one read at a time, in order, and a promise it returns holds one slot.
   */
  handleMessages?(messages: T[]): unknown;
}

/** A pending handler promise: which run it belongs to, and whether its slot is free again. */
interface Slot {
  readonly run: number;
  freed: boolean;
  timer: NodeJS.Timeout | undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * @internal Hands messages to the handler, at most `concurrency` pending promises at a time.
 *
 * Invariant: the backlog holds messages only while every slot is taken (after each
 * {@link #pump}), so {@link deliver} decides with one comparison and cannot overtake them.
 */
export class HandlerDispatch<T> {
  #pending = 0;
  readonly #backlog: Backlog<T>;
  /** Batches waiting for a slot, when the owner has `handleMessages`. */
  readonly #batches: Backlog<T[]>;
  /** Whether the owner takes batches: decided at the first message, for good (the queues hold one kind). */
  #batched: boolean | undefined;
  /** Counts starts and stops: a promise of an earlier run frees no slot of this one. */
  #run = 0;
  /** Set while {@link drain} waits for the handlers to be done. */
  #idle: (() => void) | undefined;

  /**
   * @param owner - whose `handleMessage` is called
   * @param gate - pauses reading while the backlog is full
   * @param options - `concurrency`, `handlerTimeout`, `stopTimeout`
   * @param path - the in pipe, named in reports
   * @param warn - where reports go
   */
  constructor(
    private readonly owner: MessageHandler<T>,
    gate: FlowGate,
    private readonly options: Pick<ResolvedOptions, 'concurrency' | 'handlerTimeout' | 'stopTimeout'>,
    private readonly path: string,
    private readonly warn: (error: PipeIOError) => void,
  ) {
    this.#backlog = new Backlog<T>(gate);
    this.#batches = new Backlog<T[]>(gate);
  }

  /** Whether messages go to the owner's `handleMessages`, in batches. */
  get batched(): boolean {
    return (this.#batched ??= typeof this.owner.handleMessages === 'function');
  }

  /** Calls the handler now, or queues the message while every slot is taken. */
  deliver(message: T, size: number): void {
    if (this.batched) this.#deliverBatch([message], size);
    else if (this.#pending >= this.options.concurrency) this.#backlog.push(message, size);
    else this.#call(message);
  }

  /** {@link deliver} for the messages of one read; `lines[i].length` is what message i weighs. The array is kept. */
  deliverAll(messages: T[], lines: ArrayLike<{ readonly length: number }>): void {
    if (this.batched) {
      let size = 0;
      for (let i = 0; i < lines.length; i++) size += lines[i]!.length;
      this.#deliverBatch(messages, size);
      return;
    }
    const { concurrency } = this.options;
    for (let i = 0; i < messages.length; i++) {
      if (this.#pending >= concurrency) this.#backlog.push(messages[i]!, lines[i]!.length);
      else this.#call(messages[i]!);
    }
  }

  #deliverBatch(messages: T[], size: number): void {
    if (this.#pending >= this.options.concurrency) this.#batches.push(messages, size);
    else this.#callBatch(messages);
  }

  #call(message: T): void {
    let result: unknown;
    try {
      result = this.owner.handleMessage(message);
    } catch (error) {
      this.#failed(error);
      return;
    }
    this.#watch(result);
  }

  #callBatch(messages: T[]): void {
    let result: unknown;
    try {
      result = this.owner.handleMessages!(messages);
    } catch (error) {
      this.#failed(error);
      return;
    }
    this.#watch(result);
  }

  /** What a handler returned: a promise (not send()'s) takes a slot until it settles. */
  #watch(result: unknown): void {
    if (result instanceof Promise) {
      // send()'s promise keeps its own order and backpressure, and its failures are reported
      // by the writer: waiting on it would cost the echo pattern its one write per turn.
      if (!isSendPromise(result)) this.#track(result);
    } else if (isThenable(result)) {
      this.#track(Promise.resolve(result));
    }
  }

  #track(promise: Promise<unknown>): void {
    const slot: Slot = { run: this.#run, freed: false, timer: undefined };
    this.#pending++;
    if (this.options.handlerTimeout > 0) {
      slot.timer = setTimeout(() => this.#timedOut(slot), this.options.handlerTimeout);
      // A handler stuck on nothing must not keep the process alive just to be reported.
      slot.timer.unref();
    }
    promise.then(
      () => this.#settled(slot),
      (error: unknown) => {
        this.#failed(error);
        this.#settled(slot);
      },
    );
  }

  #settled(slot: Slot): void {
    if (slot.freed) return;
    clearTimeout(slot.timer);
    this.#free(slot);
  }

  #timedOut(slot: Slot): void {
    if (slot.freed) return;
    this.warn(
      new PipeIOError(
        'ERR_HANDLER_TIMEOUT',
        `A message handler for '${this.path}' has not settled after ${this.options.handlerTimeout} ms (handlerTimeout): ` +
          'the next message goes on without it. Its promise is no longer awaited; find what it waits for.',
        { path: this.path },
      ),
    );
    this.#free(slot);
  }

  #free(slot: Slot): void {
    slot.freed = true;
    if (slot.run !== this.#run) return;
    this.#pending--;
    this.#pump();
  }

  /** Hands queued messages to free slots, oldest first. */
  #pump(): void {
    while (this.#pending < this.options.concurrency && this.#backlog.length > 0) this.#call(this.#backlog.shift());
    while (this.#pending < this.options.concurrency && this.#batches.length > 0) this.#callBatch(this.#batches.shift());
    if (this.#pending === 0 && this.#backlog.length === 0 && this.#batches.length === 0) this.#idle?.();
  }

  #failed(error: unknown): void {
    this.warn(new PipeIOError('ERR_HANDLER', `A message handler failed: ${messageOf(error)}`, { path: this.path, cause: error }));
  }

  /**
   * At stop, once every message read has been delivered: lets the handlers finish them (those
   * pending and those queued) for at most `stopTimeout`; then drops what is left, reports it,
   * and starts afresh for the next run.
   */
  async drain(): Promise<void> {
    const { stopTimeout } = this.options;
    if ((this.#pending > 0 || this.#backlog.length > 0 || this.#batches.length > 0) && stopTimeout > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        // Not unref'd: a process must not exit in the middle of stop() because a handler waits on nothing.
        timer = setTimeout(resolve, stopTimeout);
      });
      clearTimeout(timer);
      this.#idle = undefined;
    }
    const pending = this.#pending;
    let dropped = this.#backlog.clear();
    for (let i = this.#batches.length; i > 0; i--) dropped += this.#batches.shift().length;
    this.#batches.clear();
    this.#pending = 0;
    this.#run++;
    if (pending > 0 || dropped > 0) {
      this.warn(
        new PipeIOError(
          'ERR_HANDLER_TIMEOUT',
          `stop() waited ${stopTimeout} ms (stopTimeout) for the message handlers of '${this.path}': ` +
            `${pending} still pending (no longer awaited), ${dropped} message${dropped === 1 ? '' : 's'} read but never handled (dropped). ` +
            'Raise stopTimeout, or bound each handler with handlerTimeout.',
          { path: this.path },
        ),
      );
    }
  }
}
