/**
 * The client's side of the handshake, for the Node client: make the folder and its pair, and ask.
 * (The rest, opening the pair and reading the answer, is the client's own pipe handling.)
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { PipeIOError, describeErrno, errnoCode } from '../errors.js';
import { makeFifo } from '../fifo.js';
import { CONNECT_NAME, IN_NAME, OUT_NAME, PROTOCOL_VERSION, REQUEST_WORD } from './protocol.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;

/** @internal A session folder this client made. */
export interface ClientFolder {
  readonly path: string;
  readonly name: string;
  readonly inPath: string;
  readonly outPath: string;
  /** Removes the pair and the folder (the server removes them too; whoever is first). */
  remove(): void;
}

/** @internal Makes `dir/s.XXXXXX` (mode 0700) with its two FIFOs (mode 0600). */
export async function makeClientFolder(dir: string): Promise<ClientFolder> {
  let folder: string;
  try {
    folder = fs.mkdtempSync(path.join(dir, 's.'));
  } catch (error) {
    const code = errnoCode(error);
    throw new PipeIOError(
      code === 'ENOENT' ? 'ERR_PIPE_MISSING' : 'ERR_PIPE_OPEN',
      code === 'ENOENT'
        ? `There is no sessions folder '${dir}': start the session server first, or check the path.`
        : `Cannot make a session folder in '${dir}': ${describeErrno(error)}${code === 'EACCES' ? ' (the server does not let this user connect)' : ''}.`,
      { path: dir, cause: error },
    );
  }
  const made: ClientFolder = {
    path: folder,
    name: path.basename(folder),
    inPath: path.join(folder, IN_NAME),
    outPath: path.join(folder, OUT_NAME),
    remove() {
      for (const fifo of [made.inPath, made.outPath]) fs.rmSync(fifo, { force: true });
      try {
        fs.rmdirSync(folder);
      } catch {
        // gone already
      }
    },
  };
  try {
    await makeFifo(made.inPath, 0o600);
    await makeFifo(made.outPath, 0o600);
  } catch (error) {
    made.remove();
    throw new PipeIOError('ERR_PIPE_OPEN', `Cannot make the session pipes in '${folder}': ${describeErrno(error)}.`, { path: folder, cause: error });
  }
  return made;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @internal Writes the request line into `dir/connect` with one `write(2)` (atomic: it is far
 * below `PIPE_BUF`), waiting with a short backoff until `deadline` while there is no server.
 */
export async function requestSession(dir: string, name: string, deadline: number): Promise<void> {
  const connect = path.join(dir, CONNECT_NAME);
  const line = Buffer.from(`${REQUEST_WORD} ${PROTOCOL_VERSION} ${name}\n`);
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    let fd: number;
    try {
      fd = fs.openSync(connect, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'ENOENT' && code !== 'ENXIO') {
        throw new PipeIOError('ERR_PIPE_OPEN', `Cannot open '${connect}': ${describeErrno(error)}.`, { path: connect, cause: error });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new PipeIOError(
          code === 'ENXIO' ? 'ERR_PIPE_OPEN' : 'ERR_PIPE_MISSING',
          `No session server is reading '${connect}' (${code}): start it first, or check the folder.`,
          { path: connect, cause: error },
        );
      }
      await sleep(Math.min(delay, left));
      continue;
    }
    try {
      if (!fs.fstatSync(fd).isFIFO()) throw new PipeIOError('ERR_NOT_A_FIFO', `'${connect}' is not a FIFO: is '${dir}' a sessions folder?`, { path: connect });
      fs.writeSync(fd, line);
      return;
    } catch (error) {
      if (error instanceof PipeIOError) throw error;
      // The pipe is full (many clients asking at once, or a server that lags): ask again soon.
      if (errnoCode(error) === 'EAGAIN' && Date.now() < deadline) {
        await sleep(delay);
        continue;
      }
      throw new PipeIOError('ERR_PIPE_OPEN', `Cannot write the request into '${connect}': ${describeErrno(error)}.`, { path: connect, cause: error });
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Opens a FIFO with `O_NOFOLLOW`, refusing anything else. */
function openFifo(path: string, flags: number): number {
  const fd = fs.openSync(path, flags | O_NOFOLLOW);
  if (!fs.fstatSync(fd).isFIFO()) {
    fs.closeSync(fd);
    throw new PipeIOError('ERR_NOT_A_FIFO', `'${path}' is not a FIFO.`, { path });
  }
  return fd;
}

/**
 * @internal Opens the session's pair in the protocol's order: `in` (ENXIO until the server reads
 * it, which it does within microseconds of the request: so looked for once per event-loop turn
 * first, a timer cannot wait less than 1 ms, then with timers), then `out`.
 */
export async function openSessionPipes(dir: string, inPath: string, outPath: string, deadline: number, timeout: number): Promise<{ sendFd: number; recvFd: number }> {
  let sendFd = -1;
  for (let look = 0, delay = 1; sendFd < 0; look++) {
    try {
      sendFd = openFifo(inPath, O_WRONLY | O_NONBLOCK);
    } catch (error) {
      const left = deadline - Date.now();
      if (errnoCode(error) !== 'ENXIO' || left <= 0) {
        throw errnoCode(error) === 'ENXIO'
          ? new PipeIOError('ERR_PIPE_OPEN', `The session server at '${dir}' did not take the request within ${timeout} ms: is it running, or too busy?`, { path: dir, cause: error })
          : new PipeIOError('ERR_PIPE_OPEN', `Cannot open '${inPath}': ${describeErrno(error)}.`, { path: inPath, cause: error });
      }
      if (look < 64) {
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        await sleep(Math.min(delay, left));
        delay = Math.min(delay * 2, 50);
      }
    }
  }
  try {
    return { sendFd, recvFd: openFifo(outPath, O_RDONLY | O_NONBLOCK) };
  } catch (error) {
    fs.closeSync(sendFd);
    throw new PipeIOError('ERR_PIPE_OPEN', `Cannot open '${outPath}': ${describeErrno(error)}.`, { path: outPath, cause: error });
  }
}

/**
 * @internal The server's first line: the session id, or the error to reject with (`line` is
 * null when none came in time, undefined at end of stream).
 */
export function parseAnswer(dir: string, line: string | null | undefined, timeout: number): number | PipeIOError {
  const words = line?.split(' ') ?? [];
  if (words[0] === 'ok' && words.length === 3 && /^\d+$/.test(words[2]!)) return Number(words[2]);
  if (line === null) return new PipeIOError('ERR_PIPE_OPEN', `The session server at '${dir}' did not answer within ${timeout} ms.`, { path: dir });
  if (words[0] === 'refused') return new PipeIOError('ERR_SESSION_REFUSED', `The session server at '${dir}' refused the session: ${line!.slice('refused '.length)}.`, { path: dir });
  return new PipeIOError('ERR_SESSION_REFUSED', `The session server at '${dir}' ended the session without answering${line === undefined ? '' : ` (it said ${JSON.stringify(line)})`}.`, { path: dir });
}
