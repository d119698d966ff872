/**
 * A client's session folder, seen from the server: checked once, pinned, and never trusted by
 * path again.
 *
 * The folder and its two FIFOs belong to the client, who may rename, swap or symlink anything in
 * them at any moment. So every step goes through descriptors: the folder is pinned with
 * `O_PATH | O_NOFOLLOW | O_DIRECTORY` (a symbolic link is refused, and `..` or `/` never reach
 * here: see protocol.ts), its FIFOs are looked up *inside the pinned folder* through
 * `/proc/self/fd/N/in` with `O_NOFOLLOW`, and opened through their own pins. What was checked is
 * what is opened, and what is removed at the end is only ever an entry of that very folder that
 * still names the FIFO the server served.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { PipeIOError, describeErrno, errnoCode } from '../errors.js';
import { FifoHandle } from '../fifo.js';
import type { FifoSource } from '../owned-fifo.js';
import { describeUser } from '../safety.js';
import { IN_NAME, OUT_NAME } from './protocol.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOFOLLOW, O_DIRECTORY } = fs.constants;
/** Linux's O_PATH (Node does not export it): names an inode without opening it. */
const O_PATH = 0o10000000;

/** Who is on the other end of a session, as the kernel tells it: the owner of the folder the client made. */
export interface SessionPeer {
  /** User id of the client (the owner of its session folder and FIFOs). */
  readonly uid: number;
  /** Group id of the session folder: the client's effective group (the sessions folder has no setgid bit). */
  readonly gid: number;
}

/**
 * A session's FIFO. Once the handshake is done the client holds both ends, so nobody can be
 * stranded in `open()` on it and closing needs none of {@link FifoHandle.closeAndWake}'s
 * wake-ups: at 1,000 sessions those opens and closes were most of `stop()`.
 */
class SessionFifo extends FifoHandle {
  /** Set when the client has opened both pipes. */
  established = false;

  override async closeAndWake(): Promise<void> {
    if (this.established) this.close();
    else await super.closeAndWake();
  }
}

/** Why a request's folder cannot be served; the server reports it through `'warning'`. */
function unusable(folder: string, why: string, cause?: unknown): PipeIOError {
  return new PipeIOError('ERR_SESSION_REQUEST', `The session folder '${folder}' ${why}; the request was ignored and nothing there was touched.`, {
    path: folder,
    cause,
  });
}

function pinFifo(folder: string, folderPin: number, name: string, owner: number): { pin: number; stats: fs.Stats } {
  let pin: number;
  try {
    pin = fs.openSync(`/proc/self/fd/${folderPin}/${name}`, O_PATH | O_NOFOLLOW);
  } catch (error) {
    throw unusable(folder, `has no FIFO '${name}' (${describeErrno(error)})`, error);
  }
  const stats = fs.fstatSync(pin);
  if (!stats.isFIFO() || stats.uid !== owner) {
    fs.closeSync(pin);
    throw unusable(folder, stats.isFIFO() ? `holds a '${name}' owned by ${describeUser(stats.uid)}, not by the folder's owner` : `holds a '${name}' that is not a FIFO`);
  }
  return { pin, stats };
}

/** @internal One session's folder and its FIFOs, pinned. */
export class SessionFolder {
  readonly #pin: number;
  readonly #stats: fs.Stats;
  readonly #in: { pin: number; stats: fs.Stats };
  #outPin: number;
  readonly #outStats: fs.Stats;
  /** Whether the in pin went to a reader's handle, which closes it. */
  #inTaken = false;
  #closed = false;
  readonly #handles: SessionFifo[] = [];

  private constructor(
    readonly path: string,
    pin: number,
    stats: fs.Stats,
    inPipe: { pin: number; stats: fs.Stats },
    outPipe: { pin: number; stats: fs.Stats },
  ) {
    this.#pin = pin;
    this.#stats = stats;
    this.#in = inPipe;
    this.#outPin = outPipe.pin;
    this.#outStats = outPipe.stats;
  }

  /**
   * Pins `dir/name` and its FIFOs. Throws `ERR_SESSION_REQUEST` for anything but a real folder
   * that only its owner can write, holding two FIFOs of that same owner.
   */
  static open(dir: string, name: string): SessionFolder {
    const folder = path.join(dir, name);
    let pin: number;
    try {
      pin = fs.openSync(folder, O_PATH | O_NOFOLLOW | O_DIRECTORY);
    } catch (error) {
      const code = errnoCode(error);
      throw unusable(folder, code === 'ELOOP' || code === 'ENOTDIR' ? 'is not a folder (a symbolic link?)' : `cannot be opened (${describeErrno(error)})`, error);
    }
    let inPipe: { pin: number; stats: fs.Stats } | undefined;
    try {
      const stats = fs.fstatSync(pin);
      // Group or others with write permission could swap the FIFOs under the session.
      if ((stats.mode & 0o022) !== 0) throw unusable(folder, `can be written by users other than its owner (mode 0${(stats.mode & 0o7777).toString(8)})`);
      inPipe = pinFifo(folder, pin, IN_NAME, stats.uid);
      const outPipe = pinFifo(folder, pin, OUT_NAME, stats.uid);
      return new SessionFolder(folder, pin, stats, inPipe, outPipe);
    } catch (error) {
      if (inPipe !== undefined) fs.closeSync(inPipe.pin);
      fs.closeSync(pin);
      throw error;
    }
  }

