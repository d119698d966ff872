/**
 * FIFOs on disk: create them and own them. Noticing that one vanished and making it again is
 * `owned-fifo.ts`.
 *
 * A pipe the server serves is held through an *anchor*: a descriptor opened
 * `O_RDONLY | O_NONBLOCK` that is never read and lives as long as the server
 * serves that inode. It does three jobs at once:
 * - the ownership lock (`flock`) sits on it, so a second server cannot take the pipe;
 * - it is a reader that is always there, so clients never meet `ENXIO`/`EPIPE` and a
 *   blocking client `open()` never waits while the server runs;
 * - it reaches the inode even after the path is deleted (`/proc/self/fd/N`), so the
 *   reader and writer can reopen, wake and drain the very pipe they own.
 *
 * Linux only: `/proc/self/fd`, `O_RDWR`-free keep-alives and the pipe rules relied on
 * here are Linux behaviour.
 * @module
 */
import fs from 'node:fs';
import { PipeIOError, describeErrno, errnoCode } from './errors.js';
import { native, systemError } from './native.js';
import { checkFolder, foreignFifoError, grantsMoreThan, serverUid } from './safety.js';
import { takeTurn } from './turns.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;
/** Linux's O_PATH (Node does not export it): a descriptor that names an inode without opening it. */
const O_PATH = 0o10000000;
/** When a closed pipe's stranded openers are released a second time. */
const WAKE_AGAIN_MS = 50;

/** Opens and closes each end of the FIFO named by the `O_PATH` descriptor `inode`, never blocking. */
function wakeOpeners(inode: number): void {
  for (const flags of [O_RDONLY | O_NONBLOCK, O_WRONLY | O_NONBLOCK]) {
    try {
      fs.closeSync(fs.openSync(`/proc/self/fd/${inode}`, flags));
    } catch {
      // ENXIO: no reader is waiting for a writer
    }
  }
}

/** How a pipe is created and owned. */
export interface FifoOptions {
  /** Mode bits of FIFOs the server creates, applied exactly (the umask does not change them). */
  readonly permissions: number;
  /** Create the FIFO at start (taking over a stale one) and remove it at stop. */
  readonly managePipes: boolean;
  /** Serve managed pipes in a folder other users can write without the sticky bit. Default false. */
  readonly allowUnsafeFolder?: boolean;
}

/**
 * Creates a FIFO with exactly `mode`; rejects with a Node-style system error (`code`, `errno`, `path`).
 * Node has no mkfifo(2), and the mkfifo utility would cost a fork and exec per pipe: the addon
 * (native/mkfifo.c) runs it on the threadpool, where its cost (a millisecond on ext4) never
 * holds the event loop.
 */
export function makeFifo(path: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) => {
    native.mkfifo(path, mode, (errno) => (errno === 0 ? resolve() : reject(systemError(-errno, 'mkfifo', path))));
  });
}


/** What one read of {@link FifoHandle.drain} takes: Linux's default pipe-max-size. */
const DRAIN_READ = 1024 * 1024;
/** The most reads a drain makes: 16 MiB, more than a pipe can be given without root. */
const DRAIN_MAX_READS = 16;

/** One FIFO inode the server owns, held open and locked through its anchor descriptor. */
export class FifoHandle {
  /** The anchor: `O_RDONLY | O_NONBLOCK`, locked with `flock`, never read except by {@link drain}. */
  readonly fd: number;
  /** Inode number, to tell this FIFO from another one made at the same path. */
  readonly ino: number;
  /** Device number, with {@link ino}. */
  readonly dev: number;
  #closed = false;

  /** @internal */
  constructor(
    readonly path: string,
    fd: number,
    stats: fs.Stats,
  ) {
    this.fd = fd;
    this.ino = stats.ino;
    this.dev = stats.dev;
  }

  /** A path to this very inode (through the anchor), even if the path now names something else. */
  get inodePath(): string {
    return `/proc/self/fd/${this.fd}`;
  }

