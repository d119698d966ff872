/**
 * The project's N-API addon (`native/`, built by node-gyp at install): what Node cannot do,
 * or cannot do cheaply enough, for FIFOs. Context-aware, so it loads in worker threads too.
 * @module
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';
import { isMainThread } from 'node:worker_threads';

/** An open inotify instance (an external value owned by `native/inotify.c`). */
export type NativeInotify = object & { readonly __brand?: 'NativeInotify' };

/** The functions `pipe_io_native.node` exports. */
export interface NativeBinding {
  /** mkfifo(2) then an exact chmod, on the threadpool; `done` gets 0 or the errno. */
  mkfifo(path: string, mode: number, done: (errno: number) => void): void;
  /**
   * A non-blocking inotify instance polled by the event loop (never keeping it alive).
   * `onEvents` gets each read's events flat: `[wd, mask, wd, mask, ...]`. Throws an error whose
   * `code` names the errno (`EMFILE` once the user's instances run out).
   */
  inotifyOpen(onEvents: (events: number[]) => void): NativeInotify;
  /** inotify_add_watch(2): the watch descriptor, or `-errno`. */
  inotifyAdd(inotify: NativeInotify, path: string, mask: number): number;
  /** inotify_rm_watch(2); a watch the kernel already ended is no error. */
  inotifyRemove(inotify: NativeInotify, wd: number): void;
  /** Closes the instance: no event is delivered after it, and it must not be used again. */
  inotifyClose(inotify: NativeInotify): void;
  /** fcntl(F_DUPFD_CLOEXEC): a new descriptor, or `-errno`. */
  dupFd(fd: number): number;
  /** flock(LOCK_EX | LOCK_NB): 0 once held, or `-errno` (`-EWOULDBLOCK` while another holds it). */
  flockExclusive(fd: number): number;
}

/**
 * A Node-style system error (`code`, `errno`, `syscall`, `path`) for what the addon returned:
 * `-errno`, as libuv reports errors.
 */
export function systemError(errno: number, syscall: string, path?: string): Error & { code: string } {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`${code}: ${syscall}${path === undefined ? '' : ` '${path}'`}`), { code, errno, syscall, path });
}

/** The addon, loaded once. */
export const native = createRequire(import.meta.url)('../../build/Release/pipe_io_native.node') as NativeBinding;

/**
 * `fd` (from `fs.openSync`), made fit for a `net.Socket` to own: libuv will close it, not
 * `fs.closeSync`. In a worker thread Node tracks what `fs.openSync` returns until `fs.closeSync`,
 * and closes what is still tracked when the worker exits: a descriptor libuv closed would be
 * closed again by number, whatever it belongs to by then (and Node warns each time the number
 * comes back). There, the socket gets an untracked duplicate and `fd` is closed; on the main
 * thread nothing is tracked and `fd` is returned as it is.
 */
export function socketFd(fd: number): number {
  if (isMainThread) return fd;
  const copy = native.dupFd(fd);
  fs.closeSync(fd);
  if (copy < 0) throw systemError(copy, 'fcntl');
  return copy;
}
