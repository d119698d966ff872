/**
 * Children must not outlive their host, however the host dies.
 *
 * A host that exits through `process.exit()` or an uncaught exception runs its `'exit'`
 * listeners; a host killed by SIGKILL, the OOM killer or a crash in native code runs no code
 * at all. So the cleanup cannot live in the host. Each host that runs children starts one
 * watchdog, `pipe_io_watchdog` (native/watchdog.c, a few hundred KiB of memory), holding the
 * other end of a socket that only the host holds. When the host dies for any reason the
 * kernel closes the host's end; the watchdog reads end of stream, signals every process
 * group it was told about (SIGTERM, then SIGKILL) and removes their folders. Why not
 * `PR_SET_PDEATHSIG` alone: it kills one process, not its group; it removes no folder; Node's
 * `spawn()` has no hook between fork and exec to set it; and it fires when the *thread*
 * that forked the child ends, which in Node can be a worker thread.
 *
 * The host talks to the watchdog only when a child starts or ends (a few bytes, written at
 * once), never per message: `send()` pays nothing. Its timing on a killed host: SIGTERM at
 * once, SIGKILL 200 ms later to groups still alive. On an orderly exit (`'exit'` listeners
 * run) the host asks for gentleness instead: each group gets its own `gracePeriod` between
 * SIGTERM and SIGKILL, as `stop()` would have given it.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PipeIOError } from '../errors.js';

/** The watchdog executable, built by node-gyp beside the addon (binding.gyp). */
export const WATCHDOG_PATH = fileURLToPath(new URL('../../../build/Release/pipe_io_watchdog', import.meta.url));

/** One child's registration with the watchdog. */
export interface Guard {
  /** The child now runs as process group `pgid` (`0`: no instance runs). */
  running(pgid: number): void;
  /** The child's group is gone and its folder removed: nothing left to clean up. */
  release(): void;
}

interface Entry {
  pgid: number;
  /** Milliseconds from SIGTERM to SIGKILL on an orderly exit. */
  grace: number;
  dir: string;
  /** Without a watchdog at exit: SIGKILL the group and remove the folder, synchronously. */
  fallback: () => void;
}

const entries = new Map<number, Entry>();
let nextKey = 0;
let watchdog: ChildProcess | undefined;
let lastStart = 0;
let exiting = false;

function write(text: string): void {
  // A pipe socket with room in its buffer takes the bytes at once (libuv tries the write
  // before queueing it), which is what lets the 'exit' listener below reach the watchdog.
  if (watchdog?.stdin?.writable) watchdog.stdin.write(text);
}

function announce(key: number, entry: Entry): void {
  write(`S ${key} ${entry.pgid} ${entry.grace} ${entry.dir}\0`);
}

/** Starts the watchdog if none runs, and tells it everything it must know. Throws if it cannot start. */
function ensureWatchdog(): void {
  if (watchdog !== undefined) return;
  let child: ChildProcess;
  try {
    fs.accessSync(WATCHDOG_PATH, fs.constants.X_OK);
    // Its own session (detached): a Ctrl-C or hangup of the host's terminal must not take it first.
    child = spawn(WATCHDOG_PATH, [], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  } catch (error) {
    throw new PipeIOError(
      'ERR_PIPE_OPEN',
      `Cannot start the plugin watchdog '${WATCHDOG_PATH}' (${(error as Error).message}): without it plugins would outlive a killed host. Rebuild the native part: npm rebuild pipe-io-server.`,
      { path: WATCHDOG_PATH, cause: error },
    );
  }
  lastStart = Date.now();
  watchdog = child;
  // Neither the process nor its socket may keep the host's event loop alive.
  child.unref();
  (child.stdin as Socket).unref();
  child.stdin!.on('error', () => {}); // EPIPE once it is gone; 'exit' handles that
  child.on('error', () => {});
  child.once('exit', () => {
    if (watchdog === child) watchdog = undefined;
    if (exiting || entries.size === 0) return;
    // Killed by someone: start another and tell it everything, at most once a second so a
    // watchdog that cannot run does not become a fork loop.
    setTimeout(
      () => {
        if (watchdog !== undefined || entries.size === 0) return;
        try {
          ensureWatchdog();
        } catch (error) {
          process.emitWarning(error as Error);
        }
      },
      Math.max(0, lastStart + 1000 - Date.now()),
    ).unref();
  });
  for (const [key, entry] of entries) announce(key, entry);
}

function onExit(): void {
  exiting = true;
  if (watchdog?.stdin?.writable) {
    write('Q\0');
    return;
  }
  for (const entry of entries.values()) entry.fallback();
}

/**
 * Registers a child's folder (and, through {@link Guard.running}, its process group) with the
 * host's watchdog, starting the watchdog if needed. Throws a {@link PipeIOError} if the
 * watchdog cannot start.
 * @param dir - the folder to remove if the host dies
 * @param grace - milliseconds between SIGTERM and SIGKILL when the host exits in order
 * @param fallback - what the `'exit'` listener does without a watchdog
 */
export function guard(dir: string, grace: number, fallback: () => void): Guard {
  ensureWatchdog();
  const key = ++nextKey;
  const entry: Entry = { pgid: 0, grace, dir, fallback };
  entries.set(key, entry);
  if (entries.size === 1) process.on('exit', onExit);
  announce(key, entry);
  return {
    running(pgid) {
      if (!entries.has(key)) return;
      entry.pgid = pgid;
      announce(key, entry);
    },
    release() {
      if (!entries.delete(key)) return;
      write(`D ${key}\0`);
      if (entries.size === 0) process.off('exit', onExit);
    },
  };
}

/** The watchdog's pid, if one runs (for tests and diagnostics). */
export function watchdogPid(): number | undefined {
  return watchdog?.pid;
}
