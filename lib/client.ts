/**
 * The client end, for plugins written in Node: it writes to the server's in pipe and
 * reads the server's out pipe.
 *
 * Like the servers, it never lets a FIFO block a thread: both pipes are opened with
 * `O_NONBLOCK` (which never waits) from the main thread, and then driven by libuv's
 * pipe handles (`net.Socket({ fd })`), so a slow or absent server costs no threadpool
 * thread.
 * @module
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { type AnyCodec, type CodecOption, type Outgoing, decodeLine, encodeBytes, isBinary, resolveCodec } from './codec.js';
import { PipeIOError, describeErrno, errnoCode } from './errors.js';
import type { OversizeInfo } from './events.js';
import { MessageFeed } from './feed.js';
import { socketFd } from './native.js';
import { LineSender } from './client-sender.js';
import { ByteLineDecoder, LineDecoder, assertBytesMessage, assertMessage } from './framing.js';
import { type ClientFolder, makeClientFolder, openSessionPipes, parseAnswer, requestSession } from './session/connect.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;

/**
 * Options of {@link PipeIOClient}.
 * @typeParam T - the message type, which the codec must yield: see {@link CodecOption}
 */
export interface PipeIOClientOptions<T = string> {
  /** The pipe the client writes to (the server's in pipe). Default: `$PIPE_IO_SEND`. */
  send?: string;
  /** The pipe the client reads from (the server's out pipe). Default: `$PIPE_IO_RECV`. */
  recv?: string;
  /**
   * How messages are encoded on the wire: `'text'` (default), `'json'`, `'buffer'` (raw bytes,
   * for a `PipeIOClient<Buffer>`) or a {@link Codec}.
   */
  codec?: CodecOption<T>;
  /**
   * How long, in milliseconds, {@link PipeIOClient.connect} waits for a server to appear
   * (pipes missing, or present with no server reading). Default `10000`.
   */
  timeout?: number;
  /** Longest message accepted, in bytes; a longer line is dropped and reported through `'oversize'`. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Closes the client when aborted. */
  signal?: AbortSignal;
}

/**
 * Options of {@link PipeIOClient.session}: the client's, less the paths (the session has its own).
 * `timeout` bounds the whole connect: waiting for the server, and its answer.
 * @typeParam T - the message type
 */
export type PipeSessionClientOptions<T = string> = Omit<PipeIOClientOptions<T>, 'send' | 'recv'>;

/** Where a {@link PipeIOClient} is in its life. */
export type ClientState = 'idle' | 'connecting' | 'open' | 'closed';

/** Events of {@link PipeIOClient}. None of them is `'error'`: nothing the server sends can crash the host. */
export interface PipeIOClientEvents<T> {
  /** One message from the server, decoded. */
  message: [message: T];
  /** A line longer than `maxMessageBytes` was dropped. */
  oversize: [info: OversizeInfo];
  /**
   * A problem the client survives: a line the codec could not decode (`ERR_DECODE`, with the
   * {@link CodecError} as `cause`; the line is skipped), a fragment left at end of stream
   * (`ERR_SERVER_STOPPED`). With no listener it goes to `process.emitWarning`.
   */
  warning: [error: PipeIOError];
  /** The server closed its out pipe (it stopped): every message before that has been emitted. */
  end: [];
  /** The client is closed; after `'end'`, or after {@link PipeIOClient.close}. */
  close: [];
}


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A connection to a pipe-io server from the client side.
 *
 * ```ts
 * // In a plugin started by spawnPlugin() or `pipe-io run`: the paths come from the environment.
 * const client = new PipeIOClient({ codec: 'json' });
 * await client.connect();
 * for await (const request of client) await client.send({ ok: true, request });
 * // the loop ends when the host stops the server
 * ```
 *
 * Each message is written with one `write(2)`, so lines up to 4096 bytes (`PIPE_BUF`)
 * never mix with other clients' lines. End of stream on the out pipe means the server
 * stopped: the client emits `'end'`, finishes its iterators and closes itself. Unless the
 * out pipe was deleted and the server made it again: then the client follows the new pipe
 * (see {@link PipeIOClient.recvPath}) and nothing is seen but the messages going on.
 * @typeParam T - the message type (`string` for the text codec)
 */
