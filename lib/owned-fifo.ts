/**
 * A FIFO path served for a server's whole run: the inode it names now, and a watch that
 * notices when the path is deleted or replaced and brings the pipe back (made again, or a new
 * FIFO of the server's user adopted). The kinds of pipe a reader or writer can serve
 * ({@link FifoSource}) are declared here too.
 * @module
 */
import type fs from 'node:fs';
import { PipeIOError } from './errors.js';
import { type FifoHandle, type FifoOptions, acquireFifo, kindOf, lstatOrNull } from './fifo.js';
import { type PathWatch, watchPath } from './watch.js';

/**
 * Where a reader or writer gets its pipe: the current {@link FifoHandle}, a watch on its path, and
 * a way to give the path up. {@link OwnedFifo} is the server's kind (made, watched, made again);
 * a session's pipes are another (lib/session/pipes.ts): opened once, never watched.
 */
export interface FifoSource {
  /** The inode served now. */
  readonly current: FifoHandle;
  /** Starts noticing a deleted or replaced path, if this kind of pipe does. */
  watch(intervalMs: number): void;
  /** Stops watching and removes the path if it is still this pipe's (and the source removes its pipes). */
  release(): void;
}

/** Makes the {@link FifoSource} a reader or writer serves; `hooks` hear of a replaced pipe. */
export type AcquireFifo = (hooks: OwnedFifoHooks) => Promise<FifoSource>;

/** What an {@link OwnedFifo} tells its owner. */
export interface OwnedFifoHooks {
  /** The path was deleted or replaced, and `next` now serves it; `previous` is the owner's to retire and close. */
  replaced(next: FifoHandle, previous: FifoHandle): void;
  /** Something is wrong that the server survives (it keeps serving and keeps checking). */
  warning(error: PipeIOError): void;
}

/**
 * A FIFO path the server serves for its whole run: the current {@link FifoHandle}, and a
 * watch that notices when the path is deleted or replaced and brings the pipe back.
 */
export class OwnedFifo implements FifoSource {
  #current: FifoHandle;
  #watch: PathWatch | undefined;
  #checking = false;
  #again = false;
  #released = false;
  #warned: string | undefined;

  private constructor(
    readonly path: string,
    private readonly options: FifoOptions,
    private readonly hooks: OwnedFifoHooks,
    current: FifoHandle,
  ) {
    this.#current = current;
  }

  /** Creates or opens the pipe and locks it. */
  static async acquire(path: string, options: FifoOptions, hooks: OwnedFifoHooks): Promise<OwnedFifo> {
    return new OwnedFifo(path, options, hooks, await acquireFifo(path, options));
  }

  /** The inode that the path names now. */
  get current(): FifoHandle {
    return this.#current;
  }

  /**
   * Checks the path whenever inotify reports a change to it, or every `intervalMs` where
   * inotify cannot serve. 0 turns watching off. Never keeps the process alive.
   */
  watch(intervalMs: number): void {
    if (intervalMs <= 0 || this.#watch !== undefined || this.#released) return;
    this.#watch = watchPath(this.path, intervalMs, () => void this.check());
    this.#watch.follow(this.#current.inodePath);
  }

  #warnOnce(error: PipeIOError): void {
    if (this.#warned === error.code) return;
    this.#warned = error.code;
    this.hooks.warning(error);
  }

  /** Looks at the path once, and brings the pipe back if it was deleted or replaced by another FIFO. */
  async check(): Promise<void> {
    if (this.#released) return;
    if (this.#checking) {
      // A change during a check (the pipe made again while we looked) needs one more look.
      this.#again = true;
      return;
    }
    this.#checking = true;
    try {
      let stats: fs.Stats | null;
      try {
        stats = lstatOrNull(this.path);
      } catch (error) {
        this.#warnOnce(error as PipeIOError);
        return;
      }
      if (this.#released || this.#current.isAt(stats)) {
        this.#warned = undefined;
        return;
      }
      if (stats !== null && !stats.isFIFO()) {
        // Our inode's watch tells nothing about this file: only polling sees it go.
        this.#watch?.poll();
        this.#warnOnce(
          new PipeIOError(
            'ERR_NOT_A_FIFO',
            `'${this.path}' was replaced by ${kindOf(stats)}; it is left untouched, and clients already connected are still served.`,
            { path: this.path },
          ),
        );
        return;
      }
      let next: FifoHandle;
      try {
        next = await acquireFifo(this.path, this.options);
      } catch (error) {
        // Its folder may be gone (its watch with it), or the path is not ours to serve, which our
        // inode's watch cannot tell: poll until it is back.
        this.#watch?.poll();
        if (error instanceof PipeIOError && error.code === 'ERR_PIPE_UNSAFE') {
          // Someone else's FIFO, or an unsafe folder: never served; say why, keep the clients we have.
          this.#warnOnce(error);
          return;
        }
        this.#warnOnce(
          new PipeIOError(
            'ERR_PIPE_RECREATE',
            `The pipe '${this.path}' is gone and cannot be made again yet (${(error as Error).message}); still trying.`,
            { path: this.path, cause: error },
          ),
        );
        return;
      }
      if (this.#released) {
        if (this.options.managePipes) next.unlinkIfOurs();
        next.close();
        return;
      }
      this.#warned = undefined;
      const previous = this.#current;
      this.#current = next;
      this.#watch?.follow(next.inodePath);
      this.hooks.replaced(next, previous);
    } finally {
      this.#checking = false;
      if (this.#again) {
        this.#again = false;
        void this.check();
      }
    }
  }

  /**
   * Stops watching and gives the path up: removes it when managed (only if it is still
   * ours). The owner closes its handles afterwards; removing first means a client that
   * opens the path from then on fails at once with ENOENT instead of waiting on a dying pipe.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#watch?.stop();
    this.#watch = undefined;
    if (this.options.managePipes) this.#current.unlinkIfOurs();
  }
}
