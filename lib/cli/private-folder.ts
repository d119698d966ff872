/**
 * The private folder `pipe-io echo` and `pipe-io bridge` make for their pipes when given no paths.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PipeIOError } from '../errors.js';
import { folderRisk, serverUid } from '../safety.js';

/** A folder only this process's user can enter; {@link PrivateFolder.remove} takes away only that folder. */
export interface PrivateFolder {
  /** Its absolute path. */
  readonly path: string;
  /** Removes it if the path still names it and it is empty (the server removed its pipes); never anything else. */
  remove(): void;
}

/**
 * Makes a new folder `PREFIX-XXXXXX` in the system temp folder.
 *
 * mkdtemp(3) picks an unguessable name and creates it with mkdir, which fails on any existing
 * entry (a symbolic link included, never followed) and is then retried under another name: a
 * folder or link someone planted is never used. The mode is 0700 whatever the umask. The temp
 * folder itself must be safe, or whoever can write it could rename the new folder and put their
 * own in its place; and the new folder is checked after the fact, since the server trusts it.
 */
export function makePrivateFolder(prefix: string): PrivateFolder {
  const parent = os.tmpdir();
  const risk = folderRisk(parent);
  if (risk !== undefined) {
    throw new PipeIOError(
      'ERR_PIPE_UNSAFE',
      `The temp folder '${parent}' is unsafe for the pipes' private folder: ${risk}. ` +
        'Set TMPDIR to a folder only you (or root) can write, or one with the sticky bit, or give the pipe paths.',
      { path: parent },
    );
  }
  const folder = fs.mkdtempSync(path.join(parent, prefix));
  const made = fs.lstatSync(folder);
  if (!made.isDirectory() || made.uid !== serverUid() || (made.mode & 0o777) !== 0o700) {
    throw new PipeIOError('ERR_PIPE_UNSAFE', `The new folder '${folder}' is not a private folder of this user; it is left alone.`, {
      path: folder,
    });
  }
  return {
    path: folder,
    remove() {
      const now = fs.lstatSync(folder, { throwIfNoEntry: false });
      if (now === undefined || !now.isDirectory() || now.ino !== made.ino || now.dev !== made.dev) return;
      try {
        fs.rmdirSync(folder);
      } catch {
        // Not empty: whatever is in it now was not put there by us; it stays.
      }
    },
  };
}
