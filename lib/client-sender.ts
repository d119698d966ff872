/**
 * The sending side of a {@link PipeIOClient}: each line goes out in one non-blocking `write(2)`
 * from the main thread while the pipe has room (no promise machinery to wait on), libuv writes
 * the rest of a line that did not fit once the server makes room, and later lines queue behind
 * it, so lines go out whole and in order.
 * @module
 */
import fs from 'node:fs';
import net from 'node:net';
import { PipeIOError, describeErrno, errnoCode } from './errors.js';
import { socketFd } from './native.js';

interface PendingSend {
  data: Buffer;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** @internal Writes lines into the in pipe open on `fd`; see the module's comment. */
export class LineSender {
  #fd: number;
  #socket: net.Socket | undefined;
  #broken: PipeIOError | undefined;
  #queue: PendingSend[] = [];
  #head = 0;
  #writing = false;

  /**
   * @param path - the in pipe, named in errors
   * @param fd - a non-blocking descriptor open for writing on it; the sender owns it from now on
   */
  constructor(
    readonly path: string,
    fd: number,
  ) {
    fd = socketFd(fd);
    this.#fd = fd;
    const socket = new net.Socket({ fd, readable: false, writable: true });
    // The write callback carries the error; this listener only keeps it from being unhandled.
    socket.on('error', () => {});
    this.#socket = socket;
  }

  /** Why sending stopped (the server stopped reading, the sending side was ended, the client closed), if it did. */
  get broken(): PipeIOError | undefined {
    return this.#broken;
  }

  /** Sends one line (newline included); resolves once it is in the pipe. */
  send(data: Buffer): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (!this.#writing && this.#head === this.#queue.length) {
      // Nothing queued ahead of it: try it at once, with no promise machinery to wait on.
      const written = this.#write(data);
      if (written === data.length) return Promise.resolve();
      if (written < 0) return Promise.reject(this.#broken!);
      return new Promise<void>((resolve, reject) => {
        this.#queue.push({ data, resolve, reject });
        this.#writeRest(this.#queue[this.#head]!, written);
      });
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ data, resolve, reject });
      this.#pump();
    });
  }

  /** Stops sending for `reason` (later sends reject with it) and closes the pipe; what is still queued is rejected too. */
  async close(reason: PipeIOError): Promise<void> {
    this.#broken ??= reason;
    const queue = this.#queue;
    const head = this.#head;
    this.#queue = [];
    this.#head = 0;
    for (let i = head; i < queue.length; i++) queue[i]!.reject(reason);
    const socket = this.#socket;
    this.#socket = undefined;
    this.#fd = -1;
    if (socket === undefined) return;
    socket.destroy();
    if (!socket.closed) await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  }

  /**
   * One non-blocking `write(2)` from the main thread: bytes written (0 if the pipe is full),
   * or -1 if the pipe is broken. A line up to `PIPE_BUF` goes in whole or not at all.
   */
  #write(data: Buffer): number {
    try {
      return fs.writeSync(this.#fd, data);
    } catch (error) {
      if (errnoCode(error) === 'EAGAIN') return 0;
      this.#break(error);
      return -1;
    }
  }

  /** The pipe is full: libuv writes the rest once the server makes room; later lines wait their turn. */
  #writeRest(entry: PendingSend, written: number): void {
    this.#writing = true;
    this.#socket!.write(entry.data.subarray(written), (error) => {
      this.#writing = false;
      if (this.#queue[this.#head] !== entry) return; // close() settled it already
      this.#head++;
      if (error) {
        this.#break(error);
        entry.reject(this.#broken!);
      } else {
        entry.resolve();
      }
      this.#pump();
    });
  }

  #pump(): void {
    while (!this.#writing && this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head]!;
      if (this.#broken) {
        this.#head++;
        entry.reject(this.#broken);
        continue;
      }
      const written = this.#write(entry.data);
      if (written === entry.data.length) {
        this.#head++;
        entry.resolve();
      } else if (written >= 0) {
        this.#writeRest(entry, written);
      }
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
  }

  #break(cause: unknown): void {
    this.#broken ??= new PipeIOError(
      'ERR_SERVER_STOPPED',
      errnoCode(cause) === 'EPIPE'
        ? `The server stopped reading '${this.path}' (EPIPE); the message was not delivered.`
        : `Writing to '${this.path}' failed: ${describeErrno(cause)}.`,
      { path: this.path, cause },
    );
  }
}