export class PipeIOClient<T = string> extends EventEmitter<PipeIOClientEvents<T>> {
  /** The pipe this client writes to. */
  readonly sendPath: string;
  /**
   * The pipe this client reads from. If it is deleted and the server makes it again, the
   * client follows: at end of stream, a FIFO at this path with another inode, owned by the
   * same user as the first one and not a symlink, is where the server went on; the client
   * reads on there, keeping any unfinished line (the server moves what nobody read of the old
   * pipe into the new one). A path that is gone or still names the same inode means the
   * server stopped. Sends keep going to the in pipe opened by {@link PipeIOClient.connect},
   * which the server goes on reading while the client holds it.
   */
  readonly recvPath: string;
  readonly #codec: AnyCodec<T>;
  readonly #timeout: number;
  readonly #maxMessageBytes: number;
  readonly #signal: AbortSignal | undefined;
  #state: ClientState = 'idle';
  #connecting: Promise<void> | undefined;
  #recv: net.Socket | undefined;
  /** The out pipe being read, and its owner: a recreated pipe is followed only if it has the same owner. */
  #recvId: { dev: number; ino: number; uid: number } | undefined;
  /** Whether the feed paused reading; a followed pipe starts paused too. */
  #recvPaused = false;
  /** The sending side, once connected. */
  #sender: LineSender | undefined;
  #feed: MessageFeed<T>;
  #closed: Promise<void>;
  #resolveClosed: () => void = () => {};
  #onAbort = (): void => void this.close();
  /** The session folder this client made ({@link PipeIOClient.session}); removed at close. */
  #sessionFolder: ClientFolder | undefined;
  #sessionId: number | undefined;
  /** The promise of the latest send, for {@link end} to wait for. */
  #lastSend: Promise<void> | undefined;
  /** Takes the first line of a session's out pipe: the server's answer. */
  #answer: ((line: string | undefined) => void) | undefined;

