/**
 * The out pipe: the server writes lines into it, clients read them.
 *
 * `send()` queues the line. Everything queued in one turn of the event loop is joined
 * and written with one `write(2)` straight from the main thread (the descriptor is
 * non-blocking, so this never waits). Only when the pipe is full does the rest go to
 * libuv's pipe handle, which writes it when the pipe has room; meanwhile new lines
 * queue behind it, so order holds. With no client reading, lines wait in the kernel
 * (64 KiB) and then in the queue, and reach the next client that opens the pipe: the
 * anchor keeps a reader on the pipe, so writes never fail with EPIPE.
 *
 * One out pipe serves one reader: with two, each gets an arbitrary part of the stream and a
 * line can be torn between them (test/readers.test.ts). The server does not try to notice a
 * second reader. The kernel tells a writer nothing about readers, so the only way is to
 * scan every process's descriptors in /proc for the FIFO, over and over: 17 ms of main
 * thread per scan for 103 processes and 711 descriptors here, far more on a desktop. And
 * its answer would be wrong where it matters: a bash client's `exec 3<recv` is inherited
 * by every command the script runs (one reader seen as many), holding a descriptor is not
 * reading it, and another user's processes cannot be seen at all unless the server runs as root.
 * @module
 */
import fs from 'node:fs';
import net from 'node:net';
import { PipeIOError, errnoCode } from './errors.js';
import type { RecreateInfo, WriterEvents } from './events.js';
import { FifoHandle } from './fifo.js';
import { type AcquireFifo, type FifoSource, OwnedFifo } from './owned-fifo.js';
import { type AnyCodec, type Outgoing, bufferCodec, encodeBytes, isBinary, resolveCodec, textCodec } from './codec.js';
import { Batch, MAX_CHUNK, WRITTEN } from './batch.js';
import { NEWLINE, assertBytesMessage, assertMessage } from './framing.js';
import { PipeServerBase } from './lifecycle.js';
import { socketFd } from './native.js';
import { type ResolvedOptions, type WriterOptions, resolveOptions } from './options.js';

/** What a {@link PipeWriter} reports to its owner. */
export interface PipeWriterHooks {
  /** The queue fell below the high-water mark. */
  drain(): void;
  /** The pipe was deleted and is back. */
  recreate(info: RecreateInfo): void;
  /** A problem the writer survives. */
  warning(error: PipeIOError): void;
}

/**
 * @internal The line for `message`: a string, or a Buffer for a binary codec; an encoding
 * failure is returned as the error, for `send()` to reject with (text skips the codec: the
 * writer checks strings itself).
 */
export function encodeMessage<T>(codec: AnyCodec<T>, message: Outgoing<T>): string | Buffer | Error {
  if (codec === (textCodec as AnyCodec<unknown>)) return message as string;
  // The buffer codec's hot path: a Buffer goes as it is (the writer checks and copies it).
  if (codec === (bufferCodec as AnyCodec<unknown>) && Buffer.isBuffer(message)) return message;
  try {
    // Bytes come as a view, not a copy: the writer copies them into its batch at once.
    return isBinary(codec) ? encodeBytes(codec, message as T) : codec.encode(message as T);
  } catch (error) {
    return error instanceof Error ? error : new TypeError(String(error));
  }
}

/** Writes into a pipe up to this many bytes are atomic (POSIX: at least 512; Linux: 4096). */
const PIPE_BUF = 4096;

/**
 * The writing engine behind {@link PipeWriterServer} and {@link PipeIOServer}.
 */
