/**
 * Noticing that a pipe's path changed, cheaply.
 *
 * Two kinds of inotify watch (see `inotify.ts` for why not `fs.watch`):
 * - the FIFO's own inode, for what changes which inode its path names: its link count drops
 *   when the path is deleted or another file is renamed over it (`IN_ATTRIB`), or it is renamed
 *   away (`IN_MOVE_SELF`). The owner moves this watch to each new inode it serves ({@link
 *   PathWatch.follow}). Events of reads and writes are not asked for, so clients pay nothing.
 * - the folder, for its own end only (deleted or moved): one watch per folder serves every
 *   pipe in it.
 * An idle server costs nothing at all. Polling each path instead cost a quarter of a core for
 * 1,000 idle servers (2,000 lstat calls four times a second) and stalled the event loop when
 * the timers fired together.
 *
 * Where inotify cannot serve (its limits are reached, the folder was deleted or moved, which
 * ends its watch, or the path names something other than the pipe served, whose inode tells
 * nothing about the path) the folder falls back to polling every `intervalMs`: the owner asks
 * for it.
 * @module
 */
import path from 'node:path';
import { IN, type InotifyWatch, addWatch } from './inotify.js';

type Check = () => void;

class FolderWatch {
  readonly #entries = new Map<string, Set<Check>>();
  #watcher: InotifyWatch | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly folder: string,
    private readonly intervalMs: number,
  ) {
    try {
      this.#watcher = addWatch(folder, IN.DELETE_SELF | IN.MOVE_SELF | IN.ONLYDIR, () => {
        // The folder was deleted or moved, which ends its watch, or events were lost.
        this.poll();
        this.#all();
      });
    } catch {
      this.poll();
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  add(name: string, check: Check): void {
    let checks = this.#entries.get(name);
    if (!checks) this.#entries.set(name, (checks = new Set()));
    checks.add(check);
  }

  remove(name: string, check: Check): void {
    const checks = this.#entries.get(name);
    checks?.delete(check);
    if (checks?.size === 0) this.#entries.delete(name);
  }

  #all(): void {
    for (const checks of this.#entries.values()) for (const check of checks) check();
  }

  /** Polls from now on (where inotify cannot be trusted for this folder any more). */
  poll(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#timer === undefined && this.intervalMs > 0) {
      this.#timer = setInterval(() => this.#all(), this.intervalMs).unref();
    }
  }

  close(): void {
    this.#watcher?.close();
    clearInterval(this.#timer);
  }
}

const folders = new Map<string, FolderWatch>();

/** A path being watched. */
export interface PathWatch {
  /**
   * Watches `inode` (a path to it, such as `/proc/self/fd/N`) as the one the path names now,
   * instead of the one followed before.
   */
  follow(inode: string): void;
  /** Stops watching. */
  stop(): void;
  /** Switches the path's folder to polling (inotify cannot tell about the path any more). */
  poll(): void;
}

/**
 * Calls `check` whenever the entry at `file` may have changed (deleted, renamed, replaced, or
 * its folder gone), once {@link PathWatch.follow} has named the inode it should name.
 * `intervalMs` is the polling period used where inotify cannot serve; 0 means no polling.
 */
export function watchPath(file: string, intervalMs: number, check: Check): PathWatch {
  const folder = path.dirname(path.resolve(file));
  const name = path.basename(file);
  const watch = folders.get(folder) ?? new FolderWatch(folder, intervalMs);
  folders.set(folder, watch);
  watch.add(name, check);
  let inode: InotifyWatch | undefined;
  return {
    follow(target) {
      inode?.close();
      inode = undefined;
      try {
        inode = addWatch(target, IN.ATTRIB | IN.MOVE_SELF | IN.DELETE_SELF, check);
      } catch {
        watch.poll();
      }
    },
    stop() {
      inode?.close();
      watch.remove(name, check);
      if (watch.size === 0 && folders.get(folder) === watch) {
        watch.close();
        folders.delete(folder);
      }
    },
    poll: () => watch.poll(),
  };
}
