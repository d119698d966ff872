/**
 * The project's N-API addon (`native/`, built by node-gyp at install, like fs-ext): what
 * Node cannot do, or cannot do cheaply enough, for FIFOs.
 * @module
 */
import { createRequire } from 'node:module';

/** An open inotify instance (an external value owned by `native/inotify.c`). */
export type NativeInotify = object & { readonly __brand?: 'NativeInotify' };

/** The functions `pipe_io_native.node` exports. */
export interface NativeBinding {
  /** mkfifo(2) then an exact chmod, on the threadpool; `done` gets 0 or the errno. */
  mkfifo(path: string, mode: number, done: (errno: number) => void): void;
  /**
   * A non-blocking inotify instance polled by the event loop (never keeping it alive).
   * `onEvents` gets each read's events flat: `[wd, mask, name, wd, mask, name, ...]`,
   * `name` empty for events on a watched folder itself.
   */
  inotifyOpen(onEvents: (events: (number | string)[]) => void): NativeInotify;
  /** inotify_add_watch(2): the watch descriptor, or `-errno`. */
  inotifyAdd(inotify: NativeInotify, path: string, mask: number): number;
  /** inotify_rm_watch(2); a watch the kernel already ended is no error. */
  inotifyRemove(inotify: NativeInotify, wd: number): void;
  /** Closes the instance: no event is delivered after it, and it must not be used again. */
  inotifyClose(inotify: NativeInotify): void;
}

/** The addon, loaded once. */
export const native = createRequire(import.meta.url)('../../build/Release/pipe_io_native.node') as NativeBinding;
