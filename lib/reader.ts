/**
 * The in pipe: clients write lines into it, the server reads them.
 *
 * One read descriptor at a time is driven by libuv's pipe handle (`net.Socket({ fd })`),
 * so nothing ever waits in the threadpool. When every client has closed, the reader sees
 * end of stream: it delivers any unfinished last line on its own, and moves to a fresh
 * descriptor on the same inode for the next client. The anchor (see `fifo.ts`) keeps a
 * reader on the pipe at every moment, so clients never block or fail while that happens.
 *
 * End of stream is only seen while no writer is open. A client that opens the pipe
 * before the server has read the previous client's end of stream continues the same
 * stream: the kernel marks no boundary between them, which is why clients must end
 * every message with a newline.
 * @module
 */
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import { type AnyCodec, isBinary, resolveCodec } from './codec.js';
import { PipeIOError } from './errors.js';
import type { OversizeInfo, ReaderEvents, RecreateInfo } from './events.js';
import { FifoHandle } from './fifo.js';
import { type AcquireFifo, type FifoSource, OwnedFifo } from './owned-fifo.js';
import { socketFd } from './native.js';
import { ByteLineDecoder, LineDecoder, type LineDecoderHooks } from './framing.js';
import { MessageInbox } from './inbox.js';
import { PipeServerBase } from './lifecycle.js';
import { type ReaderOptions, type ResolvedOptions, resolveOptions } from './options.js';

/** What a {@link PipeReader} reports to its owner. */
export interface PipeReaderHooks {
  /** One complete message: text, or bytes for a binary codec. */
  message(message: string | Buffer): void;
  /**
   * When present, the messages that arrived whole in one read, in one call and in order (see
   * {@link LineDecoderHooks.lines}); the others still go to {@link message}. The array is the
   * receiver's to keep.
   */
  messages?(messages: string[] | Buffer[]): void;
  /** A line too long was dropped. */
  oversize(info: OversizeInfo): void;
  /** The pipe was deleted and is back. */
  recreate(info: RecreateInfo): void;
  /** A problem the reader survives. */
  warning(error: PipeIOError): void;
  /**
   * When given, the pipe has one writer for its whole life (a session's private pipe): its end
   * of stream is the end, delivered after any unfinished last line, and no new descriptor is
   * opened for a next client.
   */
  end?(): void;
}

/**
 * The memory every reader of the process reads into: one pipe's worth (a read never returns
 * more). One is enough because a read and its callback run together on the main thread, and
 * the callback is done with the bytes when it returns: text is decoded (copied), bytes are
 * copied out. The default path cost a 64 KiB allocation per read, shrunk to what was read.
 */
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** One read descriptor and the partial line it has read. */
interface Source {
  readonly handle: FifoHandle;
  readonly socket: net.Socket;
  readonly decoder: LineDecoder | ByteLineDecoder;
  ended: boolean;
}

/**
 * The reading engine behind {@link PipeReaderServer} and {@link PipeIOServer}: no lifecycle
 * of its own, just `open()`, `close()`, `pause()` and `resume()`.
 */
export class PipeReader {
  #fifo: FifoSource | undefined;
  #sources = new Set<Source>();
  #handles = new Set<FifoHandle>();
  #paused = false;
  #closing = false;

  /**
   * @param path - the in pipe
   * @param options - resolved options
   * @param codec - says whether lines are text or bytes
   * @param hooks - where messages and reports go
   * @param acquire - where the pipe comes from; by default it is made (or opened) at `path` and watched
   */
  constructor(
    readonly path: string,
    private readonly options: ResolvedOptions,
    private readonly codec: AnyCodec<unknown>,
    private readonly hooks: PipeReaderHooks,
    private readonly acquire: AcquireFifo = (fifoHooks) => OwnedFifo.acquire(path, options, fifoHooks),
  ) {}

  /** Creates or opens the pipe and starts reading. */
  async open(): Promise<void> {
    this.#closing = false;
    const fifo = await this.acquire({
      replaced: (next, previous) => this.#replaced(next, previous),
      warning: (error) => this.hooks.warning(error),
    });
    this.#fifo = fifo;
    this.#handles.add(fifo.current);
    try {
      this.#attach(fifo.current);
    } catch (error) {
      // close() releases the pipe; the caller needs a PipeIOError, not a bare EMFILE.
      throw new PipeIOError('ERR_PIPE_OPEN', `Cannot open '${this.path}' for reading: ${(error as Error).message}`, {
        path: this.path,
        cause: error,
      });
    }
    fifo.watch(this.options.watchInterval);
  }

