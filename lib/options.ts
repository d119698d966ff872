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
 * Options of servers that read messages.
 * @typeParam T - the message type
 */
export interface ReaderOptions<T = string> extends PipeOptions<T> {
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
}

function positiveInteger(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Option ${name} must be an integer >= ${min}, got ${String(value)}.`);
  }
  return value;
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
  };
}
