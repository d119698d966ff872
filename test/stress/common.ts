/**
 * Shared by the stress rows, the full run (run.ts) and the mocha subset (test/stress.test.ts):
 * the message format and its checker, client processes, the server child, small helpers.
 *
 * Every message is `M<src>.<seq>.<payload>.<fnv>`: the source's name, its sequence number, a
 * payload of [a-z0-9], and the FNV-1a hash of everything before the last dot, in 8 hex digits.
 * `M` appears nowhere else, so a line holding two `M`s is two messages merged; a line whose hash
 * does not match is torn or corrupted. Per source, sequence numbers tell loss, duplication and
 * reordering (one source is one writer, and a pipe keeps one writer's order).
 * @module
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file runs from dist/test/stress/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Sources of the C, Python and bash clients. */
export const clientSources = path.join(repoRoot, 'test/stress/clients');

// ---------------------------------------------------------------------------------------------
// Messages

/** FNV-1a, 32 bits, over the char codes of an ASCII string (the same as the C clients' over bytes). */
export function fnv1a(text: string, end = text.length): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const PAYLOAD_POOL = (() => {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let x = 2463534242;
  let pool = '';
  for (let i = 0; i < 8192; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    pool += chars[x % 36];
  }
  return pool;
})();

/** One message of source `src` with sequence number `seq`, its payload `payloadLength` (<= 4096) characters long. */
export function makeMessage(src: string, seq: number, payloadLength = 16): string {
  const offset = (seq * 7919) % 4096;
  const body = `M${src}.${seq}.${PAYLOAD_POOL.slice(offset, offset + payloadLength)}`;
  return `${body}.${fnv1a(body).toString(16).padStart(8, '0')}`;
}

/** The five ways a message stream can go wrong. */
export interface Counts {
  lost: number;
  duplicated: number;
  reordered: number;
  merged: number;
  corrupted: number;
}

export function zeroCounts(): Counts {
  return { lost: 0, duplicated: 0, reordered: 0, merged: 0, corrupted: 0 };
}

export function addCounts(a: Counts, b: Counts): Counts {
  return {
    lost: a.lost + b.lost,
    duplicated: a.duplicated + b.duplicated,
    reordered: a.reordered + b.reordered,
    merged: a.merged + b.merged,
    corrupted: a.corrupted + b.corrupted,
  };
}

export function countsClean(c: Counts): boolean {
  return c.lost === 0 && c.duplicated === 0 && c.reordered === 0 && c.merged === 0 && c.corrupted === 0;
}

class SourceTrack {
  seen = new Uint8Array(1024);
  unique = 0;
  max = -1;
  duplicated = 0;
  reordered = 0;

  add(seq: number): void {
    if (seq >= this.seen.length) {
      let size = this.seen.length;
      while (size <= seq) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.seen);
      this.seen = grown;
    }
    if (this.seen[seq]) {
      this.duplicated++;
      return;
    }
    this.seen[seq] = 1;
    this.unique++;
    if (seq < this.max) this.reordered++;
    else this.max = seq;
  }

  /** Sequence numbers below `upTo` never received. */
  missingBelow(upTo: number): number {
    let missing = 0;
    for (let i = 0; i < upTo; i++) if (i >= this.seen.length || !this.seen[i]) missing++;
    return missing;
  }
}

/** What a ledger saw, in a form that crosses process boundaries (IPC, JSON). */
export interface LedgerSummary {
  total: number;
  merged: number;
  corrupted: number;
  duplicated: number;
  reordered: number;
  /** Per source: [unique messages, highest sequence number]. */
  sources: Record<string, [number, number]>;
  /** Lines starting with `F` (fragment tests), verbatim, in arrival order (the first 1000). */
  fragments: string[];
  /** A few bad lines, cut to 160 characters. */
  samples: string[];
  /** `!partial N` lines from readers that dropped an unfinished line at end of stream. */
  partialsDropped: number;
}

/**
 * Checks a stream of lines. `add()` every line; `counts()` with the expected number of
 * messages per source gives the five counts.
 */
export class Ledger {
  total = 0;
  merged = 0;
  corrupted = 0;
  partialsDropped = 0;
  readonly fragments: string[] = [];
  readonly samples: string[] = [];
  readonly #sources = new Map<string, SourceTrack>();

