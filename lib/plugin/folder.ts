/**
 * A plugin's private folder: made so that nobody else can use or swap it, named after the
 * host that made it, and removed, when that host is gone, by the next host of the same
 * user that starts a plugin in the same parent folder.
 * @module
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PipeIOError, errnoCode } from '../errors.js';
import { holdsOpen } from './procfs.js';

const PREFIX = 'pipe-io-plugin-';
/** This host's folders: `pipe-io-plugin-<pid namespace>-<pid>-<start time>-<random>`. */
const NAMED = /^pipe-io-plugin-(\d+)-(\d+)-(\d+)-[a-z0-9]+$/;
/** What hosts made before folders carried their host's name (`fs.mkdtemp`'s six characters). */
const LEGACY = /^pipe-io-plugin-[A-Za-z0-9]{6}$/;
/** A legacy folder younger than this may belong to a host that is still making its FIFOs. */
const LEGACY_MIN_AGE_MS = 60_000;

/** Who a host is: a pid alone is reused, a pid with its start time (clock ticks since boot) is not. */
interface HostId {
  ns: string;
  pid: string;
  start: string;
}

/** The start time of process `pid` (field 22 of /proc/PID/stat), or `undefined` if there is no such process. */
function startTime(pid: string): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name's last ')' start at field 3 (state): field 22 is the 20th.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The pid namespace's inode: a pid means something only inside its namespace. */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

let self: HostId | undefined;
function host(): HostId {
  self ??= { ns: pidNamespace(), pid: String(process.pid), start: startTime('self') ?? '0' };
  return self;
}

/** A fresh random end of name. */
export function randomSuffix(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Makes a folder that only this user can enter (0700) in `parent`, under a name no one
 * else holds: `mkdir` fails on anything already there (a folder, a FIFO, a symlink, even a
 * dangling one) and a planted name is skipped for another random one, never used. Refuses
 * a parent that others can write without the sticky bit, where anyone could rename the
 * folder and put their own in its place after the checks.
 * @param suffix - the random end of the name (tests give planted names first)
 */
export async function makePrivateDir(parent: string, suffix: () => string = randomSuffix): Promise<string> {
  const where = await fs.promises.stat(parent);
  if (!where.isDirectory()) throw new PipeIOError('ERR_PIPE_OPEN', `Cannot make a plugin folder in '${parent}': not a folder.`, { path: parent });
  const uid = process.geteuid?.() ?? 0;
  if ((where.mode & 0o022) !== 0 && (where.mode & 0o1000) === 0) {
    throw new PipeIOError(
      'ERR_PIPE_UNSAFE',
      `Refusing to make a plugin folder in '${parent}': others can write there and it has no sticky bit, so anyone could swap the folder for their own. Use a folder only you can write (the tmpDir option), or add the sticky bit (chmod +t).`,
      { path: parent },
    );
  }
  if (where.uid !== uid && where.uid !== 0) {
    throw new PipeIOError('ERR_PIPE_UNSAFE', `Refusing to make a plugin folder in '${parent}': it belongs to uid ${where.uid}, who could rename the folder and put their own in its place. Use a folder of your own (the tmpDir option).`, {
      path: parent,
    });
  }
  const { ns, pid, start } = host();
  for (let attempt = 0; ; attempt++) {
    const dir = path.join(parent, `${PREFIX}${ns}-${pid}-${start}-${suffix()}`);
    try {
      await fs.promises.mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if (errnoCode(error) === 'EEXIST' && attempt < 100) continue;
      throw error;
    }
    // Ours by construction (mkdir made it, and the parent lets no one else rename it); the
    // umask may have taken bits, so set the mode exactly.
    const made = await fs.promises.lstat(dir);
    if (!made.isDirectory() || made.uid !== uid) {
      throw new PipeIOError('ERR_PIPE_UNSAFE', `The plugin folder '${dir}' was replaced right after it was made; it is left alone.`, { path: dir });
    }
    if ((made.mode & 0o777) !== 0o700) await fs.promises.chmod(dir, 0o700);
    return dir;
  }
}

const swept = new Set<string>();

/**
 * Removes, once per parent folder and host, the plugin folders in `parent` whose host is
 * gone: killed before its watchdog could clean up, or on a machine that lost power. Only
 * folders of this user are looked at; a symlink or anything else of that name is left alone.
 * A folder named after a host is stale when no process has that pid and start time in this
 * pid namespace (folders of other namespaces are left alone: their pids mean nothing
 * here). A folder from before hosts were named in it is stale when it is over a minute old
 * and no process holds its FIFOs open: a live host holds both for its plugin's whole life.
 * @returns the folders removed
 */
export async function sweepStale(parent: string): Promise<string[]> {
  if (swept.has(parent)) return [];
  swept.add(parent);
  const uid = process.geteuid?.() ?? 0;
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fs.promises.readdir(parent);
  } catch {
    return removed;
  }
  let legacy: string[] = [];
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = path.join(parent, name);
    const named = NAMED.exec(name);
    if (named) {
      const [, ns, pid, start] = named;
      if (ns !== host().ns || startTime(pid!) === start) continue;
    } else if (!LEGACY.test(name)) {
      continue;
    }
    let stat: fs.Stats;
    try {
      stat = await fs.promises.lstat(dir);
    } catch {
      continue;
    }
    if (!stat.isDirectory() || stat.uid !== uid) continue;
    if (!named) {
      if (Date.now() - stat.mtimeMs >= LEGACY_MIN_AGE_MS) legacy.push(dir);
      continue;
    }
    if (await removeTree(dir)) removed.push(dir);
  }
  if (legacy.length > 0) {
    // One pass over every process's descriptors, only when such folders exist.
    const pids = fs.readdirSync('/proc').filter((pid) => /^[0-9]+$/.test(pid));
    legacy = legacy.filter((dir) => !pids.some((pid) => holdsOpen(pid, path.join(dir, 'send')) || holdsOpen(pid, path.join(dir, 'recv'))));
    for (const dir of legacy) if (await removeTree(dir)) removed.push(dir);
  }
  return removed;
}

async function removeTree(dir: string): Promise<boolean> {
  try {
    // Never follows a symlink inside: fs.rm unlinks links rather than what they point to.
    await fs.promises.rm(dir, { recursive: true, force: true });
    return true;
  } catch {
    return false; // not ours to report: the next host tries again
  }
}