export class PipeWriter {
  #fifo: FifoSource | undefined;
  #handle: FifoHandle | undefined;
  #fd = -1;
  #socket: net.Socket | undefined;
  /** Batches waiting, oldest first; `#head` is the next to write. */
  #queue: Batch[] = [];
  #head = 0;
  /** The batch new lines join, until it is written or full. */
  #tail: Batch | undefined;
  #queuedBytes = 0;
  #needsDrain = false;
  /** Whether libuv is writing the rest of the batch at `#head` (the pipe was full). */
  #inflight = false;
  /** What was handed to libuv then; `writeQueueSize` says how much of its end is not written yet. */
  #inflightBytes: Buffer | undefined;
  #scheduled = false;
  /**
   * Whether a line was written synchronously in this turn: the next ones queue and share one
   * write, as before, so a loop of sends still costs one `write(2)` per turn and not one each.
   */
  #wroteNow = false;
  /** The size of that line: the first batch after it takes that much less, to fit the pipe whole. */
  #wroteNowSize = 0;
  readonly #endTurn = (): void => {
    this.#wroteNow = false;
  };
  #switching = false;
  #open = false;
  /**
   * The memory of the last byte batch written, for the next one: a batch of byte lines needs
   * `MAX_CHUNK` bytes to copy them into, and allocating that for every batch cost more (in GC
   * of external memory) than the copies. Once a batch is written nothing holds its memory.
   */
  #spare: Buffer | undefined;

  /**
   * @param path - the out pipe
   * @param options - resolved options
   * @param hooks - where reports go
   * @param acquire - where the pipe comes from; by default it is made (or opened) at `path` and watched
   */
  constructor(
    readonly path: string,
    private readonly options: ResolvedOptions,
    private readonly hooks: PipeWriterHooks,
    private readonly acquire: AcquireFifo = (fifoHooks) => OwnedFifo.acquire(path, options, fifoHooks),
  ) {}

  /** Size of the queue not yet in the pipe: characters (UTF-16 code units) plus one per newline, which is bytes for ASCII. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Whether the queue is above the high-water mark. */
  get needsDrain(): boolean {
    return this.#needsDrain;
  }

  /** Creates or opens the pipe and starts writing whatever is queued. */
  async open(): Promise<void> {
    const fifo = await this.acquire({
      replaced: (next, previous) => this.#replaced(next, previous),
      warning: (error) => this.hooks.warning(error),
    });
    this.#fifo = fifo;
    try {
      this.#attach(fifo.current);
    } catch (error) {
      fifo.release();
      fifo.current.close();
      this.#fifo = undefined;
      throw new PipeIOError('ERR_PIPE_OPEN', `Cannot open '${this.path}' for writing: ${(error as Error).message}`, {
        path: this.path,
        cause: error,
      });
    }
    this.#open = true;
    fifo.watch(this.options.watchInterval);
    this.#schedule();
  }

  #attach(handle: FifoHandle): void {
    const fd = socketFd(handle.openWriter());
    const socket = new net.Socket({ fd, readable: false, writable: true });
    socket.on('error', () => {
      // The write callback carries the error; this listener only keeps it from being unhandled.
    });
    this.#handle = handle;
    this.#fd = fd;
    this.#socket = socket;
  }

  /**
   * Queues one line, text or bytes (or rejects with the encoding error given); resolves once
   * it is written into the pipe. Bytes are copied before it returns.
   */
  send(message: string | Buffer | Error): Promise<void> {
    if (message instanceof Error) return Promise.reject(message);
    const bytes = typeof message !== 'string';
    try {
      if (bytes) assertBytesMessage(message);
      else assertMessage(message);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#open) return Promise.reject(this.#stoppedError());
    const size = message.length + 1;
    // Nothing queued, the pipe free, and no line written yet in this turn: write it now, with no
    // batch, promise or microtask to flush it (the reply a handler sends in the turn it got the
    // request). The queue is empty, so it cannot overtake anything.
    if (!this.#wroteNow && this.#head === this.#queue.length && !this.#inflight && !this.#switching && size <= MAX_CHUNK) {
      const rest = this.#writeNow(message, bytes, size);
      if (rest === undefined) return WRITTEN;
      // The pipe was full or a write failed: what is left goes through the queue like any batch.
      const batch = new Batch(rest);
      batch.size = size;
      this.#queue.push(batch);
      this.#queuedBytes += size;
      if (!this.#needsDrain && this.#queuedBytes > this.options.highWaterMark) this.#needsDrain = true;
      this.#schedule();
      return batch.promise;
    }
    let batch = this.#tail;
    if (batch === undefined || (batch.lines === null) !== bytes || (batch.size + size > batch.limit && batch.size > 0)) {
      batch = this.#tail = bytes ? new Batch(null, this.#memoryFor(size)) : new Batch();
      // Behind a line written at once in this turn, a batch that fits what is left of an empty
      // pipe is still written whole, and its promise settles in one piece.
      if (this.#wroteNow && this.#head === this.#queue.length) batch.limit = MAX_CHUNK - this.#wroteNowSize;
      this.#queue.push(batch);
    }
    if (bytes) batch.append(message);
    else batch.lines!.push(message);
    batch.size += size;
    this.#queuedBytes += size;
    if (!this.#needsDrain && this.#queuedBytes > this.options.highWaterMark) this.#needsDrain = true;
    this.#schedule();
    return batch.promise;
  }

  /**
   * Writes one line at once; returns the bytes not written (all of them after an error other
   * than EAGAIN, for the queue's write to retry and report), or undefined when it is all in the pipe.
   */
  #writeNow(message: string | Buffer, bytes: boolean, size: number): Buffer | undefined {
    this.#wroteNow = true;
    this.#wroteNowSize = size;
    // A reaction on a settled promise: half the cost of queueMicrotask(), which makes an
    // AsyncResource per call, on a path taken once per reply.
    void WRITTEN.then(this.#endTurn);
    let line: Buffer | undefined;
    let length: number;
    if (bytes) {
      line = this.#memoryFor(size);
      line.set(message as Buffer, 0);
      line[size - 1] = NEWLINE;
      length = size;
    } else {
      message = (message as string) + '\n';
      // Up to PIPE_BUF bytes (at most 3 per UTF-16 unit) a write is atomic: all or EAGAIN, so
      // any count means all of it and the bytes need not be counted first.
      length = size * 3 <= PIPE_BUF ? -1 : Buffer.byteLength(message);
    }
    let written = 0;
    try {
      written = line !== undefined ? fs.writeSync(this.#fd, line, 0, length) : fs.writeSync(this.#fd, message as string);
    } catch {
      // EAGAIN: the pipe is full. Anything else: the queue's write meets it again and reports it.
    }
    if (written === length || (length === -1 && written > 0)) {
      if (line !== undefined && line.length === MAX_CHUNK) this.#spare = line;
      return undefined;
    }
    const all = line !== undefined ? line.subarray(0, length) : Buffer.from(message as string);
    // Copied: the spare memory is reused by the next batch.
    return Buffer.from(all.subarray(written));
  }

  /** Memory for a new batch of byte lines, the first `size` bytes long: the spare, or new. */
  #memoryFor(size: number): Buffer {
    if (size > MAX_CHUNK) return Buffer.allocUnsafeSlow(size); // a long line: a batch of its own
    const memory = this.#spare ?? Buffer.allocUnsafeSlow(MAX_CHUNK);
    this.#spare = undefined;
    return memory;
  }

  #stoppedError(): PipeIOError {
    return new PipeIOError('ERR_SERVER_STOPPED', `Cannot send to '${this.path}': the server is not running. Call start() first.`, {
      path: this.path,
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // A microtask runs after the caller's synchronous code: every send() of this turn shares one write.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#open && !this.#switching && !this.#inflight && this.#head < this.#queue.length) {
      const batch = this.#queue[this.#head]!;
      if (batch === this.#tail) this.#tail = undefined; // later sends start a new batch
      // A string goes to write(2) without a Buffer made for it first: on the echo path that allocation showed.
      const chunk = batch.encode();
      const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      let written: number;
      try {
        written = typeof chunk === 'string' ? fs.writeSync(this.#fd, chunk) : fs.writeSync(this.#fd, chunk);
      } catch (error) {
        if (errnoCode(error) !== 'EAGAIN') {
          this.#fail(error);
          continue;
        }
        written = 0;
      }
      if (written === bytes) {
        this.#done();
        continue;
      }
      // The pipe is full: libuv writes the rest when a reader makes room.
      this.#inflight = true;
      const rest = (typeof chunk === 'string' ? Buffer.from(chunk) : chunk).subarray(written);
      this.#inflightBytes = rest;
      const socket = this.#socket!;
      socket.write(rest, (error) => {
        // close() has settled everything already; or the pipe was replaced and #replaced() took
        // back what libuv had not written (a destroyed socket's callback may even report success).
        if (!this.#open || socket !== this.#socket) return;
        this.#inflight = false;
        this.#inflightBytes = undefined;
        if (error) this.#fail(error);
        else this.#done();
        this.#flush();
      });
    }
  }

  /** The batch at the head is wholly in the pipe. */
  #done(): void {
    this.#settleHead(undefined);
    if (this.#needsDrain && this.#queuedBytes <= this.options.highWaterMark) {
      this.#needsDrain = false;
      this.hooks.drain();
    }
  }

  #fail(cause: unknown): void {
    const error = new PipeIOError('ERR_WRITE', `Writing to '${this.path}' failed: ${(cause as Error).message}`, {
      path: this.path,
      cause,
    });
    this.#settleHead(error);
    this.hooks.warning(error);
  }

  #settleHead(error: Error | undefined): void {
    const batch = this.#queue[this.#head]!;
    // Not a batch #replaced() gave other bytes: libuv may still hold its memory.
    if (error === undefined && batch.memory?.length === MAX_CHUNK && batch.raw === batch.memory) this.#spare = batch.memory;
    this.#queuedBytes -= batch.size;
    batch.settle(error);
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The out pipe was deleted and made again. Lines already in the old pipe that no
   * client read are rescued through the anchor and written first into the new one;
   * queued lines follow, in order.
   *
   * libuv is stopped before the rescue: a client may still be reading the old pipe, and a byte
   * libuv wrote there after the rescue would reach it before the rescued bytes, which go into
   * the new pipe (reordered, merged and torn lines). The handle's `writeQueueSize` says exactly
   * how much of the batch libuv had not written yet; that follows the rescued bytes.
   */
  #replaced(next: FifoHandle, previous: FifoHandle): void {
    const oldSocket = this.#socket;
    const handle = (oldSocket as unknown as { _handle?: { writeQueueSize?: unknown } } | undefined)?._handle;
    const unwritten = this.#inflight ? handle?.writeQueueSize : 0;
    if (typeof unwritten !== 'number') return this.#replacedWaiting(next, previous);
    this.#socket = undefined; // its write callback is ignored from now on
    oldSocket?.destroy(); // closes the descriptor: libuv writes nothing more into the old pipe
    const rescued = previous.drain();
    previous.close();
    if (this.#inflight) {
      // The batch libuv was writing becomes the rescued bytes plus its unwritten end; its
      // promise settles when they are in the new pipe, and it stays counted in queuedBytes.
      const rest = this.#inflightBytes!;
      const batch = this.#queue[this.#head]!;
      batch.lines = null;
      batch.raw = Buffer.concat([rescued, rest.subarray(rest.length - unwritten)]);
      batch.used = batch.raw.length;
      this.#inflight = false;
      this.#inflightBytes = undefined;
    } else if (rescued.length > 0) {
      this.#queue.splice(this.#head, 0, new Batch(rescued));
    }
    this.#moveTo(next);
  }

  #moveTo(next: FifoHandle): void {
    try {
      this.#attach(next);
    } catch (error) {
      this.hooks.warning(new PipeIOError('ERR_PIPE_OPEN', `Cannot open the new '${this.path}' for writing: ${(error as Error).message}`, { path: this.path, cause: error }));
    }
    this.#switching = false;
    this.hooks.recreate({ path: this.path, role: 'out' });
    this.#flush();
  }

  /** For a Node whose pipe handle has no `writeQueueSize`: wait for libuv, draining the old pipe to make room. */
  #replacedWaiting(next: FifoHandle, previous: FifoHandle): void {
    this.#switching = true;
    const oldSocket = this.#socket;
    const rescued: Buffer[] = [];
    const finish = (): void => {
      rescued.push(previous.drain());
      oldSocket?.destroy();
      previous.close();
      const bytes = Buffer.concat(rescued);
      if (bytes.length > 0) this.#queue.splice(this.#head, 0, new Batch(bytes));
      this.#moveTo(next);
    };
    const wait = (): void => {
      if (!this.#open) return;
      if (!this.#inflight) return finish();
      rescued.push(previous.drain());
      setImmediate(wait);
    };
    wait();
  }

  /**
   * Removes the pipe (when managed), rejects what is still queued, and closes. Clients
   * reading see end of stream once they have read what the pipe holds.
   */
  async close(): Promise<void> {
    this.#open = false;
    this.#fifo?.release();
    const error = this.#stoppedError();
    const queue = this.#queue;
    const from = this.#head;
    this.#queue = [];
    this.#head = 0;
    this.#tail = undefined;
    this.#inflight = false;
    this.#inflightBytes = undefined;
    this.#queuedBytes = 0;
    for (let i = from; i < queue.length; i++) queue[i]!.settle(error);
    const socket = this.#socket;
    this.#socket = undefined;
    this.#fd = -1;
    if (socket) {
      socket.destroy();
      if (!socket.closed) await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    }
    const handles = new Set([this.#handle, this.#fifo?.current]);
    this.#handle = undefined;
    this.#fifo = undefined;
    await Promise.all([...handles].map((handle) => handle?.closeAndWake()));
  }
}

/**
 * A server that only writes: clients read lines from `outPipe`.
 *
 * ```ts
 * const server = new PipeWriterServer('/tmp/app/recv');
 * await server.start();
 * await server.send('hello');
 * ```
 * @typeParam T - what a message is: a string (the default text codec), or what the codec encodes
 */
export class PipeWriterServer<T = string> extends PipeServerBase<WriterEvents> {
  readonly #writer: PipeWriter;
  readonly #codec: AnyCodec<T>;

  /**
   * @param outPipe - path of the FIFO clients read from
   * @param options - see {@link WriterOptions}
   */
  constructor(
    readonly outPipe: string,
    options: WriterOptions<T> = {},
  ) {
    super(options.signal);
    this.#codec = resolveCodec(options.codec) as AnyCodec<T>;
    this.#writer = new PipeWriter(outPipe, resolveOptions(options), {
      drain: () => this.emit('drain'),
      recreate: (info) => this.emit('recreate', info),
      warning: (error) => this.warn(error),
    });
  }

  /**
   * Sends one message: resolves once the line is written into the out pipe. Rejects with a
   * `TypeError` if the line would contain a newline or the codec cannot encode the value
   * (nothing is written), and with a {@link PipeIOError} (`ERR_SERVER_STOPPED`) when the
   * server is not running or stops first. A `Buffer` is copied before `send()` returns:
   * it may be reused at once.
   */
  send(message: Outgoing<T>): Promise<void> {
    return this.#writer.send(encodeMessage(this.#codec, message));
  }

  /** Size of what is queued and not yet in the pipe: characters (bytes, for ASCII text or the buffer codec) plus one per newline. */
  get queuedBytes(): number {
    return this.#writer.queuedBytes;
  }

  /** Whether the queue is above `highWaterMark`; wait for `'drain'` before sending more. */
  get needsDrain(): boolean {
    return this.#writer.needsDrain;
  }

  protected override open(): Promise<void> {
    return this.#writer.open();
  }

  protected override close(): Promise<void> {
    return this.#writer.close();
  }
}