  add(line: string): void {
    this.total++;
    const first = line.charCodeAt(0);
    if (first === 0x46 /* F */) {
      if (this.fragments.length < 1000) this.fragments.push(line);
      return;
    }
    if (first === 0x21 /* ! */ && line.startsWith('!partial ')) {
      this.partialsDropped++;
      return;
    }
    const last = line.lastIndexOf('.');
    const dot1 = line.indexOf('.');
    const dot2 = dot1 < 0 ? -1 : line.indexOf('.', dot1 + 1);
    let ok = first === 0x4d /* M */ && dot1 > 1 && dot2 > dot1 + 1 && last > dot2 && line.length - last === 9 && line.indexOf('M', 1) === -1;
    if (ok) {
      const hash = Number.parseInt(line.slice(last + 1), 16);
      ok = hash === fnv1a(line, last) && /^[0-9a-f]{8}$/.test(line.slice(last + 1));
    }
    const seq = ok ? Number(line.slice(dot1 + 1, dot2)) : Number.NaN;
    if (!ok || !Number.isSafeInteger(seq) || seq < 0) {
      let markers = 0;
      for (let i = line.indexOf('M'); i !== -1; i = line.indexOf('M', i + 1)) markers++;
      if (markers >= 2) this.merged++;
      else this.corrupted++;
      if (this.samples.length < 5) this.samples.push(JSON.stringify(line.length > 160 ? `${line.slice(0, 160)}…(${line.length})` : line));
      return;
    }
    const src = line.slice(1, dot1);
    let track = this.#sources.get(src);
    if (track === undefined) {
      track = new SourceTrack();
      this.#sources.set(src, track);
    }
    track.add(seq);
  }

  /** Messages received from `src` (each counted once). */
  unique(src: string): number {
    return this.#sources.get(src)?.unique ?? 0;
  }