  /** The client, from the folder's owner. */
  get peer(): SessionPeer {
    return { uid: this.#stats.uid, gid: this.#stats.gid };
  }

  /**
   * The in pipe, for a reader. Its handle holds only an `O_PATH` pin, never a reader: the
   * reader's own descriptor must be the first reader, opened before the client can open the
   * pipe for writing (its open waits for a reader), or the kernel would not report the client's
   * end of stream to it.
   */
  inSource(): FifoSource {
    const handle = new SessionFifo(path.join(this.path, IN_NAME), this.#in.pin, this.#in.stats);
    this.#handles.push(handle);
    this.#inTaken = true;
    return this.#source(handle, IN_NAME);
  }

  /**
   * A write descriptor on the out pipe if the client is reading it now, else undefined: a
   * non-blocking open for writing fails with ENXIO while no reader is there. It is the only sign
   * of a client's open the kernel gives without data.
   */
  tryOpenOut(): number | undefined {
    try {
      return fs.openSync(`/proc/self/fd/${this.#outPin}`, O_WRONLY | O_NONBLOCK);
    } catch (error) {
      if (errnoCode(error) === 'ENXIO') return undefined;
      throw error;
    }
  }

  /**
   * The out pipe, for a writer: an anchor opened `O_RDONLY | O_NONBLOCK`, so that the writer's
   * own descriptor opens without ENXIO and a client that stops reading meets backpressure, never
   * a lost line.
   */
  outSource(): FifoSource {
    const anchor = fs.openSync(`/proc/self/fd/${this.#outPin}`, O_RDONLY | O_NONBLOCK);
    fs.closeSync(this.#outPin);
    this.#outPin = -1;
    const handle = new SessionFifo(path.join(this.path, OUT_NAME), anchor, this.#outStats);
    this.#handles.push(handle);
    return this.#source(handle, OUT_NAME);
  }

  /** The client has opened both pipes: closing them needs no wake-up any more. */
  established(): void {
    for (const handle of this.#handles) handle.established = true;
  }

  #source(handle: FifoHandle, name: string): FifoSource {
    return {
      current: handle,
      watch: () => {}, // a session's pipes are never made again: a deleted one is the client leaving
      release: () => this.#unlink(name, handle),
    };
  }

  /** Removes `name` from the pinned folder if it still names `handle`'s FIFO. */
  #unlink(name: string, handle: FifoHandle): void {
    if (this.#closed) return;
    const entry = `/proc/self/fd/${this.#pin}/${name}`;
    try {
      if (handle.isAt(fs.lstatSync(entry))) fs.unlinkSync(entry);
    } catch {
      // Gone already (the client removed it), or the server may not write the client's folder.
    }
  }

  /**
   * Removes the folder if it is still this one and empty (a client's own extra files are left),
   * and closes the pins. `rmdir` never removes anything but an empty folder, and never follows a
   * link, so whatever the client did meanwhile, nothing else can go.
   */
  remove(): void {
    if (this.#closed) return;
    // The pipes first (a failed handshake never handed `out` to a writer, which would have).
    for (const [name, stats] of [[IN_NAME, this.#in.stats], [OUT_NAME, this.#outStats]] as const) {
      const entry = `/proc/self/fd/${this.#pin}/${name}`;
      try {
        const now = fs.lstatSync(entry);
        if (now.isFIFO() && now.ino === stats.ino && now.dev === stats.dev) fs.unlinkSync(entry);
      } catch {
        // gone already, or not the server's to remove
      }
    }
    try {
      const now = fs.lstatSync(this.path);
      if (now.isDirectory() && now.ino === this.#stats.ino && now.dev === this.#stats.dev) fs.rmdirSync(this.path);
    } catch {
      // Gone already, not empty, or not the server's to remove.
    }
    this.close();
  }

  /** Closes the pins without removing anything. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#outPin >= 0) {
      // A client already waiting in a blocking open of `out` for reading is let go (it reads end
      // of stream) rather than left there: the server will never write it now.
      try {
        fs.closeSync(fs.openSync(`/proc/self/fd/${this.#outPin}`, O_WRONLY | O_NONBLOCK));
      } catch {
        // ENXIO: nobody is waiting
      }
      fs.closeSync(this.#outPin);
    }
    this.#outPin = -1;
    if (!this.#inTaken) fs.closeSync(this.#in.pin);
    fs.closeSync(this.#pin);
  }
}