  #attach(handle: FifoHandle): void {
    const binary = isBinary(this.codec);
    // `onread`: libuv reads straight into READ_BUFFER and the callback decodes it there, with
    // no Buffer allocated per read, no Readable queue and no 'data' event (see READ_BUFFER).
    // Documented for `new net.Socket()` since nodejs/node#54194 (it always worked there);
    // @types/node still lists it for connect() only.
    const options: net.SocketConstructorOpts & { onread: net.OnReadOpts } = {
      fd: socketFd(handle.openReader()),
      readable: true,
      writable: false,
      onread: {
        buffer: READ_BUFFER,
        callback: (length, buffer) => {
          // Byte lines are handed out as views of the chunk, so they get memory of their own
          // (Node's pool for short reads); text is decoded, hence copied, before this returns.
          source.decoder.push(binary ? Buffer.from(buffer.subarray(0, length)) : (buffer as Buffer).subarray(0, length));
          return true;
        },
      },
    };
    const socket = new net.Socket(options);
    const decoderHooks = {
      line: this.hooks.message,
      lines: this.hooks.messages,
      oversize: () => this.hooks.oversize({ path: this.path, limit: this.options.maxMessageBytes }),
    };
    const source: Source = {
      handle,
      socket,
      decoder: binary
        ? new ByteLineDecoder(this.options.maxMessageBytes, decoderHooks)
        : new LineDecoder(this.options.maxMessageBytes, decoderHooks),
      ended: false,
    };
    this.#sources.add(source);
    socket.on('end', () => {
      // Every writer has closed: an unfinished line is a message of its own.
      source.ended = true;
      source.decoder.end();
      if (this.hooks.end !== undefined) {
        if (!this.#closing) this.hooks.end();
      } else if (!this.#closing && handle === this.#fifo?.current) this.#reattach(handle);
    });
    socket.on('error', (error) => {
      this.hooks.warning(new PipeIOError('ERR_PIPE_OPEN', `Reading '${this.path}' failed: ${error.message}; reopening it.`, { path: this.path, cause: error }));
    });
    socket.on('close', () => {
      this.#sources.delete(source);
      if (!source.ended && !this.#closing) {
        // A read error: a private pipe cannot be read on, so that is its end too.
        if (this.hooks.end !== undefined) this.hooks.end();
        else if (handle === this.#fifo?.current) this.#reattach(handle);
      }
      this.#closeIfUnused(handle);
    });
    if (this.#paused) socket.pause();
  }

  /** Opens the next read descriptor; if the system refuses (EMFILE…), says so and tries again soon. */
  #reattach(handle: FifoHandle): void {
    try {
      this.#attach(handle);
    } catch (error) {
      this.hooks.warning(
        new PipeIOError('ERR_PIPE_OPEN', `Cannot reopen '${this.path}' for reading (${(error as Error).message}); retrying.`, {
          path: this.path,
          cause: error,
        }),
      );
      setTimeout(() => {
        if (!this.#closing && handle === this.#fifo?.current) this.#reattach(handle);
      }, 100).unref();
    }
  }

  /**
   * A write descriptor on the pipe being read, for the caller to hold and close: while it is
   * open, no end of stream is seen.
   */
  holdWriter(): number {
    return this.#fifo!.current.openWriter();
  }

  /** A retired inode is closed once its last reader is done with it. */
  #closeIfUnused(handle: FifoHandle): void {
    if (handle === this.#fifo?.current && !this.#closing) return;
    for (const source of this.#sources) if (source.handle === handle) return;
    this.#handles.delete(handle);
    handle.close();
  }

  #replaced(next: FifoHandle, previous: FifoHandle): void {
    this.#handles.add(next);
    this.#reattach(next);
    // Clients that still hold the old inode finish their lines there; the kick turns
    // "no writer left" into end of stream, so the old reader closes once they are done.
    try {
      previous.kick();
    } catch {
      for (const source of this.#sources) if (source.handle === previous) source.socket.destroy();
    }
    this.#closeIfUnused(previous);
    this.hooks.recreate({ path: this.path, role: 'in' });
  }

  /** Stops reading; the kernel holds what clients write until the pipe fills. */
  pause(): void {
    this.#paused = true;
    for (const source of this.#sources) source.socket.pause();
  }

  /** Reads again after {@link pause}. */
  resume(): void {
    this.#paused = false;
    for (const source of this.#sources) source.socket.resume();
  }

  /**
   * Lines clients wrote before the stop are delivered, even while reading is paused (a
   * lagging iterator): what the kernel holds, read through the anchor (a socket holds
   * nothing: each read is decoded as it arrives). Bounded by the pipe's size. A line still
   * unfinished is dropped.
   */
  #deliverRest(): void {
    for (const handle of this.#handles) {
      let latest: Source | undefined;
      for (const source of this.#sources) if (source.handle === handle && !source.ended) latest = source;
      if (latest === undefined) continue;
      try {
        const rest = handle.drain();
        if (rest.length > 0) latest.decoder.push(rest);
      } catch {
        // Nothing more can be read: what was delivered is all there is.
      }
    }
  }

  /**
   * Removes the pipe (when managed) and closes every descriptor. Clients writing get EPIPE,
   * clients opening the removed path get ENOENT: nobody is left waiting.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#fifo?.release();
    // Before the first await: the servers' close() lets handlers drain right after this call.
    this.#deliverRest();
    const closed = [...this.#sources].map((source) => {
      source.socket.destroy();
      return new Promise<void>((resolve) => {
        if (source.socket.closed) resolve();
        else source.socket.once('close', () => resolve());
      });
    });
    await Promise.all(closed);
    this.#sources.clear();
    const handles = [...this.#handles];
    this.#handles.clear();
    this.#fifo = undefined;
    await Promise.all(handles.map((handle) => handle.closeAndWake()));
  }
}

/**
 * A server that only reads: clients write lines into `inPipe`.
 *
 * ```ts
 * const server = new PipeReaderServer('/tmp/app/send');
 * server.on('message', (line) => console.log(line));
 * await server.start();
 * ```
 * Override {@link handleMessage} in a subclass instead of listening, if you prefer.
 * @typeParam T - what a message is: a string (the default text codec), or what the codec decodes
 */
export class PipeReaderServer<T = string> extends PipeServerBase<ReaderEvents<T>> {
  readonly #reader: PipeReader;
  readonly #inbox: MessageInbox<T>;

  /**
   * @param inPipe - path of the FIFO clients write to
   * @param options - see {@link ReaderOptions}
   */
  constructor(
    readonly inPipe: string,
    options: ReaderOptions<T> = {},
  ) {
    super(options.signal);
    const resolved = resolveOptions(options);
    const codec = resolveCodec(options.codec) as AnyCodec<T>;
    this.#reader = new PipeReader(inPipe, resolved, codec, {
      message: (message) => this.#inbox.deliver(message),
      messages: (messages) => this.#inbox.deliverAll(messages),
      oversize: (info) => this.emit('oversize', info),
      recreate: (info) => this.emit('recreate', info),
      warning: (error) => this.warn(error),
    });
    this.#inbox = new MessageInbox<T>(this, codec, this.#reader, resolved, inPipe, (error) => this.warn(error));
  }

  /**
   * Called for every message, in order. The default emits `'message'`. A subclass may override
   * it; a throw or a rejected promise is reported through `'warning'`, never crashes the server.
   * A returned promise is waited for: at most `concurrency` (default 1) pending at once, and
   * reading pauses while they lag. `send()`'s own promise is not waited for.
   */
  handleMessage(message: T): unknown {
    // Not emit(...[message]): that spread cost an array per message on the hot path.
    return (this as EventEmitter).emit('message', message);
  }

  /**
   * Optional: define it in a subclass to take messages in batches instead of one by one. It is
   * then called, in place of {@link handleMessage} (and no `'message'` event is emitted), with
   * the messages of one read of the pipe, in order: up to 64 KiB of lines in one call, so the
   * per-call costs are paid once per read. A returned promise holds one of the `concurrency`
   * slots, as `handleMessage`'s does; a throw or a rejection is reported through `'warning'`.
   * The array is the handler's to keep. Whether it is defined is looked up at the first message.
   * Iterators still see every message.
   */
  handleMessages?(messages: T[]): unknown;

  /** Messages as an async iterator; it ends when the server stops. Reading pauses while it lags. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.#inbox.iterate();
  }

  /** Same as iterating the server itself. */
  messages(): AsyncIterableIterator<T> {
    return this.#inbox.iterate();
  }

  protected override open(): Promise<void> {
    return this.#reader.open();
  }

  protected override async close(): Promise<void> {
    // reader.close() hands over the last lines it can read before its first await.
    await Promise.all([this.#reader.close(), this.#inbox.drain()]);
    this.#inbox.end();
  }
}