  /** All unique messages received. */
  uniqueTotal(): number {
    let n = 0;
    for (const track of this.#sources.values()) n += track.unique;
    return n;
  }

  summary(): LedgerSummary {
    const sources: Record<string, [number, number]> = {};
    let duplicated = 0;
    let reordered = 0;
    for (const [src, track] of this.#sources) {
      sources[src] = [track.unique, track.max];
      duplicated += track.duplicated;
      reordered += track.reordered;
    }
    return {
      total: this.total,
      merged: this.merged,
      corrupted: this.corrupted,
      duplicated,
      reordered,
      sources,
      fragments: [...this.fragments],
      samples: [...this.samples],
      partialsDropped: this.partialsDropped,
    };
  }

  /**
   * The five counts. `expected` maps each source to how many messages it sent, or to a range
   * `[min, max]` when a writer was killed (it may have got one more line in than it recorded).
   * Sequence numbers below `min` or below the highest one received that never arrived are lost;
   * unexpected sources or numbers beyond `max` count as corrupted. With `expected` undefined,
   * only holes below the highest number received count as lost.
   */
  counts(expected?: Map<string, number | [number, number]>): Counts {
    const counts = zeroCounts();
    counts.merged = this.merged;
    counts.corrupted = this.corrupted;
    for (const [src, track] of this.#sources) {
      counts.duplicated += track.duplicated;
      counts.reordered += track.reordered;
      const range = expected?.get(src);
      if (expected !== undefined && range === undefined) {
        counts.corrupted += track.unique;
        continue;
      }
      const [min, max] = range === undefined ? [0, Infinity] : typeof range === 'number' ? [range, range] : range;
      counts.lost += track.missingBelow(Math.max(min, Math.min(track.max + 1, max)));
      if (track.max >= max) counts.corrupted += track.max + 1 - max;
    }
    if (expected !== undefined) {
      for (const [src, range] of expected) {
        if (this.#sources.has(src)) continue;
        counts.lost += typeof range === 'number' ? range : range[0];
      }
    }
    return counts;
  }
}

/** Rebuilds counts from a {@link LedgerSummary} (no holes information: loss from totals). */
export function countsFromSummary(summary: LedgerSummary, expected: Map<string, number | [number, number]>): Counts {
  const counts = zeroCounts();
  counts.merged = summary.merged;
  counts.corrupted = summary.corrupted;
  counts.duplicated = summary.duplicated;
  counts.reordered = summary.reordered;
  for (const [src, [unique, max]] of Object.entries(summary.sources)) {
    const range = expected.get(src);
    if (range === undefined) {
      counts.corrupted += unique;
      continue;
    }
    const [lo, hi] = typeof range === 'number' ? [range, range] : range;
    // unique == max + 1 means no hole; every hole below the highest, and every missing one below lo, is lost.
    const holes = max + 1 - unique;
    counts.lost += holes + Math.max(0, lo - (max + 1));
    if (max >= hi) counts.corrupted += max + 1 - hi;
  }
  for (const [src, range] of expected) {
    if (summary.sources[src] === undefined) counts.lost += typeof range === 'number' ? range : range[0];
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every `everyMs` until it holds (true) or `timeoutMs` passes (false). */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/**
 * Waits until `count()` reaches `target`, giving up once it has not moved for `stallMs` (or after
 * `timeoutMs` in all). True when the target was reached.
 */
export async function waitForCount(count: () => number | Promise<number>, target: number, stallMs = 3000, timeoutMs = 300_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let movedAt = performance.now();
  for (;;) {
    const now = await count();
    if (now >= target) return true;
    if (now !== last) {
      last = now;
      movedAt = performance.now();
    }
    if (performance.now() - movedAt > stallMs || performance.now() > deadline) return false;
    await sleep(10);
  }
}

/** Rejects with a clear message when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Open descriptors of this process. */
export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** `VmHWM` (peak RSS) and `VmRSS` of a process, in bytes. */
export function memoryOf(pid: number | 'self' = 'self'): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Resets this process's peak RSS (`VmHWM`) to the current RSS. */
export function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** The syscall a process is blocked in, by number (x86_64: 0 read, 1 write, 2 open, 257 openat), or undefined. */
export function blockedSyscall(pid: number): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/syscall`, 'utf8');
    const nr = Number(text.split(' ')[0]);
    return Number.isInteger(nr) ? nr : undefined;
  } catch {
    return undefined;
  }
}

/** Name of the syscalls that matter here. */
export function syscallName(nr: number | undefined): string {
  switch (nr) {
    case 0:
      return 'read';
    case 1:
      return 'write';
    case 2:
      return 'open';
    case 257:
      return 'openat';
    case undefined:
      return '?';
    default:
      return String(nr);
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

/** A fresh temporary folder, removed by {@link cleanupAll}. */
export function tempDir(prefix = 'pipe-io-stress-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}
const tempDirs = new Set<string>();

/** A zeroed progress file with `slots` 8-byte counters, written by C writers after each write(). */
export class ProgressFile {
  readonly path: string;
  constructor(
    dir: string,
    readonly slots: number,
  ) {
    this.path = path.join(dir, `progress-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(this.path, Buffer.alloc(slots * 8));
  }

  read(slot: number): number {
    const fd = fs.openSync(this.path, 'r');
    try {
      const buffer = Buffer.alloc(8);
      fs.readSync(fd, buffer, 0, 8, slot * 8);
      return Number(buffer.readBigUInt64LE());
    } finally {
      fs.closeSync(fd);
    }
  }

  readAll(): number[] {
    const buffer = fs.readFileSync(this.path);
    const values: number[] = [];
    for (let i = 0; i < this.slots; i++) values.push(Number(buffer.readBigUInt64LE(i * 8)));
    return values;
  }
}

// ---------------------------------------------------------------------------------------------
// Client processes

const live = new Set<ChildProcess>();

/** Kills (SIGKILL, by pid) every process the harness started that is still running, and removes temp folders. */
export function cleanupAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone already
    }
  }
  live.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** A client process: its stdout as lines (or fed to a ledger), its exit. */
export class Client {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  readonly lines: string[] = [];
  lineCount = 0;
  stderr = '';
  #rest = '';
  #exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;

