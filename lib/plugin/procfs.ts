/**
 * Process groups seen through /proc: who is in a group, who holds a file open, and
 * signalling a group. Node has no API for either question.
 * @module
 */
import fs from 'node:fs';

/**
 * Sends `signal` to the process group `pid` leads (plugins are spawned with
 * `detached: true`, so each leads its own group).
 * @param leaderReaped - the leader has been reaped: never fall back to signalling its pid alone
 */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals, leaderReaped = false): void {
  if (pid === undefined) return;
  try {
    // Negative pid: the whole process group the plugin leads, so its own children go too
    // rather than living on as orphans.
    process.kill(-pid, signal);
  } catch {
    // No such group: the plugin moved itself to another one (setpgid). Signal it alone, or a
    // stop() would wait forever for a process it never reached. Not once it is reaped: its
    // pid may already belong to someone else.
    if (leaderReaped) return;
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: it is gone already.
    }
  }
}

/** Pids of the live (not zombie) processes in group `pgid`, from /proc. */
export function groupMembers(pgid: number): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const members: string[] = [];
  for (const pid of entries) {
    if (!/^[0-9]+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are fixed: state, ppid, pgrp.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') members.push(pid);
  }
  return members;
}

/**
 * Whether a process in group `pgid` holds a descriptor on `target` (an absolute path).
 * The leader is looked at first: it is the one that opens the pipes in nearly every plugin.
 */
export function groupHasOpen(pgid: number, target: string): boolean {
  if (holdsOpen(String(pgid), target)) return true;
  return groupMembers(pgid).some((pid) => pid !== String(pgid) && holdsOpen(pid, target));
}

/**
 * Resolves once no live process is left in group `pgid`. A signal is delivered
 * asynchronously, so children signalled with the leader may still be running when the
 * leader's exit is reported; `stop()` promises they are gone, so it waits (up to 2 s,
 * signalling again, for a process stuck in the kernel).
 */
export async function groupGone(pgid: number): Promise<void> {
  for (let waited = 0; waited < 2000; waited += 10) {
    if (groupMembers(pgid).length === 0) return;
    killGroup(pgid, 'SIGKILL', true);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether process `pid` holds a descriptor on `target` (an absolute path, deleted or not). */
export function holdsOpen(pid: string, target: string): boolean {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link === target || link === `${target} (deleted)`) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}
