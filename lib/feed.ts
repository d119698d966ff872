/**
 * Async iterators over a stream of values, with backpressure on the source.
 * @module
 */

/** Something whose production can be paused. */
export interface FeedFlow {
  /** Stop producing. */
  pause(): void;
  /** Produce again. */
  resume(): void;
}

/** Values an iterator may hold before the source pauses. */
const HIGH_WATER = 1024;

interface Subscriber<T> {
  buffered: T[];
  head: number;
  wake: (() => void) | undefined;
  done: boolean;
}

/**
 * @internal Hands every pushed value to each open iterator. While any iterator holds
 * {@link HIGH_WATER} values its reader has not taken, the source is paused: a slow
 * `for await` loop then bounds memory instead of buffering the whole stream.
 */
export class MessageFeed<T> {
  #subscribers = new Set<Subscriber<T>>();
  #lagging = new Set<Subscriber<T>>();
  #ended = false;

  constructor(private readonly flow: FeedFlow) {}

  /** Gives `value` to every open iterator. */
  push(value: T): void {
    for (const sub of this.#subscribers) {
      sub.buffered.push(value);
      if (sub.buffered.length - sub.head >= HIGH_WATER && !this.#lagging.has(sub)) {
        if (this.#lagging.size === 0) this.flow.pause();
        this.#lagging.add(sub);
      }
      sub.wake?.();
    }
  }

  /** No more values: iterators finish once they have yielded what they hold. */
  end(): void {
    this.#ended = true;
    for (const sub of this.#subscribers) this.#finish(sub);
  }

  #finish(sub: Subscriber<T>): void {
    sub.done = true;
    this.#subscribers.delete(sub);
    this.#unlag(sub);
    sub.wake?.();
  }

  #unlag(sub: Subscriber<T>): void {
    if (this.#lagging.delete(sub) && this.#lagging.size === 0) this.flow.resume();
  }

  /** A new iterator; it sees the values pushed from now on. */
  iterate(): AsyncIterableIterator<T> {
    const sub: Subscriber<T> = { buffered: [], head: 0, wake: undefined, done: this.#ended };
    if (!sub.done) this.#subscribers.add(sub);
    const iterator: AsyncIterableIterator<T> = {
      next: async (): Promise<IteratorResult<T>> => {
        while (sub.head === sub.buffered.length && !sub.done) await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
        if (sub.head < sub.buffered.length) {
          const value = sub.buffered[sub.head++]!;
          if (sub.head === sub.buffered.length) {
            sub.buffered = [];
            sub.head = 0;
          } else if (sub.head > 4096 && sub.head * 2 > sub.buffered.length) {
            // Drop the front now and then, so a long-lived iterator does not keep what it yielded.
            sub.buffered = sub.buffered.slice(sub.head);
            sub.head = 0;
          }
          if (sub.buffered.length - sub.head < HIGH_WATER / 2) this.#unlag(sub);
          return { value, done: false };
        }
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<T>> => {
        // `break` out of a for-await lands here: stop collecting for this loop.
        this.#finish(sub);
        sub.buffered = [];
        sub.head = 0;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
