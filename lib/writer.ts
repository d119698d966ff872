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
 * @module
 */
import fs from 'node:fs';
import net from 'node:net';
import { PipeIOError, errnoCode } from './errors.js';
import type { RecreateInfo, WriterEvents } from './events.js';
import { FifoHandle, OwnedFifo } from './fifo.js';
import { type Codec, resolveCodec, textCodec } from './codec.js';
import { assertMessage, encodeLines } from './framing.js';
import { PipeServerBase } from './lifecycle.js';
import { type ResolvedOptions, type WriterOptions, resolveOptions } from './options.js';

/** The most bytes joined into one write: large enough to amortise the syscall, small enough to stay in cache. */
const MAX_CHUNK = 256 * 1024;

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
 * @internal The line for `message`; an encoding failure is returned as the error, for
 * `send()` to reject with (text skips the codec: the writer checks strings itself).
 */
export function encodeMessage<T>(codec: Codec<T>, message: T): string | Error {
  if (codec === (textCodec as Codec<unknown>)) return message as string;
  try {
    return codec.encode(message);
  } catch (error) {
    return error instanceof Error ? error : new TypeError(String(error));
  }
}

type Settle = (error?: Error) => void;
const settled: Settle = () => {};

/**
 * The writing engine behind {@link PipeWriterServer} and {@link PipeIOServer}.
 */
export class PipeWriter {
  #fifo: OwnedFifo | undefined;
  #handle: FifoHandle | undefined;
  #fd = -1;
  #socket: net.Socket | undefined;
  /** Lines, or raw bytes rescued from a deleted pipe, from `#head` on. */
  #queue: Array<string | Buffer> = [];
  #settle: Settle[] = [];
  #head = 0;
  #queuedBytes = 0;
  #needsDrain = false;
  /** How many entries from `#head` on libuv is writing (0: none, the main thread writes). */
  #inflight = 0;
  #scheduled = false;
  #switching = false;
  #open = false;

