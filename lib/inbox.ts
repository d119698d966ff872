/**
 * Where read messages go: the `handleMessage` hook, and async iterators with backpressure.
 * @module
 */
import type { EventEmitter } from 'node:events';
import { type Codec, decodeLine, textCodec } from './codec.js';
import { PipeIOError } from './errors.js';
import { isSendPromise } from './writer.js';

/** Something whose reading can be paused. */
export interface FlowControl {
  /** Stop reading. */
  pause(): void;
  /** Read again. */
  resume(): void;
}

/** A server as the inbox sees it. */
export interface InboxOwner<T> extends EventEmitter {
  /** The hook every message goes through. */
  handleMessage(message: T): unknown;
  /** Where the server is in its life. */
  readonly state: string;
}

/** Messages an iterator may hold before reading pauses. */
const ITERATOR_HIGH_WATER = 1024;

/** @internal Delivers messages to the owner's hook and to its iterators. */
export class MessageInbox<T> {
  #lagging = new Set<object>();
  #enders = new Set<() => void>();

  constructor(
    private readonly owner: InboxOwner<T>,
    private readonly codec: Codec<T>,
    private readonly flow: FlowControl,
    private readonly warn: (error: PipeIOError) => void,
  ) {}

  /** Decodes a line and calls the hook; a bad line, a throw or a rejection becomes a warning, never a crash. */
  deliver(line: string): void {
    let message: T;
    if (this.codec === (textCodec as Codec<unknown>)) {
      message = line as T; // the hot path: no codec call, no allocation
    } else {
      const decoded = decodeLine(this.codec, line);
      if (!decoded.ok) {
        this.warn(new PipeIOError('ERR_DECODE', decoded.error.message, { cause: decoded.error }));
        return;
      }
      message = decoded.value;
    }
    try {
      const result = this.owner.handleMessage(message);
      // A handler that returns send()'s promise (the echo pattern) needs no watching.
      if (result instanceof Promise && !isSendPromise(result)) result.catch((error: unknown) => this.#handlerFailed(error));
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  #handlerFailed(error: unknown): void {
    this.warn(
      new PipeIOError('ERR_HANDLER', `A message handler failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      }),
    );
  }

  /** Ends every iterator once it has yielded what it holds. */
  end(): void {
    for (const end of this.#enders) end();
  }

  /** An iterator over `'message'` events; lagging iterators pause reading. */
  iterate(): AsyncIterableIterator<T> {
    const owner = this.owner;
    const buffered: T[] = [];
    let head = 0;
    let done = owner.state === 'stopped';
    let wake: (() => void) | undefined;
    const token = {};

    const onMessage = (message: T): void => {
      buffered.push(message);
      if (buffered.length - head >= ITERATOR_HIGH_WATER && !this.#lagging.has(token)) {
        if (this.#lagging.size === 0) this.flow.pause();
        this.#lagging.add(token);
      }
      wake?.();
    };
    const finish = (): void => {
      done = true;
      owner.off('message', onMessage);
      this.#enders.delete(finish);
      this.#unlag(token);
      wake?.();
    };
    if (!done) {
      owner.on('message', onMessage);
      this.#enders.add(finish);
    }

    const iterator: AsyncIterableIterator<T> = {
      next: async (): Promise<IteratorResult<T>> => {
        while (head === buffered.length && !done) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        if (head < buffered.length) {
          const value = buffered[head++]!;
          if (head === buffered.length) {
            buffered.length = 0;
            head = 0;
          }
          if (buffered.length - head < ITERATOR_HIGH_WATER / 2) this.#unlag(token);
          return { value, done: false };
        }
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<T>> => {
        finish();
        buffered.length = 0;
        head = 0;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  #unlag(token: object): void {
    if (this.#lagging.delete(token) && this.#lagging.size === 0) this.flow.resume();
  }
}