  /**
   * @param options - paths, codec and timeouts; see {@link PipeIOClientOptions}
   * @throws TypeError when a path is neither given nor in the environment, or an option is invalid
   */
  constructor(options: PipeIOClientOptions<T> = {}) {
    super();
    const send = options.send ?? process.env.PIPE_IO_SEND;
    const recv = options.recv ?? process.env.PIPE_IO_RECV;
    if (!send || !recv) {
      throw new TypeError(
        `PipeIOClient needs the ${!send ? 'send' : 'recv'} pipe: pass { ${!send ? 'send' : 'recv'}: path } or set ${!send ? 'PIPE_IO_SEND' : 'PIPE_IO_RECV'} (the host sets both when it starts a plugin).`,
      );
    }
    this.sendPath = send;
    this.recvPath = recv;
    this.#codec = resolveCodec(options.codec) as AnyCodec<T>;
    this.#timeout = nonNegative('timeout', options.timeout, 10_000);
    this.#maxMessageBytes = nonNegative('maxMessageBytes', options.maxMessageBytes, 1024 * 1024);
    this.#signal = options.signal;
    this.#closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
    this.#feed = new MessageFeed<T>({
      pause: () => {
        this.#recvPaused = true;
        this.#recv?.pause();
      },
      resume: () => {
        this.#recvPaused = false;
        this.#recv?.resume();
      },
    });
  }

  /**
   * Opens a session with the {@link PipeSessionServer} serving `dir`: makes a private folder and
   * FIFO pair in it, asks on `dir/connect`, and resolves with a client that is open on that pair
   * once the server accepts. Rejects with a {@link PipeIOError}: `ERR_SESSION_REFUSED` with the
   * server's reason (too many sessions…), `ERR_PIPE_MISSING`/`ERR_PIPE_OPEN` when no server
   * answers within `timeout` or this user may not make a folder there. Closing the client ends
   * the session and removes the folder.
   *
   * ```ts
   * const client = await PipeIOClient.session('/run/myapp');
   * await client.send('hello');
   * for await (const reply of client) console.log(reply);
   * ```
   */
  static async session<T = string>(dir: string, options: PipeSessionClientOptions<T> = {}): Promise<PipeIOClient<T>> {
    const timeout = nonNegative('timeout', options.timeout, 10_000);
    const deadline = Date.now() + timeout;
    const folder = await makeClientFolder(dir);
    try {
      await requestSession(dir, folder.name, deadline);
      const client = new PipeIOClient<T>({ ...options, send: folder.inPath, recv: folder.outPath });
      client.#sessionFolder = folder;
      await client.#openSession(dir, deadline);
      return client;
    } catch (error) {
      folder.remove();
      throw error;
    }
  }

  /** The id the session server gave this client's session; undefined for a client that is not a session. */
  get sessionId(): number | undefined {
    return this.#sessionId;
  }

  /**
   * The pair in the order the protocol says: `in` first (the open fails with ENXIO until the
   * server reads it), then `out`; then the server's first line is its answer.
   */
  async #openSession(dir: string, deadline: number): Promise<void> {
    this.#state = 'connecting';
    let fds: { sendFd: number; recvFd: number };
    try {
      fds = await openSessionPipes(dir, this.sendPath, this.recvPath, deadline, this.#timeout);
    } catch (error) {
      this.#finish();
      throw error;
    }
    const answer = new Promise<string | undefined>((resolve) => (this.#answer = resolve));
    this.#attach(fds.recvFd, fds.sendFd);
    this.#state = 'open';
    let timer: NodeJS.Timeout | undefined;
    const line = await Promise.race([
      answer,
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    this.#answer = undefined;
    const outcome = parseAnswer(dir, line, this.#timeout);
    if (typeof outcome === 'number') {
      this.#sessionId = outcome;
      this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
      if (this.#signal?.aborted) void this.close();
      return;
    }
    await this.close();
    throw outcome;
  }


  /** Where the client is in its life. */
  get state(): ClientState {
    return this.#state;
  }

  /** Resolves once the client is closed, by {@link close} or because the server stopped. Never rejects. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /**
   * Opens both pipes. Resolves once a server is reading the send pipe. While the pipes do
   * not exist yet (`ENOENT`), or exist with no server (`ENXIO`), it retries with a short
   * backoff until `timeout`, then rejects with a {@link PipeIOError} that says which.
   * A failed connect leaves the client idle, so it may be tried again.
   */
  connect(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    if (this.#signal?.aborted) {
      this.#finish();
      throw this.#closedError();
    }
    this.#state = 'connecting';
    const deadline = Date.now() + this.#timeout;
    let recvFd = -1;
    let sendFd = -1;
    let delay = 5;
    try {
      for (;;) {
        let waitingFor: { path: string; error: unknown } | undefined;
        if (recvFd < 0) {
          // The out pipe first: a read-only O_NONBLOCK open always succeeds on a FIFO, and
          // being a reader before the server writes means nothing it sends is missed.
          try {
            recvFd = openFifo(this.recvPath, O_RDONLY | O_NONBLOCK);
          } catch (error) {
            if (errnoCode(error) !== 'ENOENT') throw error;
            waitingFor = { path: this.recvPath, error };
          }
        }
        if (recvFd >= 0) {
          try {
            sendFd = openFifo(this.sendPath, O_WRONLY | O_NONBLOCK);
            break;
          } catch (error) {
            const code = errnoCode(error);
            if (code !== 'ENOENT' && code !== 'ENXIO') throw error;
            waitingFor = { path: this.sendPath, error };
          }
        }
        if (this.#state !== 'connecting') throw this.#closedError();
        const left = deadline - Date.now();
        if (left <= 0) throw this.#timeoutError(waitingFor!.path, waitingFor!.error);
        await sleep(Math.min(delay, left));
        delay = Math.min(delay * 2, 100);
        if (this.#state !== 'connecting') throw this.#closedError();
      }
    } catch (error) {
      if (recvFd >= 0) fs.closeSync(recvFd);
      if (this.#state === 'connecting') this.#state = 'idle';
      throw error instanceof PipeIOError || error instanceof TypeError
        ? error
        : new PipeIOError('ERR_PIPE_OPEN', `Cannot connect: ${describeErrno(error)}.`, { cause: error });
    }
    this.#attach(recvFd, sendFd);
    this.#state = 'open';
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (this.#signal?.aborted) void this.close();
  }

  #attach(recvFd: number, sendFd: number): void {
    const hooks = {
      line: (line: string | Buffer) => this.#deliver(line),
      oversize: () => this.emit('oversize', { path: this.recvPath, limit: this.#maxMessageBytes }),
    };
    const decoder = isBinary(this.#codec) ? new ByteLineDecoder(this.#maxMessageBytes, hooks) : new LineDecoder(this.#maxMessageBytes, hooks);
    this.#readFrom(recvFd, decoder);

    this.#sender = new LineSender(this.sendPath, sendFd);
  }

  /** Reads the out pipe open on `fd` into `decoder`, which carries an unfinished line over from a previous pipe. */
  #readFrom(fd: number, decoder: LineDecoder | ByteLineDecoder): void {
    fd = socketFd(fd);
    const stats = fs.fstatSync(fd);
    this.#recvId = { dev: stats.dev, ino: stats.ino, uid: this.#recvId?.uid ?? stats.uid };
    const recv = new net.Socket({ fd, readable: true, writable: false });
    this.#recv = recv;
    if (this.#recvPaused) recv.pause();
    recv.on('data', (chunk: Buffer) => decoder.push(chunk));
    recv.on('end', () => {
      if (this.#recv !== recv) return;
      const next = this.#followFd();
      if (next !== undefined) {
        this.#recv = undefined;
        recv.destroy();
        this.#readFrom(next, decoder);
        return;
      }
      if (decoder.pendingBytes > 0) {
        // The server wrote no newline before it went away, so this is a cut-off line, not a
        // message: the bash, Python and C clients drop it too.
        this.#warn(
          new PipeIOError('ERR_SERVER_STOPPED', `The server stopped in the middle of a line; its ${decoder.pendingBytes} bytes were dropped.`, {
            path: this.recvPath,
          }),
        );
      }
      this.#ended();
    });
    recv.on('error', (error) => {
      this.#warn(new PipeIOError('ERR_PIPE_OPEN', `Reading '${this.recvPath}' failed: ${error.message}.`, { path: this.recvPath, cause: error }));
    });
    // An error ends the socket without 'end'; either way the server is out of reach.
    recv.on('close', () => {
      if (this.#recv === recv) this.#ended();
    });
  }

  /**
   * At end of stream: a descriptor on the new out pipe if the server moved there, or
   * `undefined` if it stopped. The server closes its old out pipe only once the new one is at
   * the path, so a FIFO there with another inode is where it goes on. The open is
   * `O_NONBLOCK` (it cannot wait) and `O_NOFOLLOW`, and the owner must be the first pipe's:
   * another user cannot plant a pipe or a symlink for this client to read.
   */
  #followFd(): number | undefined {
    const previous = this.#recvId!;
    let fd: number;
    try {
      fd = fs.openSync(this.recvPath, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
    } catch {
      return undefined; // gone (ENOENT): the server stopped; a symlink (ELOOP): not followed
    }
    try {
      const stats = fs.fstatSync(fd);
      if (stats.isFIFO() && stats.uid === previous.uid && (stats.ino !== previous.ino || stats.dev !== previous.dev)) return fd;
    } catch {
      // fall through: not followed
    }
    fs.closeSync(fd);
    return undefined;
  }

  #deliver(line: string | Buffer): void {
    if (this.#answer !== undefined) {
      this.#answer(line.toString());
      this.#answer = undefined;
      return;
    }
    const decoded = decodeLine(this.#codec, line);
    if (!decoded.ok) {
      // The same report as the servers give for a bad line.
      this.#warn(new PipeIOError('ERR_DECODE', decoded.error.message, { path: this.recvPath, cause: decoded.error }));
      return;
    }
    this.emit('message', decoded.value);
    this.#feed.push(decoded.value, line.length);
  }

  #ended(): void {
    this.#answer?.(undefined);
    if (this.#state !== 'open') return;
    this.emit('end');
    void this.close();
  }

  /**
   * Sends one message. Resolves once its line is written into the send pipe. Rejects with a
   * `TypeError` if it cannot be one line (a text message with a newline, bytes with 0x0A, a
   * value JSON cannot encode), with nothing written; and with a {@link PipeIOError}
   * `ERR_SERVER_STOPPED` when the client is not open or the server stopped reading. Bytes
   * are copied before it returns.
   */
  send(value: Outgoing<T>): Promise<void> {
    const sent = this.#send(value);
    this.#lastSend = sent;
    return sent;
  }

  /**
   * Ends the sending side and keeps reading, like `shutdown(SHUT_WR)` on a socket: once every
   * line sent so far is written, the send pipe is closed and later sends are rejected. A session
   * server then ends the session; what it had sent still arrives, then `'end'`. Resolves when the
   * send pipe is closed.
   */
  async end(): Promise<void> {
    const sender = this.#sender;
    if (this.#state !== 'open' || sender === undefined || sender.broken !== undefined) return;
    await this.#lastSend?.catch(() => {});
    await sender.close(
      new PipeIOError('ERR_SERVER_STOPPED', `The client ended its sending side (end()); nothing more is sent to '${this.sendPath}'.`, {
        path: this.sendPath,
      }),
    );
  }

  #send(value: Outgoing<T>): Promise<void> {
    let data: Buffer;
    try {
      data = lineOf(this.#codec, value);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state !== 'open' || this.#sender === undefined) return Promise.reject(this.#closedError());
    return this.#sender.send(data);
  }

  /**
   * Closes both pipes, ends the iterators, and rejects sends not yet written (await your
   * `send()` promises first if they must arrive). Idempotent; never rejects.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return this.#closed;
    this.#state = 'closed';
    this.#signal?.removeEventListener('abort', this.#onAbort);
    const recv = this.#recv;
    this.#recv = undefined;
    recv?.destroy();
    await Promise.all([
      this.#sender?.close(this.#closedError()),
      recv === undefined || recv.closed ? undefined : new Promise<void>((resolve) => recv.once('close', () => resolve())),
    ]);
    this.#finish();
    this.#sessionFolder?.remove();
    return this.#closed;
  }

  #finish(): void {
    this.#state = 'closed';
    this.#feed.end();
    this.emit('close');
    this.#resolveClosed();
  }

  /** Messages as an async iterator; it ends when the server stops or the client closes. Reading pauses while it lags. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.#feed.iterate();
  }

  /** Same as iterating the client itself. */
  messages(): AsyncIterableIterator<T> {
    return this.#feed.iterate();
  }

  /** `await using client = …` closes the client when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #warn(error: PipeIOError): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', error);
    else process.emitWarning(error);
  }

  #closedError(): PipeIOError {
    return new PipeIOError(
      'ERR_SERVER_STOPPED',
      this.#sender?.broken ? this.#sender.broken.message : `The client for '${this.sendPath}' is ${this.#state === 'closed' ? 'closed' : 'not connected: call connect() first'}.`,
      { path: this.sendPath },
    );
  }

  #timeoutError(path: string, cause: unknown): PipeIOError {
    if (errnoCode(cause) === 'ENXIO') {
      return new PipeIOError(
        'ERR_PIPE_OPEN',
        `No server is reading '${path}' (ENXIO) after ${this.#timeout} ms: the FIFO exists but its server is not running.`,
        { path, cause },
      );
    }
    return new PipeIOError(
      'ERR_PIPE_MISSING',
      `There is no pipe at '${path}' after ${this.#timeout} ms: start the server first, or check the path (PIPE_IO_SEND / PIPE_IO_RECV).`,
      { path, cause },
    );
  }
}

/** The bytes to write for `value`: its line and the newline; throws the `TypeError` `send()` rejects with. */
function lineOf<T>(codec: AnyCodec<T>, value: Outgoing<T>): Buffer {
  if (!isBinary(codec)) {
    const line = codec.encode(value as T);
    assertMessage(line);
    return Buffer.from(line + '\n');
  }
  const bytes = encodeBytes(codec, value as T);
  assertBytesMessage(bytes);
  // A copy with the newline: one write(2) per line needs them together, and the caller may reuse its Buffer.
  const data = Buffer.allocUnsafe(bytes.length + 1);
  bytes.copy(data);
  data[bytes.length] = 0x0a;
  return data;
}

/** Opens a FIFO, refusing anything else: writing into a regular file left at the path would swallow messages. */
function openFifo(path: string, flags: number): number {
  const fd = fs.openSync(path, flags);
  let isFifo: boolean;
  try {
    isFifo = fs.fstatSync(fd).isFIFO();
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  if (!isFifo) {
    fs.closeSync(fd);
    throw new PipeIOError('ERR_NOT_A_FIFO', `'${path}' is not a FIFO: is it the right path?`, { path });
  }
  return fd;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Option ${name} must be a number >= 0, got ${String(value)}.`);
  return value;
}
