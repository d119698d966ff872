/**
 * Shared test fixtures: temporary folders, real child processes, and patient waiting.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PipeIOServer } from '../../lib/index.js';

/** The checkout: dist/test/helpers/ is three levels down. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** A fresh folder under the system temp dir; removed by the returned cleanup. */
export function tempDir(prefix = 'pipe-io-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A copy of the library's core (the servers, without the Redis bridge) that any user can load,
 * for code a test runs as another user (`nobody`): the checkout itself may sit in a folder only
 * its owner can enter (root's home, a `mktemp -d`). Holds what loading `dist/lib/server.js`
 * needs: package.json, dist/lib and the native addon. `server` is its path in the copy.
 */
export function coreForOthers(): { server: string; cleanup: () => void } {
  const { dir, cleanup } = tempDir('pipe-io-core-');
  for (const part of ['package.json', 'dist/lib', 'build/Release/pipe_io_native.node']) {
    fs.cpSync(path.join(repoRoot, part), path.join(dir, part), { recursive: true });
  }
  // Readable by all, folders searchable by all, whatever the umask: the copy holds nothing secret.
  const chmod = spawnSync('chmod', ['-R', 'a+rX', dir], { encoding: 'utf8' });
  if (chmod.status !== 0) throw new Error(`chmod -R a+rX ${dir} failed: ${chmod.stderr}`);
  fs.chmodSync(dir, 0o755);
  return { server: path.join(dir, 'dist/lib/server.js'), cleanup };
}

/** The result of a finished child process. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `bash -c script` with `env` added; the promise settles when it exits. */
export function bash(script: string, env: Record<string, string> = {}): Running {
  return run('bash', ['-c', script], env);
}

/** A child process under way. */
export interface Running {
  child: ChildProcess;
  /** Settles when it exits. */
  done: Promise<RunResult>;
  /** What it printed so far. */
  output: { stdout: string; stderr: string };
}

/** Starts a command; collects its output; `done` settles when it exits. */
export function run(command: string, args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output.stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output.stderr += s));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, ...output }));
  });
  return { child, done, output };
}

/** Waits until `predicate` holds, checking every 10 ms; fails after `timeoutMs` with `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rejects with `what` if `promise` has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The descriptors this process has open, as `fd -> target`. */
export function openFds(): Map<string, string> {
  const fds = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // The descriptor readdir itself used is gone by now.
    }
  }
  return fds;
}

/** Descriptors open now that point into `dir` (a test folder's FIFOs, deleted or not), for leak checks. */
export function fdsInto(dir: string): string[] {
  return [...openFds().values()].filter((target) => target.startsWith(dir));
}

/** A promise that resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `server` next makes its `role` pipe again (its `'recreate'` event for that pipe). */
export function recreated(server: PipeIOServer<any>, role: 'in' | 'out'): Promise<void> {
  return new Promise((resolve) => {
    const listener = (info: { role: string }): void => {
      if (info.role !== role) return;
      server.off('recreate', listener);
      resolve();
    };
    server.on('recreate', listener);
  });
}

/** The process's state letter from /proc (R, S, Z, …), or null if there is no such process. */
export function procState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * For a mocha suite: returns `track(server)`, and registers an `afterEach` that stops every
 * server tracked during the test, also when the test failed half-way. Call it before the
 * suite's own `afterEach` that removes the folder, so that servers stop first.
 */
export function serverTracker(): <S extends { stop(): Promise<void> }>(server: S) => S {
  let servers: Array<{ stop(): Promise<void> }> = [];
  afterEach(async () => {
    const stopping = servers;
    servers = [];
    await Promise.all(stopping.map((server) => server.stop()));
  });
  return (server) => {
    servers.push(server);
    return server;
  };
}

/** Whether process `pid` has the FIFO now at `fifo` open (that inode, not an older one deleted from there). */
export function holdsPipeAt(pid: number, fifo: string): boolean {
  try {
    const { dev, ino } = fs.statSync(fifo);
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const target = fs.statSync(`/proc/${pid}/fd/${fd}`);
        return target.dev === dev && target.ino === ino;
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return false; // the path is between deletion and remaking, or the process is gone
  }
}

/** Sends `signal` to the process group `pgid` (a child spawned `detached`, and all it started); a group already gone is fine. */
export function killGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}
