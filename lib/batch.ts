/**
 * What one `write()` of the out pipe carries: the lines sent in one turn of the event loop,
 * and the one promise they share. The writer (`writer.ts`) queues and writes batches; the
 * handler's dispatch (`dispatch.ts`) asks whether a handler's result is a send promise.
 * @module
 */
import { NEWLINE, joinLines } from './framing.js';

/**
 * The most joined into one write: the kernel's pipe buffer. Large enough to amortise the
 * syscall; and a batch that fits an empty pipe is written whole, so the lines of one
 * promise rarely straddle a full pipe.
 */
export const MAX_CHUNK = 64 * 1024;

const noop = (): void => {};
const sendPromises = new WeakSet<Promise<void>>();

/**
 * @internal Whether `value` is a promise returned by `send()`: it never becomes an unhandled
 * rejection, and its failures are reported by the writer, so nobody else needs to watch it.
 */
export function isSendPromise(value: unknown): boolean {
  return value === WRITTEN || sendPromises.has(value as Promise<void>);
}

/**
 * What `send()` returns for a line it wrote before returning: one settled promise shared by all
 * of them, so the reply path allocates none.
 */
export const WRITTEN: Promise<void> = Promise.resolve();

/**
 * Lines sent in one turn of the event loop, written with one `write()` and settled with
 * one promise: a promise per line would cost more than the write itself (the bench saw
 * half the time of a send-heavy process go to collecting them).
 *
 * Text lines are kept as strings and joined at the write. Byte lines are copied into
 * `raw` as they are sent: the copy that joining them needs anyway, made early so that the
 * caller may reuse its Buffer as soon as `send()` returns, and so that the newline check
 * still holds when the bytes are written.
 */
export class Batch {
  /** The text lines, or null for a batch of bytes. */
  lines: string[] | null;
  /** The bytes: byte lines with their newlines (`used` of them so far), or what was rescued from a deleted pipe. */
  raw: Buffer | null;
  used = 0;
  /** The memory a batch of byte lines was given: the writer's to reuse once the batch is written. */
  readonly memory: Buffer | null;
  /** Queue accounting: characters (text) or bytes, plus one per newline. */
  size = 0;
  /** The most it takes: a pipe's worth, less what was written at once just before it (see {@link PipeWriter.send}). */
  limit = MAX_CHUNK;
  #promise: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #reject: ((error: Error) => void) | undefined;

  /**
   * A batch of text lines (no arguments), of byte lines (`memory` to copy them into, none of
   * it used yet), or of bytes rescued from a deleted pipe (`raw`).
   */
  constructor(raw: Buffer | null = null, memory: Buffer | null = null) {
    this.lines = raw === null && memory === null ? [] : null;
    this.raw = raw ?? memory;
    this.memory = memory;
    this.used = raw?.length ?? 0;
  }

  /** Copies a byte line and its newline in; the caller made sure they fit. */
  append(bytes: Buffer): void {
    // set(), not copy(): Buffer's copy() is a wrapper around it that showed in the profile.
    this.raw!.set(bytes, this.used);
    this.used += bytes.length;
    this.raw![this.used++] = NEWLINE;
  }

  /** The promise every line of this batch returns. */
  get promise(): Promise<void> {
    if (this.#promise === undefined) {
      this.#promise = new Promise<void>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
      sendPromises.add(this.#promise);
    }
    return this.#promise;
  }

  /** What to write: the joined text, or the bytes. */
  encode(): string | Buffer {
    return this.lines === null ? this.raw!.subarray(0, this.used) : joinLines(this.lines);
  }

  settle(error?: Error): void {
    this.lines = null;
    this.raw = null;
    if (error === undefined) {
      this.#resolve?.();
    } else if (this.#promise !== undefined) {
      // An ignored send() that fails must not be an unhandled rejection. Marking it handled
      // only now, when it fails, spares a second promise per batch on the hot path.
      this.#promise.catch(noop);
      this.#reject!(error);
    }
  }
}
