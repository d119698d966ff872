/**
 * Errors raised by pipe-io-server. Every one names the pipe it is about and says what to do.
 * @module
 */

/**
 * Machine-readable reason of a {@link PipeIOError}.
 *
 * - `ERR_PIPE_IN_USE`: another live server holds the pipe's ownership lock.
 * - `ERR_NOT_A_FIFO`: something other than a FIFO is at the path; it is left alone.
 * - `ERR_PIPE_MISSING`: `managePipes: false` and there is no FIFO at the path.
 * - `ERR_PIPE_OPEN`: the pipe could not be created or opened (see `cause`).
 * - `ERR_PIPE_UNSAFE`: a managed pipe is a FIFO another user owns, or sits in a folder other users
 *   can write without the sticky bit (or a plugin's `tmpDir` is such a folder); nothing there is
 *   opened, changed or removed.
 * - `ERR_PIPE_RECREATE`: a deleted pipe could not be made again yet; the server keeps trying.
 * - `ERR_SERVER_STOPPED`: the server stopped (or never started) before the work was done.
 * - `ERR_HANDLER`: a message handler threw or rejected; the server keeps going.
 * - `ERR_HANDLER_TIMEOUT`: a message handler's promise was given up on: it outlived
 *   `handlerTimeout`, or `stop()` stopped waiting for it after `stopTimeout`.
 * - `ERR_WRITE`: writing to the out pipe failed; the lines of that write are rejected, the rest go on.
 * - `ERR_DECODE`: a received line is not valid for the codec (e.g. not JSON); it is skipped.
 * - `ERR_SESSION_REQUEST`: a session server got a connect request it cannot serve (a bad line, a
 *   folder that is a symbolic link, writable by others, or missing its FIFOs); nothing there is
 *   opened or removed.
 * - `ERR_SESSION_REFUSED`: a session server refused to open a session (too many sessions, a
 *   version it does not speak, a user it does not let in); the message is its reason.
 */
export type PipeIOErrorCode =
  | 'ERR_PIPE_IN_USE'
  | 'ERR_NOT_A_FIFO'
  | 'ERR_PIPE_MISSING'
  | 'ERR_PIPE_OPEN'
  | 'ERR_PIPE_UNSAFE'
  | 'ERR_PIPE_RECREATE'
  | 'ERR_SERVER_STOPPED'
  | 'ERR_HANDLER'
  | 'ERR_HANDLER_TIMEOUT'
  | 'ERR_WRITE'
  | 'ERR_DECODE'
  | 'ERR_SESSION_REQUEST'
  | 'ERR_SESSION_REFUSED';

/** An error about one pipe, with a stable {@link PipeIOErrorCode} and the path it concerns. */
export class PipeIOError extends Error {
  /** Stable reason, for code that reacts to the error. */
  readonly code: PipeIOErrorCode;
  /** The FIFO path concerned, when there is one. */
  readonly path: string | undefined;

  /**
   * @param code - stable reason
   * @param message - what happened and what to do about it
   * @param options - the pipe's path and the underlying error
   */
  constructor(code: PipeIOErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PipeIOError';
    this.code = code;
    this.path = options.path;
  }
}

/** The errno code of a Node system error (`ENOENT`, `EAGAIN`, …), if it is one. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
    ? (error as { code: string }).code
    : undefined;
}

/** The message of anything thrown: an Error's message, or the value as a string. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Plain words for the errno codes a user can meet when a pipe is created or opened. */
export function describeErrno(error: unknown): string {
  const code = errnoCode(error);
  switch (code) {
    case 'ENOENT':
      return 'its folder does not exist (ENOENT)';
    case 'ENOTDIR':
      return 'a part of the path is not a folder (ENOTDIR)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code}): check the folder's permissions and the user the server runs as`;
    case 'EROFS':
      return 'the file system is read-only (EROFS)';
    case 'ENAMETOOLONG':
      return 'the path is too long (ENAMETOOLONG)';
    default:
      return messageOf(error);
  }
}
