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
/** Their size (characters, or bytes for a binary codec, of the lines they came from) at which it pauses too: a few huge lines are as heavy as many small ones. */
const HIGH_WATER_SIZE = 1024 * 1024;

interface Subscriber<T> {
  buffered: T[];
  sizes: number[];
  head: number;
  /** Size of the values not yet taken. */
  size: number;
  wake: (() => void) | undefined;
  done: boolean;
}

/**
 * @internal Hands every pushed value to each open iterator. While any iterator holds
 * {@link HIGH_WATER} values, or values of {@link HIGH_WATER_SIZE}, that its reader has not
 * taken, the source is paused: a slow `for await` loop then bounds memory instead of
 * buffering the whole stream.
 */
export class MessageFeed<T> {
  #subscribers = new Set<Subscriber<T>>();
  #lagging = new Set<Subscriber<T>>();
  #ended = false;

  constructor(private readonly flow: FeedFlow) {}

  /** Whether any iterator is open. */
  get active(): boolean {
    return this.#subscribers.size > 0;
  }

  /** Gives `value` to every open iterator; `size` is what it weighs (its line's length). */
  push(value: T, size: number): void {
    for (const sub of this.#subscribers) {
      sub.buffered.push(value);
      sub.sizes.push(size);
      sub.size += size;
      if ((sub.buffered.length - sub.head >= HIGH_WATER || sub.size >= HIGH_WATER_SIZE) && !this.#lagging.has(sub)) {
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
    const sub: Subscriber<T> = { buffered: [], sizes: [], head: 0, size: 0, wake: undefined, done: this.#ended };
    if (!sub.done) this.#subscribers.add(sub);
    const iterator: AsyncIterableIterator<T> = {
      next: async (): Promise<IteratorResult<T>> => {
        while (sub.head === sub.buffered.length && !sub.done) await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
        if (sub.head < sub.buffered.length) {
          const value = sub.buffered[sub.head]!;
          sub.size -= sub.sizes[sub.head++]!;
          if (sub.head === sub.buffered.length) {
            sub.buffered = [];
            sub.sizes = [];
            sub.head = 0;
          } else if (sub.head > 4096 && sub.head * 2 > sub.buffered.length) {
            // Drop the front now and then, so a long-lived iterator does not keep what it yielded.
            sub.buffered = sub.buffered.slice(sub.head);
            sub.sizes = sub.sizes.slice(sub.head);
            sub.head = 0;
          }
          if (sub.buffered.length - sub.head < HIGH_WATER / 2 && sub.size < HIGH_WATER_SIZE / 2) this.#unlag(sub);
          return { value, done: false };
        }
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<T>> => {
        // `break` out of a for-await lands here: stop collecting for this loop.
        this.#finish(sub);
        sub.buffered = [];
        sub.sizes = [];
        sub.head = 0;
        sub.size = 0;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
