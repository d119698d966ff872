/**
 * Noticing that a pipe's path changed, cheaply.
 *
 * One inotify watch (`fs.watch`) per folder serves every pipe in it: a thousand servers
 * whose pipes share a folder cost one watch, and an idle server costs nothing at all.
 * Polling each path instead cost a quarter of a core for 1,000 idle servers (2,000 lstat
 * calls four times a second) and stalled the event loop when the timers fired together.
 *
 * Where inotify cannot serve (its limits are reached, or the folder itself was deleted,
 * which ends its watch, and Linux does not always say so) the folder falls back to
 * polling every `intervalMs`: the owner of a pipe that cannot be made again asks for it.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';

type Check = () => void;

class FolderWatch {
  readonly #entries = new Map<string, Set<Check>>();
  #watcher: fs.FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ino: number | undefined;

  constructor(
    readonly folder: string,
    private readonly intervalMs: number,
  ) {
    try {
      this.#ino = fs.statSync(folder).ino;
      // Not persistent: a watch must never keep a process alive on its own.
      this.#watcher = fs.watch(folder, { persistent: false }, (_event, name) => this.#changed(name));
      this.#watcher.on('error', () => this.poll());
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

  #changed(name: string | Buffer | null): void {
    if (name === null) return this.#all();
    const entry = String(name);
    // The folder's own name: it may have been deleted or moved, which ends the inotify watch.
    if (entry === path.basename(this.folder) && !this.#stillThere()) {
      this.poll();
      return this.#all();
    }
    for (const check of this.#entries.get(entry) ?? []) check();
  }

  #stillThere(): boolean {
    try {
      return fs.statSync(this.folder).ino === this.#ino;
    } catch {
      return false;
    }
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
  /** Stops watching. */
  stop(): void;
  /** Switches the path's folder to polling (its inotify watch may be dead). */
  poll(): void;
}

/**
 * Calls `check` whenever something happens to the entry at `file` (created, deleted,
 * renamed, replaced). `intervalMs` is the polling period used where inotify cannot
 * serve; 0 means no polling.
 */
export function watchPath(file: string, intervalMs: number, check: Check): PathWatch {
  const folder = path.dirname(path.resolve(file));
  const name = path.basename(file);
  let watch = folders.get(folder);
  if (!watch) folders.set(folder, (watch = new FolderWatch(folder, intervalMs)));
  watch.add(name, check);
  const owner = watch;
  return {
    stop() {
      owner.remove(name, check);
      if (owner.size === 0 && folders.get(folder) === owner) {
        owner.close();
        folders.delete(folder);
      }
    },
    poll: () => owner.poll(),
  };
}
