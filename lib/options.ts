/**
 * Options of the servers, with their defaults in one place.
 * @module
 */

import type { CodecOption } from './codec.js';

/**
 * Options every server takes.
 * @typeParam T - the message type, which the codec must yield: see {@link CodecOption}
 */
export interface PipeOptions<T = string> {
  /**
   * How messages map to lines: `'text'` (default; a message is the line, as UTF-8 text),
   * `'buffer'` (a message is the line's raw bytes, as a `Buffer`; for a server of `Buffer`s),
   * `'json'` (one JSON value per line; a line that is not valid JSON is reported through
   * `'warning'` and skipped), or your own {@link Codec} or {@link BinaryCodec}.
   */
  codec?: CodecOption<T>;
  /** Mode bits of the FIFOs the server creates, applied exactly, whatever the umask. Default `0o600`. */
  permissions?: number;
  /**
   * `true` (default): create the FIFOs at `start()` (taking over a stale FIFO of the server's own
   * user that no live server holds) and remove them at `stop()`; a FIFO another user owns is
   * refused with `ERR_PIPE_UNSAFE`. `false`: use FIFOs that someone else made, whoever owns them,
   * and leave them; symbolic links and anything that is not a FIFO are still refused.
   */
  managePipes?: boolean;
  /**
   * Managed pipes only. `false` (default): refuse (`ERR_PIPE_UNSAFE`) a pipe folder that users
   * other than the server's and root can write without the sticky bit, since any of them could
   * remove the pipe and put their own in its place. `true`: accept such a folder, trusting
   * everyone who can write it; a FIFO another user owns is still never served.
   */
  allowUnsafeFolder?: boolean;
  /**
   * How often, in milliseconds, the server checks that its paths still name its FIFOs, and makes a
   * deleted one again. Default `250`; `0` turns the check off.
   */
  watchInterval?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/**
 * How `handleMessage` is driven: how many of its promises may be pending, and how long they
 * are waited for. A handler that returns no promise is not affected.
 */
export interface HandlerOptions {
  /**
   * How many promises (or thenables) returned by `handleMessage` may be pending at once.
   * Default `1`: an async handler sees one message at a time, in order. With N, messages still
   * start in order, and message k starts only once all but N - 1 of the messages before it are
   * done; they may finish in any order. `Infinity` lifts the limit (every message starts at
   * once, and memory then depends on how fast clients write). While every slot is taken, later
   * messages wait in a bounded queue; once it is full the server stops reading the in pipe, so
   * writers block. A handler that returns anything else (a synchronous one, or the default that
   * emits `'message'`) takes no slot; nor does `send()`'s own promise (`return this.send(x)`),
   * which keeps one write per turn for the echo pattern.
   */
  concurrency?: number;
  /**
   * Milliseconds after which a pending `handleMessage` promise is given up: reported through
   * `'warning'` (`ERR_HANDLER_TIMEOUT`), and its slot goes to the next message. The promise is
   * not cancelled; if it rejects later that is reported too. Default `0`: never.
   */
  handlerTimeout?: number;
  /**
   * Longest time, in milliseconds, `stop()` waits for `handleMessage` to finish the messages it
   * read before stopping (those pending and those queued). What is left then is reported
   * through one `'warning'` (`ERR_HANDLER_TIMEOUT`): queued messages are dropped, pending
   * promises are no longer awaited. Default `5000`; `0` waits for nothing.
   */
  stopTimeout?: number;
}

/**
 * Options of servers that read messages.
 * @typeParam T - the message type
 */
export interface ReaderOptions<T = string> extends PipeOptions<T>, HandlerOptions {
  /**
   * Longest message accepted, in bytes without the newline. A longer line is dropped and reported
   * through the `'oversize'` event; memory stays bounded even for an endless line. Default 1 MiB.
   * Raise it for larger messages (`64 * 1024 * 1024` for up to 64 MiB): a line being read is
   * held whole until its newline, so this is also the most one line can cost in memory.
   */
  maxMessageBytes?: number;
}

/**
 * Options of servers that send messages.
 * @typeParam T - the message type
 */
export interface WriterOptions<T = string> extends PipeOptions<T> {
  /**
   * Bytes of queued, not yet written messages above which {@link PipeWriterServer.needsDrain} turns
   * true; `'drain'` fires when the queue is below it again. Default 1 MiB.
   */
  highWaterMark?: number;
}

/**
 * Options of {@link PipeIOServer}: both halves'.
 * @typeParam T - the message type
 */
export interface PipeIOServerOptions<T = string> extends ReaderOptions<T>, WriterOptions<T> {}

/** @internal */
export interface ResolvedOptions {
  readonly permissions: number;
  readonly managePipes: boolean;
  readonly allowUnsafeFolder: boolean;
  readonly watchInterval: number;
  readonly maxMessageBytes: number;
  readonly highWaterMark: number;
  readonly concurrency: number;
  readonly handlerTimeout: number;
  readonly stopTimeout: number;
}

/** The longest delay `setTimeout` takes (about 24.8 days); a longer one would fire at once. */
const MAX_TIMEOUT = 2 ** 31 - 1;

function positiveInteger(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Option ${name} must be an integer >= ${min}, got ${String(value)}.`);
  }
  return value;
}

function timeout(name: string, value: number | undefined, fallback: number): number {
  const ms = positiveInteger(name, value, fallback, 0);
  if (ms > MAX_TIMEOUT) throw new RangeError(`Option ${name} must be at most ${MAX_TIMEOUT} ms, got ${ms}.`);
  return ms;
}

/** @internal Fills in defaults and rejects nonsense early, with the option's name. */
export function resolveOptions(options: PipeIOServerOptions<any> = {}): ResolvedOptions {
  const permissions = positiveInteger('permissions', options.permissions, 0o600, 0);
  if (permissions > 0o7777) throw new RangeError(`Option permissions must be a file mode like 0o600, got 0o${permissions.toString(8)}.`);
  return {
    permissions,
    managePipes: options.managePipes ?? true,
    allowUnsafeFolder: options.allowUnsafeFolder ?? false,
    watchInterval: positiveInteger('watchInterval', options.watchInterval, 250, 0),
    maxMessageBytes: positiveInteger('maxMessageBytes', options.maxMessageBytes, 1024 * 1024, 1),
    highWaterMark: positiveInteger('highWaterMark', options.highWaterMark, 1024 * 1024, 1),
    concurrency: options.concurrency === Infinity ? Infinity : positiveInteger('concurrency', options.concurrency, 1, 1),
    handlerTimeout: timeout('handlerTimeout', options.handlerTimeout, 0),
    stopTimeout: timeout('stopTimeout', options.stopTimeout, 5000),
  };
}
