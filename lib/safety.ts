/**
 * What a managed server refuses, because other users are adversaries.
 *
 * Whoever can open a FIFO can talk to the server through it, and whoever owns it can chmod it
 * back open after the server set its mode. So a managed server only ever serves a FIFO its own
 * (effective) user owns, and only in a folder where nobody else can swap the FIFO for another:
 * the same rules OpenSSH, gpg-agent and tmux apply to their sockets and socket folders.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { PipeIOError, describeErrno } from './errors.js';

const S_ISVTX = 0o1000;

/** The user the server acts as: files it makes are owned by its effective uid. */
export function serverUid(): number {
  return process.geteuid?.() ?? -1;
}

function modeOf(stats: fs.Stats): string {
  return `0${(stats.mode & 0o7777).toString(8)}`;
}

/** The entries of `/etc/passwd` or `/etc/group`, split at `:`; none when it cannot be read. */
function entries(file: string): string[][] {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(':'));
  } catch {
    return []; // a minimal container may have none
  }
}

/** `uid 65534`, with the user's name when this system knows it. */
export function describeUser(uid: number): string {
  const name = entries('/etc/passwd').find((entry) => entry[2] === String(uid))?.[0];
  return name === undefined ? `uid ${uid}` : `${name} (uid ${uid})`;
}

/**
 * Whether `gid` is the server user's private group, the kind umask-002 systems give every user
 * (so the folders they make are group-writable): the user's primary group, of the user's name,
 * listing no member and the primary group of no other user in the local files. Anything
 * unknown (no files, groups from a directory service) counts as shared.
 */
function isPrivateGroup(gid: number): boolean {
  const uid = serverUid();
  const users = entries('/etc/passwd');
  const self = users.find((entry) => entry[2] === String(uid));
  const group = entries('/etc/group').find((entry) => entry[2] === String(gid));
  if (self === undefined || group === undefined || self[3] !== String(gid) || group[0] !== self[0]) return false;
  const members = (group[3] ?? '').split(',').filter((member) => member !== '' && member !== self[0]);
  return members.length === 0 && users.every((entry) => entry[3] !== String(gid) || entry[2] === String(uid));
}

/**
 * Why other users could swap a pipe in `folder` (`stats` from `stat`), or undefined when they
 * cannot: the folder's owner can always rename what is in it, and so can anyone with write
 * permission unless the sticky bit limits them to their own entries. A group-writable folder
 * is safe when the group is the server user's private group.
 */
function unsafeFolderReason(stats: fs.Stats): string | undefined {
  const uid = serverUid();
  if (stats.uid !== uid && stats.uid !== 0) return `it is owned by ${describeUser(stats.uid)}`;
  if ((stats.mode & S_ISVTX) !== 0) return undefined;
  if ((stats.mode & 0o002) !== 0) return `every user can write it (mode ${modeOf(stats)}) and it has no sticky bit`;
  if ((stats.mode & 0o020) !== 0 && !isPrivateGroup(stats.gid)) {
    return `its group (gid ${stats.gid}) can write it (mode ${modeOf(stats)}) and it has no sticky bit`;
  }
  return undefined;
}

/**
 * Why users other than the server's and root could rename or replace what is in `folder`, or
 * undefined when they cannot (or the folder does not exist).
 */
export function folderRisk(folder: string): string | undefined {
  const stats = fs.statSync(folder, { throwIfNoEntry: false });
  return stats === undefined ? undefined : unsafeFolderReason(stats);
}

/**
 * Throws `ERR_PIPE_UNSAFE` when users other than the server's and root could remove or replace
 * the pipe at `pipePath` (see {@link unsafeFolderReason}); a missing folder is left to the
 * caller, which reports it with the path it was about to create.
 */
export function checkFolder(pipePath: string): void {
  const folder = path.dirname(path.resolve(pipePath));
  let stats: fs.Stats;
  try {
    stats = fs.statSync(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new PipeIOError('ERR_PIPE_OPEN', `Cannot check the folder of '${pipePath}': ${describeErrno(error)}.`, {
      path: pipePath,
      cause: error,
    });
  }
  const reason = unsafeFolderReason(stats);
  if (reason === undefined) return;
  throw new PipeIOError(
    'ERR_PIPE_UNSAFE',
    `The folder '${folder}' of the pipe '${pipePath}' is unsafe: ${reason}, so another user could replace the pipe. ` +
      "Use a folder only the server's user (or root) can write, or one with the sticky bit (chmod +t), " +
      'or pass allowUnsafeFolder: true if everyone who can write it is trusted.',
    { path: pipePath },
  );
}

/** The error for a FIFO at `pipePath` owned by someone else (`stats` from the descriptor that names it). */
export function foreignFifoError(pipePath: string, stats: fs.Stats): PipeIOError {
  return new PipeIOError(
    'ERR_PIPE_UNSAFE',
    `The FIFO at '${pipePath}' belongs to ${describeUser(stats.uid)}, not to the server's user ` +
      `(${describeUser(serverUid())}); it was not opened and is left untouched. ` +
      'Whoever owns a FIFO can open it to others again, so check who made it and remove it; ' +
      'or pass managePipes: false to use FIFOs someone else made on purpose.',
    { path: pipePath },
  );
}

/**
 * Whether a stale FIFO's mode let in anyone `permissions` shuts out. Such a process may still
 * hold it open (a writer injecting lines, a reader taking replies), and a chmod does not close
 * descriptors: the FIFO must be replaced, not taken over.
 */
export function grantsMoreThan(stats: fs.Stats, permissions: number): boolean {
  return (stats.mode & 0o777 & ~permissions) !== 0;
}