  /** Opens a new descriptor on this very inode. */
  #reopen(flags: number): number {
    return fs.openSync(this.inodePath, flags | O_NONBLOCK);
  }

  /** A fresh non-blocking read descriptor. Never blocks: a FIFO opens for reading at once. */
  openReader(): number {
    return this.#reopen(O_RDONLY);
  }

  /** A fresh non-blocking write descriptor. Never fails with ENXIO: the anchor is a reader. */
  openWriter(): number {
    return this.#reopen(O_WRONLY);
  }

  /**
   * Opens and closes a writer, so that readers of this inode see end of stream as soon
   * as the other writers are gone. Without it, a reader that opened after the last
   * end of stream would wait for a writer that may never come.
   */
  kick(): void {
    fs.closeSync(this.openWriter());
  }

  /**
   * Reads what the kernel holds in this pipe now, without waiting: not what writers add while
   * it reads. Reading on until the pipe is empty would last as long as writers keep writing
   * (stress row 9 saw a stop() read 25 MB in 220 ms, a test 32 MB, from clients writing flat out).
   */
  drain(): Buffer {
    const chunks: Buffer[] = [];
    // One read takes all a pipe can hold (pipe-max-size, 1 MiB by default): a client reading at
    // the same time then gets a prefix and the drain the rest, never bytes in between. A read
    // that does not fill the buffer emptied the pipe; only a pipe enlarged past pipe-max-size
    // (F_SETPIPE_SZ, as root) needs more, and a few reads cover any such size.
    const chunk = Buffer.allocUnsafe(DRAIN_READ);
    for (let reads = 0; reads < DRAIN_MAX_READS; reads++) {
      let n: number;
      try {
        n = fs.readSync(this.fd, chunk, 0, chunk.length, null);
      } catch (error) {
        if (errnoCode(error) === 'EAGAIN') break;
        throw error;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(chunk.subarray(0, n)));
      if (n < chunk.length) break;
    }
    return Buffer.concat(chunks);
  }

  /** Whether `stats` (from `lstat` of the path) describe this inode. */
  isAt(stats: fs.Stats | null): boolean {
    return stats !== null && stats.isFIFO() && stats.ino === this.ino && stats.dev === this.dev;
  }

  /** Removes the path if it still names this inode: never someone else's file. */
  unlinkIfOurs(): void {
    try {
      if (this.isAt(fs.lstatSync(this.path))) fs.unlinkSync(this.path);
    } catch {
      // Already gone, or the folder is: nothing of ours is left to remove.
    }
  }

  /** Closes the anchor, which releases the lock. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.fd);
  }

  /**
   * Closes the anchor (see {@link close}), and resolves once clients stranded in open() on this
   * pipe have been let go.
   *
   * A client whose blocking open() looked the path up before the server removed it, but reached
   * the FIFO only after the server's last descriptor on it was closed (it waited for the pipe's
   * lock, or for a CPU), would wait in open() forever: nobody can open the other end of a pipe
   * that has no name and no descriptor. The kernel lets it go when the other end is opened. So
   * the server keeps an `O_PATH` descriptor (neither reader nor writer: it holds no end open) and
   * opens each end once through it, now and after {@link WAKE_AGAIN_MS}, then closes it.
   */
  async closeAndWake(): Promise<void> {
    if (this.#closed) return;
    let inode = -1;
    try {
      inode = fs.openSync(this.inodePath, O_PATH);
    } catch {
      // no /proc: nothing to wake with
    }
    this.close();
    if (inode < 0) return;
    wakeOpeners(inode);
    await new Promise((resolve) => setTimeout(resolve, WAKE_AGAIN_MS));
    wakeOpeners(inode);
    fs.closeSync(inode);
  }
}

/**
 * Synchronous on purpose: lstat never waits on a FIFO's peer, and on a local file system it
 * takes microseconds, less than the round trip through the threadpool (and a missing path
 * costs no exception).
 */
export function lstatOrNull(path: string): fs.Stats | null {
  try {
    return fs.lstatSync(path, { throwIfNoEntry: false }) ?? null;
  } catch (error) {
    throw new PipeIOError('ERR_PIPE_OPEN', `Cannot use the pipe '${path}': ${describeErrno(error)}.`, {
      path,
      cause: error,
    });
  }
}

/**
 * {@link lstatOrNull} on the threadpool, for start-up: while the threadpool makes FIFOs in the
 * same folder (mkfifo holds the folder's lock), one lstat on the main thread was seen to wait
 * 40 to 70 ms on ext4 when 1,000 servers started on a busy machine (issue 14). lstat never
 * waits on a FIFO's peer, so it may use the threadpool.
 */
async function lstatOrNullAsync(path: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.lstat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw new PipeIOError('ERR_PIPE_OPEN', `Cannot use the pipe '${path}': ${describeErrno(error)}.`, {
      path,
      cause: error,
    });
  }
}

/** What a non-FIFO at a pipe's path is, for messages. */
export function kindOf(stats: fs.Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFile()) return 'a regular file';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isSocket()) return 'a socket';
  return 'not a FIFO';
}

/**
 * Opens the anchor on the FIFO at `path` and takes its lock.
 * Returns null when the path changed under us (the caller looks again).
 *
 * The path is resolved once, into an `O_PATH | O_NOFOLLOW` descriptor that opens neither end
 * (so a planted FIFO's other side sees nothing) and never follows a symbolic link. Ownership is
 * read from that descriptor, and the anchor is reopened through it: what was checked is what is
 * served, whatever the path names by then.
 */