  /**
   * @param path - the out pipe
   * @param options - resolved options
   * @param hooks - where reports go
   */
  constructor(
    readonly path: string,
    private readonly options: ResolvedOptions,
    private readonly hooks: PipeWriterHooks,
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
    const fifo = await OwnedFifo.acquire(this.path, this.options, {
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
    const fd = handle.openWriter();
    const socket = new net.Socket({ fd, readable: false, writable: true });
    socket.on('error', () => {
      // The write callback carries the error; this listener only keeps it from being unhandled.
    });
    this.#handle = handle;
    this.#fd = fd;
    this.#socket = socket;
  }

  /** Queues one line (or rejects with the encoding error given); resolves once it is written into the pipe. */
  send(message: string | Error): Promise<void> {
    if (message instanceof Error) return Promise.reject(message);
    try {
      assertMessage(message);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#open) return Promise.reject(this.#stoppedError());
    return new Promise<void>((resolve, reject) => {
      this.#queue.push(message);
      this.#settle.push((error) => (error === undefined ? resolve() : reject(error)));
      this.#queuedBytes += message.length + 1;
      if (!this.#needsDrain && this.#queuedBytes > this.options.highWaterMark) this.#needsDrain = true;
      this.#schedule();
    });
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
    while (this.#open && !this.#switching && this.#inflight === 0 && this.#head < this.#queue.length) {
      const from = this.#head;
      let to = from + 1;
      let chunk: Buffer;
      const first = this.#queue[from]!;
      if (typeof first === 'string') {
        let size = first.length;
        while (to < this.#queue.length && size < MAX_CHUNK) {
          const next = this.#queue[to]!;
          if (typeof next !== 'string') break;
          size += next.length + 1;
          to++;
        }
        chunk = encodeLines(this.#queue as string[], from, to);
      } else {
        chunk = first;
      }
      let written: number;
      try {
        written = fs.writeSync(this.#fd, chunk);
      } catch (error) {
        if (errnoCode(error) !== 'EAGAIN') {
          this.#fail(to - from, error);
          continue;
        }
        written = 0;
      }
      if (written === chunk.length) {
        this.#done(to - from);
        continue;
      }
      // The pipe is full. Lines already wholly in it are sent; libuv writes the rest when a reader makes room.
      const whole = written > 0 && typeof first === 'string' ? this.#wholeLines(from, to, written) : 0;
      this.#done(whole);
      this.#inflight = to - from - whole;
      this.#socket!.write(chunk.subarray(written), (error) => {
        if (!this.#open) return; // close() has settled everything already
        const count = this.#inflight;
        this.#inflight = 0;
        if (error) this.#fail(count, error);
        else this.#done(count);
        this.#flush();
      });
    }
  }

  /** How many of the lines `from..to` fit wholly in their first `written` encoded bytes. */
  #wholeLines(from: number, to: number, written: number): number {
    let bytes = 0;
    for (let i = from; i < to; i++) {
      bytes += Buffer.byteLength(this.#queue[i] as string) + 1;
      if (bytes > written) return i - from;
    }
    return to - from;
  }

  /** The first `count` queued entries are in the pipe. */
  #done(count: number): void {
    if (count === 0) return;
    this.#settleFront(count, undefined);
    if (this.#needsDrain && this.#queuedBytes <= this.options.highWaterMark) {
      this.#needsDrain = false;
      this.hooks.drain();
    }
  }

  #fail(count: number, cause: unknown): void {
    const error = new PipeIOError('ERR_WRITE', `Writing to '${this.path}' failed: ${(cause as Error).message}`, {
      path: this.path,
      cause,
    });
    this.#settleFront(count, error);
    this.hooks.warning(error);
  }

  /** Settles the first `count` queued entries, and takes them off the queue and out of its size. */
  #settleFront(count: number, error: Error | undefined): void {
    const queue = this.#queue;
    const settle = this.#settle;
    const from = this.#head;
    const to = from + count;
    let size = 0;
    for (let i = from; i < to; i++) {
      const entry = queue[i]!;
      if (typeof entry === 'string') size += entry.length + 1;
      settle[i]!(error);
    }
    this.#queuedBytes -= size;
    this.#advance(to);
  }

  #advance(to: number): void {
    this.#head = to;
    if (to === this.#queue.length) {
      this.#queue = [];
      this.#settle = [];
      this.#head = 0;
    } else if (to > 4096 && to * 2 > this.#queue.length) {
      // Drop the settled front now and then, so a queue that never empties stays small.
      this.#queue = this.#queue.slice(to);
      this.#settle = this.#settle.slice(to);
      this.#head = 0;
    }
  }

  /**
   * The out pipe was deleted and made again. Lines already in the old pipe that no
   * client read are rescued through the anchor and written first into the new one;
   * queued lines follow, in order.
   */
  #replaced(next: FifoHandle, previous: FifoHandle): void {
    this.#switching = true;
    const oldSocket = this.#socket;
    const rescued: Buffer[] = [];
    const finish = (): void => {
      rescued.push(previous.drain());
      oldSocket?.destroy();
      previous.close();
      const bytes = Buffer.concat(rescued);
      if (bytes.length > 0) {
        this.#queue.splice(this.#head, 0, bytes);
        this.#settle.splice(this.#head, 0, settled);
      }
      try {
        this.#attach(next);
      } catch (error) {
        this.hooks.warning(new PipeIOError('ERR_PIPE_OPEN', `Cannot open the new '${this.path}' for writing: ${(error as Error).message}`, { path: this.path, cause: error }));
      }
      this.#switching = false;
      this.hooks.recreate({ path: this.path, role: 'out' });
      this.#flush();
    };
    // A write stuck in libuv completes once the old pipe has room: make room by rescuing its contents.
    const wait = (): void => {
      if (!this.#open) return;
      if (this.#inflight === 0) return finish();
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
    const settle = this.#settle;
    const end = this.#queue.length;
    const from = this.#head;
    this.#queue = [];
    this.#settle = [];
    this.#head = 0;
    this.#inflight = 0;
    this.#queuedBytes = 0;
    for (let i = from; i < end; i++) settle[i]!(error);
    const socket = this.#socket;
    this.#socket = undefined;
    this.#fd = -1;
    if (socket) {
      socket.destroy();
      if (!socket.closed) await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    }
    this.#handle?.close();
    this.#handle = undefined;
    this.#fifo?.current.close();
    this.#fifo = undefined;
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
  readonly #codec: Codec<T>;

  /**
   * @param outPipe - path of the FIFO clients read from
   * @param options - see {@link WriterOptions}
   */
  constructor(
    readonly outPipe: string,
    options: WriterOptions = {},
  ) {
    super(options.signal);
    this.#codec = resolveCodec(options.codec) as Codec<T>;
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
   * server is not running or stops first.
   */
  send(message: T): Promise<void> {
    return this.#writer.send(encodeMessage(this.#codec, message));
  }

  /** Size of what is queued and not yet in the pipe: characters plus one per newline (bytes, for ASCII text). */
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
