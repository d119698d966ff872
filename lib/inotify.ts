/**
 * inotify watches with the events we choose, through one instance per process.
 *
 * Why not `fs.watch()`: it watches a folder for everything, `IN_MODIFY` included, and a
 * folder watched for events on its entries costs every `write()` into a FIFO in it: the kernel
 * looks up the folder (a reference taken and dropped on its dentry, a cache line that sixteen
 * writers then fight over) and queues an event. Sixteen clients writing a line per `write()`
 * lost 12% of their throughput to it (bench "in16"), and each event woke the server for a path
 * that had not changed. The callers here watch a folder only for its own end and a FIFO's own
 * inode only for what changes its path (its link count, a rename): a `write()` then costs the
 * writer nothing more than with no watch at all.
 *
 * One instance serves the process (Linux allows 128 per user by default, and a thousand
 * servers would need a thousand), opened with the first watch and closed with the last. Its
 * descriptor is polled by the event loop, never read in the threadpool, and never keeps the
 * process alive.
 * @module
 */
import { type NativeInotify, native, systemError } from './native.js';

/** Event bits from `<sys/inotify.h>`, the ones the callers use. */
export const IN = {
  ATTRIB: 0x4,
  DELETE_SELF: 0x400,
  MOVE_SELF: 0x800,
  /** Events were lost: the queue overflowed. Sent to every watch. */
  Q_OVERFLOW: 0x4000,
  /** The kernel ended the watch (its inode is gone, or its file system unmounted). */
  IGNORED: 0x8000,
  /** Only watch the path if it is a folder. */
  ONLYDIR: 0x1000000,
  /** Add to the inode's mask instead of replacing it: two paths to one inode share a watch. */
  MASK_ADD: 0x20000000,
} as const;

/** Receives a watch's events, as their bits. */
export type InotifyListener = (mask: number) => void;

/** A watch; {@link close} is idempotent. */
export interface InotifyWatch {
  /** Stops the watch; no event reaches the listener afterwards. */
  close(): void;
}

let instance: NativeInotify | undefined;
/** Watch descriptor → listeners. Two paths to one inode share a descriptor: the kernel gives the same one. */
const listeners = new Map<number, Set<InotifyListener>>();

function dispatch(events: number[]): void {
  for (let i = 0; i < events.length; i += 2) {
    const wd = events[i]!;
    const mask = events[i + 1]!;
    const targets = mask & IN.Q_OVERFLOW ? [...listeners.values()] : [listeners.get(wd)];
    // The kernel has ended this watch: forget it before telling anyone, so a listener that
    // closes its watch does not remove a descriptor the kernel may hand out again.
    if (mask & IN.IGNORED) listeners.delete(wd);
    for (const set of targets) for (const listener of [...(set ?? [])]) listener(mask);
  }
  closeIfUnused();
}

function closeIfUnused(): void {
  if (instance !== undefined && listeners.size === 0) {
    native.inotifyClose(instance);
    instance = undefined;
  }
}

/**
 * Watches the inode `path` names now (following links, `/proc/self/fd/N` included) for the
 * events in `mask`; {@link IN.Q_OVERFLOW} and {@link IN.IGNORED} come unasked. Throws a
 * Node-style system error when inotify cannot serve: out of instances (`EMFILE`) or watches
 * (`ENOSPC`), no such path (`ENOENT`), not a folder with {@link IN.ONLYDIR} (`ENOTDIR`).
 */
export function addWatch(path: string, mask: number, listener: InotifyListener): InotifyWatch {
  instance ??= native.inotifyOpen(dispatch);
  const wd = native.inotifyAdd(instance, path, mask | IN.MASK_ADD);
  if (wd < 0) {
    closeIfUnused();
    throw systemError(wd, 'inotify_add_watch', path);
  }
  let set = listeners.get(wd);
  if (set === undefined) listeners.set(wd, (set = new Set()));
  // A function of its own per watch: one listener may hold two watches on one inode.
  const entry: InotifyListener = (events) => listener(events);
  set.add(entry);
  let open = true;
  return {
    close() {
      if (!open) return;
      open = false;
      const current = listeners.get(wd);
      if (current?.delete(entry) && current.size === 0) {
        listeners.delete(wd);
        if (instance !== undefined) native.inotifyRemove(instance, wd);
      }
      closeIfUnused();
    },
  };
}