function lockFifo(path: string, seen: fs.Stats, managed: boolean): FifoHandle | null {
  let pin: number;
  try {
    pin = fs.openSync(path, O_PATH | O_NOFOLLOW);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return null;
    throw new PipeIOError('ERR_PIPE_OPEN', `Cannot open the pipe '${path}': ${describeErrno(error)}.`, {
      path,
      cause: error,
    });
  }
  try {
    const stats = fs.fstatSync(pin);
    if (!stats.isFIFO() || stats.ino !== seen.ino || stats.dev !== seen.dev) return null;
    if (managed && stats.uid !== serverUid()) throw foreignFifoError(path, stats);
    let fd: number;
    try {
      // O_NONBLOCK: a read-only open of a FIFO then returns at once instead of waiting for a writer.
      fd = fs.openSync(`/proc/self/fd/${pin}`, O_RDONLY | O_NONBLOCK);
    } catch (error) {
      throw new PipeIOError('ERR_PIPE_OPEN', `Cannot open the pipe '${path}': ${describeErrno(error)}.`, {
        path,
        cause: error,
      });
    }
    const locked = native.flockExclusive(fd);
    if (locked !== 0) {
      fs.closeSync(fd);
      const error = systemError(locked, 'flock', path);
      if (error.code === 'EAGAIN' || error.code === 'EWOULDBLOCK') {
        throw new PipeIOError(
          'ERR_PIPE_IN_USE',
          `The pipe '${path}' is in use by another pipe-io-server (it holds the pipe's lock). ` +
            'Stop that server or choose other paths.',
          { path, cause: error },
        );
      }
      throw new PipeIOError('ERR_PIPE_OPEN', `Cannot lock the pipe '${path}': ${describeErrno(error)}.`, {
        path,
        cause: error,
      });
    }
    return new FifoHandle(path, fd, stats);
  } finally {
    fs.closeSync(pin);
  }
}

/** Removes the FIFO this server made at `path` (`made`: its lstat), if the path still names it. */
function unlinkMade(path: string, made: fs.Stats): void {
  try {
    const now = fs.lstatSync(path);
    if (now.isFIFO() && now.ino === made.ino && now.dev === made.dev && now.uid === serverUid()) fs.unlinkSync(path);
  } catch {
    // Gone already, or its folder is: nothing of ours is left.
  }
}

function keepsChanging(path: string): PipeIOError {
  return new PipeIOError('ERR_PIPE_OPEN', `The pipe '${path}' keeps changing under the server; is another process replacing it?`, { path });
}

/**
 * Creates (when managed) and opens the FIFO at `path`, and takes its ownership lock.
 *
 * A FIFO already at the path whose lock nobody holds is stale (its server died); a
 * managed server takes it over and sets its mode, rather than replacing it, so clients
 * still blocked in `open()` on it are served instead of stranded on a dead inode. It takes
 * over only a FIFO its own user owns, in a folder others cannot swap it in (see safety.ts),
 * and replaces one whose old mode let in more users than `permissions` does.
 * Nothing that is not a FIFO is ever removed, and a failure removes the FIFO this call made.
 */
export async function acquireFifo(path: string, options: FifoOptions): Promise<FifoHandle> {
  const managed = options.managePipes;
  for (let attempt = 0; ; attempt++) {
    await takeTurn();
    if (managed && options.allowUnsafeFolder !== true) checkFolder(path);
    let stats = await lstatOrNullAsync(path);
    await takeTurn();
    let made: fs.Stats | undefined;
    if (stats === null) {
      if (!managed) {
        throw new PipeIOError(
          'ERR_PIPE_MISSING',
          `There is no FIFO at '${path}'. Create it first (mkfifo '${path}') or pass managePipes: true.`,
          { path },
        );
      }
      try {
        await makeFifo(path, options.permissions);
        stats = made = await fs.promises.lstat(path);
        await takeTurn();
      } catch (error) {
        // Someone made something there between our lstat and mkfifo: look again.
        if (errnoCode(error) === 'EEXIST' && attempt < 3) continue;
        throw new PipeIOError('ERR_PIPE_OPEN', `Cannot create the FIFO '${path}': ${describeErrno(error)}.`, {
          path,
          cause: error,
        });
      }
    }
    if (!stats.isFIFO()) {
      throw new PipeIOError(
        'ERR_NOT_A_FIFO',
        `'${path}' is ${kindOf(stats)}, not a FIFO; it was left untouched. Remove it or choose another path.`,
        { path },
      );
    }
    let handle: FifoHandle | null;
    try {
      handle = lockFifo(path, stats, managed);
    } catch (error) {
      // ERR_PIPE_IN_USE: a server that saw our new FIFO as stale holds it now; it is theirs.
      if (made !== undefined && !(error instanceof PipeIOError && error.code === 'ERR_PIPE_IN_USE')) unlinkMade(path, made);
      throw error;
    }
    if (handle === null) {
      if (made !== undefined) unlinkMade(path, made);
      if (attempt < 3) continue;
      throw keepsChanging(path);
    }
    if (managed && made === undefined) {
      if (grantsMoreThan(stats, options.permissions)) {
        // Ours (lockFifo checked) and locked by us, so no server uses it: safe to remove. Openers
        // blocked on it are let go (they fail) rather than served on a pipe others may hold.
        handle.unlinkIfOurs();
        await handle.closeAndWake();
        if (attempt < 3) continue;
        throw keepsChanging(path);
      }
      try {
        fs.fchmodSync(handle.fd, options.permissions);
      } catch (error) {
        handle.close();
        throw new PipeIOError(
          'ERR_PIPE_OPEN',
          `A stale FIFO at '${path}' cannot be taken over: ${describeErrno(error)}. Remove it, or pass managePipes: false.`,
          { path, cause: error },
        );
      }
    }
    return handle;
  }
}
