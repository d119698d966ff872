/**
 * Async iterators over a stream of values, with backpressure on the source; and the bounded
 * queue they are built on, which the message handlers' queue shares.
 * @module
 */

/** Something whose production can be paused. */
export interface FeedFlow {
  /** Stop producing. */
  pause(): void;
  /** Produce again. */
  resume(): void;
}

/** Values a backlog may hold before the source pauses. */
const HIGH_WATER = 1024;
/** Their size (characters, or bytes for a binary codec, of the lines they came from) at which it pauses too: a few huge lines are as heavy as many small ones. */
const HIGH_WATER_SIZE = 1024 * 1024;

/**
 * @internal One source, several consumers that may each need it paused: the source is paused
 * while any of them holds the gate, and resumes when the last lets go. One consumer's resume
 * therefore never undoes another's pause.
 */
export class FlowGate {
  #holders = new Set<object>();

  constructor(private readonly flow: FeedFlow) {}

  /** `holder` needs the source paused. */
  hold(holder: object): void {
    if (this.#holders.has(holder)) return;
    this.#holders.add(holder);
    if (this.#holders.size === 1) this.flow.pause();
  }

  /** `holder` no longer needs it. */
  release(holder: object): void {
    if (this.#holders.delete(holder) && this.#holders.size === 0) this.flow.resume();
  }
}

/**
 * @internal A FIFO queue of values that holds its {@link FlowGate} while it holds
 * {@link HIGH_WATER} values, or values of {@link HIGH_WATER_SIZE}, and lets go once it is
 * below half of both: whoever fills it faster than it is emptied gets paused, so memory is
 * bounded by the high water plus what the source delivers at once (one read).
 */
export class Backlog<T> {
  #values: T[] = [];
  #sizes: number[] = [];
  #head = 0;
  /** Size of the values not yet taken. */
  #size = 0;

  constructor(private readonly gate: FlowGate) {}

  /** Values not yet taken. */
  get length(): number {
    return this.#values.length - this.#head;
  }

  /** Adds `value`, which weighs `size` (its line's length). */
  push(value: T, size: number): void {
    this.#values.push(value);
    this.#sizes.push(size);
    this.#size += size;
    if (this.length >= HIGH_WATER || this.#size >= HIGH_WATER_SIZE) this.gate.hold(this);
  }

  /** Takes the oldest value; only when {@link length} > 0. */
  shift(): T {
    const value = this.#values[this.#head]!;
    this.#size -= this.#sizes[this.#head++]!;
    if (this.#head === this.#values.length) {
      this.#values = [];
      this.#sizes = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#values.length) {
      // Drop the front now and then, so a long-lived queue does not keep what it gave out.
      this.#values = this.#values.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    if (this.length < HIGH_WATER / 2 && this.#size < HIGH_WATER_SIZE / 2) this.gate.release(this);
    return value;
  }

  /** Forgets every value and lets go of the gate; returns how many there were. */
  clear(): number {
    const dropped = this.length;
    this.#values = [];
    this.#sizes = [];
    this.#head = 0;
    this.#size = 0;
    this.gate.release(this);
    return dropped;
  }
}

interface Subscriber<T> {
  backlog: Backlog<T>;
  wake: (() => void) | undefined;
  done: boolean;
}

/**
 * @internal Hands every pushed value to each open iterator. An iterator whose reader lags
 * pauses the source through its {@link Backlog}: a slow `for await` loop then bounds memory
 * instead of buffering the whole stream.
 */
export class MessageFeed<T> {
  #subscribers = new Set<Subscriber<T>>();
  #ended = false;
  readonly #gate: FlowGate;

  /** @param flow - the source, or a gate it already shares with other consumers */
  constructor(flow: FeedFlow | FlowGate) {
    this.#gate = flow instanceof FlowGate ? flow : new FlowGate(flow);
  }

  /** Whether any iterator is open. */
  get active(): boolean {
    return this.#subscribers.size > 0;
  }

  /** Gives `value` to every open iterator; `size` is what it weighs (its line's length). */
  push(value: T, size: number): void {
    for (const sub of this.#subscribers) {
      sub.backlog.push(value, size);
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
    // What it holds stays to be yielded; only the pause it asked for ends.
    this.#gate.release(sub.backlog);
    sub.wake?.();
  }

  /** A new iterator; it sees the values pushed from now on. */
  iterate(): AsyncIterableIterator<T> {
    const sub: Subscriber<T> = { backlog: new Backlog<T>(this.#gate), wake: undefined, done: this.#ended };
    if (!sub.done) this.#subscribers.add(sub);
    const iterator: AsyncIterableIterator<T> = {
      next: async (): Promise<IteratorResult<T>> => {
        while (sub.backlog.length === 0 && !sub.done) await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
        if (sub.backlog.length > 0) return { value: sub.backlog.shift(), done: false };
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<T>> => {
        // `break` out of a for-await lands here: stop collecting for this loop.
        this.#finish(sub);
        sub.backlog.clear();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