  /**
   * @param onLine - gets every stdout line; when given, lines are not kept in {@link lines}
   */
  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    onLine?: (line: string) => void,
  ) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    this.child.stdout!.setEncoding('latin1');
    this.child.stdout!.on('data', (chunk: string) => {
      const text = this.#rest + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        const line = text.slice(start, nl);
        start = nl + 1;
        this.lineCount++;
        if (onLine) onLine(line);
        else this.lines.push(line);
      }
      this.#rest = text.slice(start);
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (error) => {
        this.stderr += `spawn failed: ${error.message}`;
      });
      this.child.on('close', (code, signal) => {
        live.delete(this.child);
        this.#exit = { code, signal, at: performance.now() };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.#exit === undefined) this.child.kill(signal);
  }

  /** Waits for a stdout line matching `test` (kept lines only). */
  async waitLine(test: (line: string) => boolean, timeoutMs: number): Promise<string | undefined> {
    let found: string | undefined;
    await waitFor(() => (found = this.lines.find(test)) !== undefined || !this.running, timeoutMs, 2);
    return found ?? this.lines.find(test);
  }

  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and waits for it. */
  async end(graceMs = 3000): Promise<void> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

let built: string | undefined;

/** Compiles the C client (once per process) into a temp folder; returns the binary's path. */
export function cClient(): string {
  if (built !== undefined && fs.existsSync(built)) return built;
  const dir = tempDir('pipe-io-stress-bin-');
  const binary = path.join(dir, 'stress_client');
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, path.join(clientSources, 'stress_client.c')], { stdio: 'inherit' });
  built = binary;
  return binary;
}

/** Starts the C client with `stress_client <command> key=value…`. */
export function startC(name: string, command: string, options: Record<string, string | number>, onLine?: (line: string) => void): Client {
  const args = [command, ...Object.entries(options).map(([key, value]) => `${key}=${value}`)];
  return new Client(name, cClient(), args, onLine);
}

/** Starts one of the Python clients in test/stress/clients/. */
export function startPython(name: string, script: string, args: readonly string[], onLine?: (line: string) => void): Client {
  return new Client(name, 'python3', ['-u', path.join(clientSources, script), ...args], onLine);
}

/** Starts one of the bash clients in test/stress/clients/. */
export function startBash(name: string, script: string, args: readonly string[], onLine?: (line: string) => void): Client {
  return new Client(name, 'bash', [path.join(clientSources, script), ...args], onLine);
}

// ---------------------------------------------------------------------------------------------
// The server in a child process (server-child.ts)

/** What the server child is told at start. */
export interface ChildConfig {
  inPipe: string;
  outPipe: string;
  options?: Record<string, number | boolean>;
  /** Echo messages whose source starts with this prefix (e.g. `e`) back to the out pipe. */
  echoPrefix?: string;
  /** Keep (a digest of) every non-message line, for the bad-bytes row. */
  collect?: boolean;
  /** Open a messages() iterator and never read it: reading pauses (backpressure) after 1024 messages. */
  lag?: boolean;
  /** Extra node flags for the child (e.g. a heap cap). */
  nodeFlags?: string[];
}

/** A PipeIOServer in a child process, driven over IPC. */
export class ServerChild {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  #next = 1;
  #pending = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }>();

  constructor(config: ChildConfig) {
    const script = path.join(repoRoot, 'dist/test/stress/server-child.js');
    this.child = fork(script, [JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: ['--expose-gc', ...(config.nodeFlags ?? [])] });
    live.add(this.child);
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.child.on('message', (message: { id: number; error?: string } & Record<string, unknown>) => {
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        for (const waiter of this.#pending.values()) waiter.reject(new Error(`server child exited (${code ?? signal}) ${this.stderr.slice(-500)}`));
        this.#pending.clear();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends `op` and waits for its answer. */
  request<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.child.send({ id, op, ...args });
    return withTimeout(answer, timeoutMs, `server child op ${op}`) as Promise<T>;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.child.kill(signal);
    await this.exited;
  }

  /** Asks the child to stop its server and exit. */
  async close(): Promise<void> {
    try {
      await this.request('exit', {}, 10_000);
    } catch {
      // it may exit before answering
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Results

/** One row of the table. */
export interface RowResult {
  row: string;
  title: string;
  /** How many times the thing was tried, in words ("10000 cycles"). */
  tried: string;
  counts: Counts;
  /** Extra figures: peak RSS, stop p99/max, … */
  figures: Record<string, string | number>;
  pass: boolean;
  /** Why it failed, and anything worth knowing. */
  notes: string[];
  ms: number;
}

export function rowResult(
  row: string,
  title: string,
  tried: string,
  counts: Counts,
  figures: Record<string, string | number>,
  problems: string[],
  started: number,
  notes: string[] = [],
): RowResult {
  return {
    row,
    title,
    tried,
    counts,
    figures,
    pass: countsClean(counts) && problems.length === 0,
    notes: [...problems, ...notes],
    ms: Math.round(performance.now() - started),
  };
}
