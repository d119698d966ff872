/**
 * The session handshake, version 1: the names, lines and modes both sides agree on.
 *
 * ```
 * client                                         server (owns DIR and DIR/connect)
 * mkdir DIR/NAME (0700); mkfifo DIR/NAME/in DIR/NAME/out
 * write "pipe-io-session 1 NAME\n" to DIR/connect  ─▶ checks DIR/NAME, opens in for reading
 * open DIR/NAME/in for writing   (waits for the server)
 * open DIR/NAME/out for reading  ─────────────────▶ opens out for writing once a reader is there
 * read "ok 1 ID" | "refused REASON" ◀───────────── first line of out
 * lines both ways; close in (or exit) ────────────▶ end of stream: the session ends, the server
 *                                                  removes in, out and DIR/NAME
 * ```
 * Why the client makes the pair and not the server: see "Many clients at once" in the README.
 * @module
 */

/** The handshake version this server speaks. */
export const PROTOCOL_VERSION = 1;

/** The well-known FIFO in the sessions folder that connect requests are written to. */
export const CONNECT_NAME = 'connect';

/** The FIFO in a session folder that the client writes and the server reads. */
export const IN_NAME = 'in';

/** The FIFO in a session folder that the server writes and the client reads. */
export const OUT_NAME = 'out';

/** The first word of a request line. */
export const REQUEST_WORD = 'pipe-io-session';

/**
 * What a session folder may be called: one path component of up to 100 safe characters, not
 * starting with a dot (so never `.`, `..` or a hidden file) and never the connect pipe's name.
 */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/** A connect request, parsed. */
export type SessionRequest =
  | { readonly ok: true; readonly version: number; readonly name: string }
  | { readonly ok: false; readonly reason: string };

/** Parses one line written to the connect pipe. Never throws: a bad line says why. */
export function parseRequest(line: string): SessionRequest {
  const words = line.trim().split(/\s+/);
  if (words.length !== 3 || words[0] !== REQUEST_WORD) {
    return { ok: false, reason: `expected "${REQUEST_WORD} ${PROTOCOL_VERSION} NAME", got ${JSON.stringify(line.slice(0, 200))}` };
  }
  const version = Number(words[1]);
  if (!Number.isInteger(version) || version < 1) return { ok: false, reason: `the version ${JSON.stringify(words[1])} is not a number` };
  const name = words[2]!;
  if (!NAME.test(name) || name === CONNECT_NAME) {
    return { ok: false, reason: `the folder name ${JSON.stringify(name.slice(0, 200))} is not one plain name inside the sessions folder` };
  }
  return { ok: true, version, name };
}

/** The first line of `out` when the session is open. */
export function acceptLine(id: number): string {
  return `ok ${PROTOCOL_VERSION} ${id}`;
}

/** The first (and last) line of `out` when the session is refused; `reason` is for a human. */
export function refuseLine(reason: string): string {
  return `refused ${reason.replace(/[\r\n]+/g, ' ')}`;
}

/**
 * The mode of the sessions folder for a connect pipe of mode `permissions`: whoever may write
 * the connect pipe may also make a folder in it; nobody but the server may list it or remove
 * another's folder (sticky bit), so a session folder's name is no one else's business.
 */
export function folderModeFor(permissions: number): number {
  if ((permissions & 0o002) !== 0) return 0o1733;
  if ((permissions & 0o020) !== 0) return 0o1730;
  return 0o700;
}
