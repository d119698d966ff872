/**
 * A server made by hand from real FIFOs, to put a client in front of exactly one kind of
 * "new out pipe" at end of stream: the server's own pipe, a symlink, another user's FIFO, or
 * nothing. The real server never plants the bad ones, so only this can test that a client
 * refuses them. Every descriptor is O_NONBLOCK, opened on the main thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeFifo } from '../../lib/fifo.js';
import { sleep } from './fixtures.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;

/** What is at the out pipe's path when the client reaches end of stream on the old pipe. */
export type NextPipe = 'own FIFO' | 'symlink to own FIFO' | "another user's FIFO" | 'nothing';

/** The uid a FIFO planted by "another user" gets (nobody); needs root to chown. */
const OTHER_UID = 65534;

export class MovedPipeServer {
  readonly sendPath: string;
  readonly recvPath: string;
  #inReader = -1;
  #outAnchor = -1;
  #outWriter = -1;
  #received = '';

  constructor(readonly dir: string) {
    this.sendPath = path.join(dir, 'in');
    this.recvPath = path.join(dir, 'out');
  }

  /** Makes both FIFOs and holds them as a server does: a reader on the in pipe, a writer on the out pipe. */
  async start(): Promise<void> {
    await makeFifo(this.sendPath, 0o600);
    await makeFifo(this.recvPath, 0o600);
    this.#inReader = fs.openSync(this.sendPath, O_RDONLY | O_NONBLOCK);
    this.#outAnchor = fs.openSync(this.recvPath, O_RDONLY | O_NONBLOCK);
    this.#outWriter = fs.openSync(this.recvPath, O_WRONLY | O_NONBLOCK);
  }

  /** Resolves once the client has written `line` (and its newline) into the in pipe. */
  async waitForLine(line: string, timeoutMs = 10_000): Promise<void> {
    const buffer = Buffer.alloc(4096);
    const deadline = Date.now() + timeoutMs;
    while (!this.#received.split('\n').includes(line)) {
      if (Date.now() > deadline) throw new Error(`the client did not send '${line}' in ${timeoutMs} ms (got ${JSON.stringify(this.#received)})`);
      try {
        const n = fs.readSync(this.#inReader, buffer);
        this.#received += buffer.toString('utf8', 0, n);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        await sleep(10);
      }
    }
  }

  /** Writes raw text into the current out pipe. */
  write(text: string): void {
    fs.writeSync(this.#outWriter, text);
  }

  /**
   * Moves the old out pipe aside and puts `next` at its path (writing `text` into the new
   * FIFO first, if there is one), then closes the old pipe's writer: the client sees end of
   * stream and must decide. Returns false if `next` needs root and this is not root.
   */
  async move(next: NextPipe, text: string): Promise<boolean> {
    if (next === "another user's FIFO" && process.getuid?.() !== 0) return false;
    fs.renameSync(this.recvPath, `${this.recvPath}.old`);
    if (next !== 'nothing') {
      const fifo = next === 'symlink to own FIFO' ? `${this.recvPath}.target` : this.recvPath;
      await makeFifo(fifo, 0o666);
      if (next === "another user's FIFO") fs.chownSync(fifo, OTHER_UID, OTHER_UID);
      if (fifo !== this.recvPath) fs.symlinkSync(fifo, this.recvPath);
      const anchor = fs.openSync(fifo, O_RDONLY | O_NONBLOCK);
      const writer = fs.openSync(fifo, O_WRONLY | O_NONBLOCK);
      fs.writeSync(writer, text);
      fs.closeSync(this.#outAnchor);
      this.#outAnchor = anchor;
      const old = this.#outWriter;
      this.#outWriter = writer;
      fs.closeSync(old);
    } else {
      fs.closeSync(this.#outWriter);
      this.#outWriter = -1;
    }
    return true;
  }

  /** Closes everything, as a stopping server does: a client reading sees end of stream. */
  stop(): void {
    for (const fd of [this.#outWriter, this.#outAnchor, this.#inReader]) if (fd >= 0) fs.closeSync(fd);
    this.#outWriter = this.#outAnchor = this.#inReader = -1;
  }
}
