/**
 * The two halves together: the server most applications want.
 * @module
 */
import type { EventEmitter } from 'node:events';
import { type AnyCodec, type Outgoing, resolveCodec } from './codec.js';
import type { PipeIOServerEvents } from './events.js';
import { MessageInbox } from './inbox.js';
import { PipeServerBase } from './lifecycle.js';
import { type PipeIOServerOptions, resolveOptions } from './options.js';
import { PipeReader } from './reader.js';
import { PipeWriter, encodeMessage } from './writer.js';

/**
 * Reads messages from `inPipe` and sends messages into `outPipe`.
 *
 * ```ts
 * const server = new PipeIOServer('/tmp/app/send', '/tmp/app/recv');
 * server.on('message', (line) => server.send(`echo: ${line}`));
 * await server.start();
 * // … later
 * await server.stop();
 * ```
 * Or subclass it, like the Python original:
 * ```ts
 * class Echo extends PipeIOServer {
 *   override handleMessage(message: string) { return this.send(message); }
 * }
 * ```
 * With `codec: 'json'`, messages are JSON values: `new PipeIOServer<MyType>(a, b, { codec: 'json' })`;
 * with `codec: 'buffer'`, the raw bytes of each line: `new PipeIOServer<Buffer>(a, b, { codec: 'buffer' })`.
 * @typeParam T - what a message is: a string (the default text codec), or what the codec decodes
 */
export class PipeIOServer<T = string> extends PipeServerBase<PipeIOServerEvents<T>> {
  readonly #reader: PipeReader;
  readonly #writer: PipeWriter;
  readonly #inbox: MessageInbox<T>;
  readonly #codec: AnyCodec<T>;

  /**
   * @param inPipe - path of the FIFO the server reads (clients write to it)
   * @param outPipe - path of the FIFO the server writes (clients read it)
   * @param options - see {@link PipeIOServerOptions}
   */
  constructor(
    readonly inPipe: string,
    readonly outPipe: string,
    options: PipeIOServerOptions<T> = {},
  ) {
    super(options.signal);
    const resolved = resolveOptions(options);
    const warn = this.warn.bind(this);
    this.#codec = resolveCodec(options.codec) as AnyCodec<T>;
    this.#reader = new PipeReader(inPipe, resolved, this.#codec, {
      message: (message) => this.#inbox.deliver(message),
      messages: (messages) => this.#inbox.deliverAll(messages),
      oversize: (info) => this.emit('oversize', info),
      recreate: (info) => this.emit('recreate', info),
      warning: warn,
    });
    this.#writer = new PipeWriter(outPipe, resolved, {
      drain: () => this.emit('drain'),
      recreate: (info) => this.emit('recreate', info),
      warning: warn,
    });
    this.#inbox = new MessageInbox<T>(this, this.#codec, this.#reader, resolved, inPipe, warn);
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

  /**
   * Sends one message: resolves once the line is written into the out pipe. Rejects with a
   * `TypeError` if the line would contain a newline or the codec cannot encode the value
   * (nothing is written), and with a `PipeIOError` (`ERR_SERVER_STOPPED`) when the server is
   * not running or stops first. A `Buffer` is copied before `send()` returns: it may be
   * reused at once.
   */
  send(message: Outgoing<T>): Promise<void> {
    return this.#writer.send(encodeMessage(this.#codec, message));
  }

  /** Size of what is queued and not yet in the out pipe: characters (bytes, for ASCII text or the buffer codec) plus one per newline. */
  get queuedBytes(): number {
    return this.#writer.queuedBytes;
  }

  /** Whether the send queue is above `highWaterMark`; wait for `'drain'` before sending more. */
  get needsDrain(): boolean {
    return this.#writer.needsDrain;
  }

  /** Messages as an async iterator; it ends when the server stops. Reading pauses while it lags. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.#inbox.iterate();
  }

  /** Same as iterating the server itself. */
  messages(): AsyncIterableIterator<T> {
    return this.#inbox.iterate();
  }

  protected override async open(): Promise<void> {
    // The out pipe first: a client that sees the in pipe appear can count on its replies' pipe.
    await this.#writer.open();
    await this.#reader.open();
  }

  protected override async close(): Promise<void> {
    // reader.close() hands over the last lines it can read before its first await, so the
    // handlers have them all; the out pipe stays open while they finish, for their replies.
    const reading = this.#reader.close();
    await Promise.all([reading, this.#inbox.drain().then(() => this.#writer.close())]);
    this.#inbox.end();
  }
}
