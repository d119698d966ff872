/**
 * `npm run bench`: pipe-io-server against the C limit and two Node baselines,
 * side by side in one run, 64-byte messages.
 *
 *   node dist/bench/run.js [--smoke] [--runs K] [--n N] [--echo M] [--echo-repeats R] [--scale COUNT]
 *                          [--systems ours,ours-buffer,c,unix,naive] [--pin same,cross|none]
 *                          [--profile] [--assert] [--verbose]
 *
 * Tests (each system under test runs in its own child process; C programs from
 * bench/c are compiled with `cc -O2` into bench/build/ first):
 *   in     a C writer sends N lines (write() calls of 1024 whole lines) into
 *          the server's in channel; the server counts them. lines/s timed at
 *          the receiver, first line to last.
 *   in16   the same with 16 C writers at once, each writing N/16 lines with one
 *          write() per line: what real clients do.
 *   out    the server sends N lines; a C reader counts them. lines/s timed at
 *          the C reader.
 *   echo   a C client sends one line with one write() and waits for the reply,
 *          M times (after a warm-up): round trips/s, p50, p99. Run with client
 *          and server pinned to one CPU ("same") and to different CPUs
 *          ("cross"): on this kind of VM a cross-CPU wake-up costs ~50 µs,
 *          and unpinned runs flip between the two at random. Echo is measured
 *          R times (default 3) per system, pin and round, alternating the
 *          systems' order, so its figures are medians of K x R runs: one echo
 *          run moves ±10% from the next on this VM, more than the gaps it shows.
 *   ours-buffer runs in and out with codec 'buffer' (Buffer messages), beside
 *          ours with the default text codec.
 *   sessions  a PipeSessionServer (bench/sessions/host.ts) with max(COUNT, 1000)
 *          sessions of the C client: RSS, longest event-loop block, idle CPU, echo
 *          on one session / on a lone PipeIOServer; connects/s with 4 C
 *          connectors; 10 light clients' p99 beside a flooder / alone.
 *   scale  COUNT pipe-io-server echo servers in one process: time to start
 *          all, max event-loop block while starting, RSS, and echo on one of
 *          them while the others idle.
 * Each figure is the median of K runs; runs are interleaved (round 1 of every
 * test and system, then round 2, …) so slow drift on a shared machine hits all
 * systems alike. Writes bench/results/latest.json and latest.svg (--smoke:
 * bench/results/tmp/smoke.*).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRedisServer } from '../test/helpers/redis.js';
import { benchBridge } from './bridge.js';
import { benchWork } from './work.js';
import { RPC_LABELS, RPC_SYSTEMS, benchRpc } from './rpc.js';
import { benchSessions } from './sessions.js';
import { renderChart } from './common/chart.js';
import { killAll, Proc } from './common/proc.js';
import {
  PIN_LABELS,
  SHORT_LABELS,
  SYSTEM_LABELS,
  type BenchResults,
  type EchoFigure,
  type PinMode,
  type ScaleFigure,
  type Series,
  type SystemId,
} from './common/results.js';
import { fmtMs, fmtRate, fmtRatio, fmtUs, median } from './common/stats.js';

// ---------------------------------------------------------------- options

type TestId = 'in' | 'in16' | 'out' | 'echo' | 'scale' | 'bridge' | 'rpc' | 'work' | 'sessions';
const TESTS: TestId[] = ['in', 'in16', 'out', 'echo', 'scale', 'bridge', 'rpc', 'work', 'sessions'];
/** How the "in" tests write: one C writer with 64 KiB write()s, or 16 writing one line per write(), as real clients do. */
const IN_WRITERS = { in: { writers: 1, mode: 'bulk' }, in16: { writers: 16, mode: 'lines' } } as const;
const IN_PATTERN = { in: '1 writer, 64 KiB per write()', in16: '16 writers, 1 line per write()' } as const;

interface Options {
  smoke: boolean;
  runs: number;
  n: number;
  echoRounds: number;
  echoWarmup: number;
  /** Echo measurements per system, pin and round: echo moves ±10% from one run to the next on this VM, more than the gaps it is there to show. */
  echoRepeats: number;
  scaleCount: number;
  scaleDirs: string[] | undefined;
  dir: string;
  systems: SystemId[];
  tests: TestId[];
  pinModes: PinMode[];
  profile: boolean;
  assert: boolean;
  render: string | undefined;
  verbose: boolean;
  /** Timed requests per RPC measurement. */
  rpcN: number;
}

function usage(message?: string): never {
  if (message) process.stderr.write(`bench: ${message}\n`);
  process.stderr.write(
    'usage: node dist/bench/run.js [--smoke] [--runs K] [--n N] [--echo M] [--warmup W] [--echo-repeats R]\n' +
      '                             [--scale COUNT] [--scale-dirs DIR,DIR] [--dir DIR]\n' +
      '                             [--systems ours,ours-buffer,c,unix,naive] [--tests in,in16,out,echo,scale,bridge,rpc,work,sessions]\n' +
      '                             [--rpc-n N]\n' +
      '                             [--pin same,cross|none]\n' +
      '                             [--profile] [--assert] [--verbose]\n' +
      '       node dist/bench/run.js --render RESULTS.json   (rewrites RESULTS.svg from it)\n',
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const smoke = argv.includes('--smoke');
  const o: Options = {
    smoke,
    runs: smoke ? 1 : 3,
    n: smoke ? 20_000 : 5_000_000,
    echoRounds: smoke ? 1_000 : 50_000,
    echoWarmup: smoke ? 100 : 2_000,
    echoRepeats: smoke ? 1 : 3,
    scaleCount: smoke ? 100 : 1_000,
    scaleDirs: undefined,
    dir: os.tmpdir(),
    systems: ['ours', 'ours-buffer', 'c', 'unix', 'naive'],
    tests: [...TESTS],
    pinModes: ['same', 'cross'],
    profile: false,
    assert: false,
    render: undefined,
    verbose: false,
    rpcN: smoke ? 1_000 : 20_000,
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${flag} needs an integer >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--smoke':
        break;
      case '--runs':
        o.runs = int(a, argv[++i], 1);
        break;
      case '--n':
        o.n = int(a, argv[++i], 2);
        break;
      case '--echo':
        o.echoRounds = int(a, argv[++i], 1);
        break;
      case '--warmup':
        o.echoWarmup = int(a, argv[++i], 0);
        break;
      case '--echo-repeats':
        o.echoRepeats = int(a, argv[++i], 1);
        break;
      case '--scale':
        o.scaleCount = int(a, argv[++i], 0);
        break;
      case '--scale-dirs':
        o.scaleDirs = (argv[++i] ?? '').split(',').filter(Boolean);
        if (o.scaleDirs.length === 0) usage('--scale-dirs is empty');
        break;
      case '--dir':
        o.dir = argv[++i] ?? usage('--dir needs a directory');
        break;
      case '--systems': {
        const list = (argv[++i] ?? '').split(',').filter(Boolean);
        for (const s of list) if (!(s in SYSTEM_LABELS)) usage(`unknown system ${s}`);
        o.systems = list as SystemId[];
        break;
      }
      case '--tests': {
        const list = (argv[++i] ?? '').split(',').filter(Boolean);
        for (const t of list) if (!TESTS.includes(t as TestId)) usage(`unknown test ${t}`);
        o.tests = list as TestId[];
        break;
      }
      case '--pin': {
        const list = (argv[++i] ?? '').split(',').filter(Boolean);
        for (const s of list) if (!(s in PIN_LABELS)) usage(`unknown pin mode ${s}`);
        o.pinModes = list as PinMode[];
        break;
      }
      case '--profile':
        o.profile = true;
        break;
      case '--render':
        o.render = argv[++i] ?? usage('--render needs a results JSON file');
        break;
      case '--assert':
        o.assert = true;
        break;
      case '--verbose':
        o.verbose = true;
        break;
      case '--rpc-n':
        o.rpcN = int(a, argv[++i], 1);
        break;
      case '--help':
      case '-h':
        usage();
      default:
        usage(`unknown option ${a}`);
    }
  }
  if (o.systems.length === 0) usage('--systems is empty');
  if (o.pinModes.length === 0) usage('--pin is empty');
  return o;
}

const opts = parseOptions(process.argv.slice(2));
if (opts.render) {
  const file = resolve(opts.render);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  const svg = file.replace(/\.json$/, '') + '.svg';
  writeFileSync(svg, renderChart(saved, saved.options.pinModes[0] ?? 'same'));
  process.stdout.write(`wrote ${svg}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- paths, tools

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = resolve(HERE, '../..');
const C_SRC = join(ROOT, 'bench/c');
const C_BIN = join(ROOT, 'bench/build');
const RESULTS = join(ROOT, 'bench/results');
// Only a full run (every system and test, default pinning) replaces latest.*; others go to tmp/.
const FULL_RUN = !opts.smoke && opts.systems.length === Object.keys(SYSTEM_LABELS).length && opts.tests.length === TESTS.length && opts.scaleCount > 0;
const OUT_DIR = FULL_RUN ? RESULTS : join(RESULTS, 'tmp');
const OUT_NAME = FULL_RUN ? 'latest' : opts.smoke ? 'smoke' : 'partial';
const PROFILE_DIR = join(RESULTS, 'tmp/prof');
const SERVERS: Record<'ours' | 'ours-buffer' | 'unix' | 'naive', string> = {
  ours: join(HERE, 'ours/server.js'),
  'ours-buffer': join(HERE, 'ours/server.js'),
  unix: join(HERE, 'baselines/unix-socket.js'),
  naive: join(HERE, 'baselines/naive-fifo.js'),
};
const SCALE = join(HERE, 'ours/scale.js');
const C_PROGRAMS = ['line_writer', 'line_reader', 'echo_client', 'echo_peer'] as const;
type CProgram = (typeof C_PROGRAMS)[number];

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir || '.', cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Builds bench/c/*.c into bench/build/ when a binary is missing or older than its source. */
function buildC(): Record<CProgram, string> {
  const cc = process.env.CC ?? 'cc';
  mkdirSync(C_BIN, { recursive: true });
  const header = statSync(join(C_SRC, 'chan.h')).mtimeMs;
  const bins = {} as Record<CProgram, string>;
  for (const name of C_PROGRAMS) {
    const src = join(C_SRC, `${name}.c`);
    const bin = join(C_BIN, name);
    const fresh = existsSync(bin) && statSync(bin).mtimeMs >= Math.max(header, statSync(src).mtimeMs);
    if (!fresh) execFileSync(cc, ['-O2', '-Wall', '-o', bin, src], { stdio: ['ignore', 'inherit', 'inherit'] });
    bins[name] = bin;
  }
  return bins;
}

// ---------------------------------------------------------------- cleanup

function fsType(dir: string): string {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const TMP = mkdtempSync(join(opts.dir, 'pipe-io-bench-'));
/**
 * Where the scale test makes its 2,000 FIFOs. mkfifo's cost depends on the file system
 * (on the reference VM: ~1 ms of kernel CPU per FIFO on ext4, ~6 µs on tmpfs), so by
 * default it runs in the temp dir and, when that is not tmpfs, also in /dev/shm.
 */
const SCALE_DIRS: { dir: string; fsType: string }[] = (() => {
  if (!opts.tests.includes('scale') || !opts.systems.includes('ours') || opts.scaleCount === 0) return [];
  const dirs = opts.scaleDirs ?? [TMP];
  if (!opts.scaleDirs && fsType(TMP) !== 'tmpfs' && existsSync('/dev/shm') && fsType('/dev/shm') === 'tmpfs') dirs.push('/dev/shm');
  return dirs.map((d) => {
    const dir = d === TMP ? TMP : mkdtempSync(join(d, 'pipe-io-bench-scale-'));
    return { dir, fsType: fsType(dir) };
  });
})();
/**
 * Where the session test makes its folders: a session costs a folder and two FIFOs, so on tmpfs
 * when the temp dir is not (ext4's mkfifo would be the figure, see SCALE_DIRS).
 */
const SESSION_DIR: { dir: string; fsType: string } | undefined = (() => {
  if (!opts.tests.includes('sessions')) return undefined;
  const shm = fsType(TMP) !== 'tmpfs' && existsSync('/dev/shm') && fsType('/dev/shm') === 'tmpfs';
  const dir = shm ? mkdtempSync(join('/dev/shm', 'pipe-io-bench-sessions-')) : TMP;
  return { dir, fsType: fsType(dir) };
})();
let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  killAll();
  for (const d of new Set([TMP, ...SCALE_DIRS.map((s) => s.dir), ...(SESSION_DIR ? [SESSION_DIR.dir] : [])])) rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- running children

const TASKSET = which('taskset');
const CPUS = os.cpus().length;
let pinModes: PinMode[] = opts.pinModes;
if (!TASKSET || CPUS < 2) {
  const dropped = pinModes.filter((m) => m !== 'none' && (!TASKSET || m === 'cross'));
  if (dropped.length) process.stderr.write(`bench: ${TASKSET ? 'one CPU' : 'no taskset'}: echo pin modes ${dropped.join(',')} replaced by "none"\n`);
  pinModes = [...new Set(pinModes.map((m) => (dropped.includes(m) ? 'none' : m)))] as PinMode[];
}
/** CPUs for [server, client] in a pin mode. */
function cpusFor(mode: PinMode): [number | undefined, number | undefined] {
  if (mode === 'same') return [0, 0];
  if (mode === 'cross') return [1, 0];
  return [undefined, undefined];
}

let bins: Record<CProgram, string>;
let seq = 0;

function cProc(name: CProgram, args: string[], cpu?: number): Proc {
  return new Proc(name, bins[name], args, { cpu, taskset: TASKSET, verbose: opts.verbose });
}

function nodeProc(name: string, script: string, args: string[], cpu?: number, profileName?: string): Proc {
  const flags = profileName && opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${profileName}.cpuprofile`] : [];
  return new Proc(name, process.execPath, [...flags, script, ...args], { cpu, taskset: TASKSET, verbose: opts.verbose });
}

function serverProc(sys: 'ours' | 'ours-buffer' | 'unix' | 'naive', mode: 'in' | 'out' | 'echo', dir: string, n: number, cpu?: number, tag = ''): Proc {
  const inPath = sys === 'unix' ? join(dir, 'sock') : join(dir, 'in');
  const args = [mode, inPath, join(dir, 'out'), String(n), ...(sys === 'ours-buffer' ? ['buffer'] : [])];
  return nodeProc(`${sys}-${mode}`, SERVERS[sys], args, cpu, sys === 'ours' || sys === 'ours-buffer' ? `${sys}-${mode}${tag}` : undefined);
}

/** Systems the echo test runs on: the buffer codec is measured in and out only. */
const hasEcho = (sys: SystemId): boolean => sys !== 'ours-buffer';

function mkfifo(...paths: string[]): void {
  execFileSync('mkfifo', ['-m', '600', ...paths]);
}

function freshDir(label: string, parent = TMP): string {
  const dir = join(parent, `${++seq}-${label}`);
  mkdirSync(dir);
  return dir;
}

/** Runs fn with the children it starts; kills any still alive afterwards. */
async function withProcs<T>(fn: (track: <P extends Proc>(p: P) => P) => Promise<T>): Promise<T> {
  const procs: Proc[] = [];
  const track = <P extends Proc>(p: P): P => {
    procs.push(p);
    return p;
  };
  try {
    return await fn(track);
  } finally {
    await Promise.all(
      procs.map((p) => {
        // Node servers get a chance to stop cleanly (and write --cpu-prof); C programs are done or killed.
        if (p.child.exitCode === null && p.child.signalCode === null) return p.close(3000);
        return p.exited;
      }),
    );
  }
}

const flowTimeout = (n: number): number => 30_000 + n / 10; // ms: 10k lines/s floor
const echoTimeout = (m: number): number => 30_000 + m; // ms: 1k round trips/s floor
const START_TIMEOUT = 15_000;

function checkLines(result: Record<string, number>, n: number, who: string): void {
  if (result.lines !== n || (result.bad ?? 0) !== 0) throw new Error(`${who}: got ${result.lines} lines (${result.bad} malformed), expected ${n}`);
}

// ---------------------------------------------------------------- measurements

async function measureIn(sys: SystemId, run: number, test: 'in' | 'in16'): Promise<number> {
  const n = opts.n;
  const { writers, mode } = IN_WRITERS[test];
  const dir = freshDir(`${sys}-${test}`);
  return withProcs(async (track) => {
    let receiver: Proc;
    let target: string;
    if (sys === 'c') {
      mkfifo(join(dir, 'in'));
      // Many writers come and go: the C reader opens the FIFO read-write, as the naive Node server does.
      receiver = track(cProc('line_reader', [`${writers > 1 ? 'fifo-rw' : 'fifo'}:${join(dir, 'in')}`, String(n)]));
      await receiver.expect('OPEN', START_TIMEOUT);
      target = `fifo:${join(dir, 'in')}`;
    } else {
      if (sys === 'naive') mkfifo(join(dir, 'in'), join(dir, 'out'));
      receiver = track(serverProc(sys, 'in', dir, n, undefined, `${test === 'in' ? '' : '16'}-${run}`));
      await receiver.expect('READY', START_TIMEOUT);
      target = sys === 'unix' ? `unix:${join(dir, 'sock')}` : `fifo:${join(dir, 'in')}`;
    }
    // The lines are shared out; the first writer takes what does not divide evenly.
    const each = Math.floor(n / writers);
    const procs = Array.from({ length: writers }, (_, w) => track(cProc('line_writer', [mode, target, String(w === 0 ? n - each * (writers - 1) : each)])));
    const result = sys === 'c' ? await receiver.json(flowTimeout(n)) : await receiver.expect('DONE', flowTimeout(n));
    checkLines(result, n, sys);
    await Promise.all(procs.map((w) => w.finish(5000)));
    return result.rate!;
  });
}

async function measureOut(sys: SystemId, run: number): Promise<number> {
  const n = opts.n;
  const dir = freshDir(`${sys}-out`);
  return withProcs(async (track) => {
    let reader: Proc;
    if (sys === 'c') {
      mkfifo(join(dir, 'out'));
      reader = track(cProc('line_reader', [`fifo:${join(dir, 'out')}`, String(n)]));
      await reader.expect('OPEN', START_TIMEOUT);
      track(cProc('line_writer', ['stdio', `fifo:${join(dir, 'out')}`, String(n)]));
    } else {
      if (sys === 'naive') mkfifo(join(dir, 'in'), join(dir, 'out'));
      const server = track(serverProc(sys, 'out', dir, n, undefined, `-${run}`));
      await server.expect('READY', START_TIMEOUT);
      const source = sys === 'unix' ? `unix:${join(dir, 'sock')}` : `fifo:${join(dir, 'out')}`;
      reader = track(cProc('line_reader', [source, String(n)]));
      await reader.expect('OPEN', START_TIMEOUT);
      if (sys === 'unix') await server.expect('CONNECTED', START_TIMEOUT);
      server.send('GO');
    }
    const result = await reader.json(flowTimeout(n));
    checkLines(result, n, `${sys} -> line_reader`);
    return result.rate!;
  });
}

function toEcho(r: Record<string, number>): EchoFigure {
  return { rtps: r.rtps!, p50_us: r.p50_us!, p99_us: r.p99_us!, max_us: r.max_us!, mean_us: r.mean_us! };
}

async function measureEcho(sys: SystemId, pin: PinMode, run: number): Promise<EchoFigure> {
  const dir = freshDir(`${sys}-echo-${pin}`);
  const [serverCpu, clientCpu] = cpusFor(pin);
  return withProcs(async (track) => {
    let target = `fifo:${join(dir, 'in')},${join(dir, 'out')}`;
    if (sys === 'c') {
      mkfifo(join(dir, 'in'), join(dir, 'out'));
      const peer = track(cProc('echo_peer', [join(dir, 'in'), join(dir, 'out')], serverCpu));
      await peer.expect('READY', START_TIMEOUT);
    } else {
      if (sys === 'naive') mkfifo(join(dir, 'in'), join(dir, 'out'));
      const server = track(serverProc(sys, 'echo', dir, 0, serverCpu, `-${pin}-${run}`));
      await server.expect('READY', START_TIMEOUT);
      if (sys === 'unix') target = `unix:${join(dir, 'sock')}`;
    }
    const client = track(cProc('echo_client', [target, String(opts.echoRounds), String(opts.echoWarmup)], clientCpu));
    return toEcho(await client.json(echoTimeout(opts.echoRounds + opts.echoWarmup)));
  });
}

async function measureScale(run: number, where: number): Promise<{ figure: ScaleFigure; echo: Partial<Record<PinMode, EchoFigure>> }> {
  const dir = freshDir('scale', SCALE_DIRS[where]!.dir);
  const count = opts.scaleCount;
  return withProcs(async (track) => {
    const child = track(nodeProc('scale', SCALE, [dir, String(count)], undefined, `ours-scale-${SCALE_DIRS[where]!.fsType.replace(/\W+/g, '')}-${run}`));
    const figure = (await child.expect('READY', 60_000)) as unknown as ScaleFigure;
    const echo: Partial<Record<PinMode, EchoFigure>> = {};
    const k = Math.floor(count / 2);
    for (const pin of pinModes) {
      const [serverCpu, clientCpu] = cpusFor(pin);
      // Move the running server process (all its threads) to the server CPU, or back to all CPUs.
      if (TASKSET && child.pid !== undefined) {
        execFileSync(TASKSET, ['-a', '-p', '-c', serverCpu === undefined ? `0-${CPUS - 1}` : String(serverCpu), String(child.pid)], { stdio: 'ignore' });
      }
      const client = track(cProc('echo_client', [`fifo:${join(dir, `s${k}.in`)},${join(dir, `s${k}.out`)}`, String(opts.echoRounds), String(opts.echoWarmup)], clientCpu));
      echo[pin] = toEcho(await client.json(echoTimeout(opts.echoRounds + opts.echoWarmup)));
    }
    child.child.stdin!.end();
    const stopped = await child.expect('STOPPED', 30_000).catch(() => undefined);
    if (stopped) figure.stopMs = stopped.stopMs!;
    return { figure, echo };
  });
}

// ---------------------------------------------------------------- main

const t0 = Date.now();
const errors: string[] = [];
const results: BenchResults = {
  version: 1,
  date: new Date().toISOString(),
  machine: {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: CPUS,
    memoryMB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    platform: process.platform,
    arch: process.arch,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  },
  options: {
    smoke: opts.smoke,
    runs: opts.runs,
    n: opts.n,
    messageBytes: 64,
    echoRounds: opts.echoRounds,
    echoWarmup: opts.echoWarmup,
    echoRepeats: opts.echoRepeats,
    scaleCount: opts.systems.includes('ours') ? opts.scaleCount : 0,
    pinModes,
    tests: opts.tests,
    dir: opts.dir,
  },
  systems: {},
  scale: [],
  ratios: {},
  targets: [],
  errors,
  durationSec: 0,
};
for (const sys of opts.systems) results.systems[sys] = { label: SYSTEM_LABELS[sys], in: { runs: [] }, in16: { runs: [] }, out: { runs: [] }, echo: {} };
const scaleRuns: ScaleFigure[][] = SCALE_DIRS.map(() => []);
const scaleEcho: Partial<Record<PinMode, EchoFigure[]>>[] = SCALE_DIRS.map(() => ({}));

const withScale = opts.tests.includes('scale') && opts.systems.includes('ours') && opts.scaleCount > 0;
const flowTests = (['in', 'in16', 'out'] as const).filter((t) => opts.tests.includes(t));
const echoPins = opts.tests.includes('echo') ? pinModes : [];
const stepsPerRound =
  opts.systems.length * flowTests.length + opts.systems.filter(hasEcho).length * echoPins.length * opts.echoRepeats + (withScale ? SCALE_DIRS.length : 0);
// The bridge runs once, after the rounds (it takes its own runs and medians), when Redis is here.
const redisServer = opts.tests.includes('bridge') || opts.tests.includes('work') ? findRedisServer() : undefined;
const totalSteps =
  stepsPerRound * opts.runs +
  (redisServer && opts.tests.includes('bridge') ? 1 : 0) +
  (opts.tests.includes('rpc') ? 1 : 0) +
  (redisServer && opts.tests.includes('work') ? 1 : 0);
let step = 0;

async function runStep<T>(label: string, fn: () => Promise<T>, show: (v: T) => string): Promise<T | undefined> {
  step++;
  const started = Date.now();
  const head = `[${String(step).padStart(String(totalSteps).length)}/${totalSteps}] ${label}`;
  const tty = process.stderr.isTTY === true;
  if (tty) process.stderr.write(`${head} …`);
  const cr = tty ? '\r' : '';
  try {
    const v = await fn();
    process.stderr.write(`${cr}${head}  ${show(v)}  (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    return v;
  } catch (err) {
    const msg = `${label}: ${err instanceof Error ? err.message : String(err)}`;
    errors.push(msg);
    process.stderr.write(`${cr}${head}  FAILED: ${msg}\n`);
    return undefined;
  }
}

try {
  bins = buildC();
} catch (err) {
  process.stderr.write(`bench: building bench/c failed: ${String(err)}\n`);
  process.exit(1);
}
if (opts.profile) mkdirSync(PROFILE_DIR, { recursive: true });
process.stderr.write(
  `pipe-io-server bench: ${opts.runs} run(s); in/out N=${opts.n.toLocaleString('en-US')}; echo ${opts.echoRounds.toLocaleString('en-US')} round trips ` +
    `(+${opts.echoWarmup} warm-up), ${pinModes.join(' + ')}; ` +
    `${withScale ? `scale ${opts.scaleCount} servers in ${SCALE_DIRS.map((d) => `${d.dir} (${d.fsType})`).join(' and ')}` : 'no scale test'}; ` +
    `${results.machine.cpu}, ${CPUS} CPUs, node ${process.version}\n`,
);

const name = (s: SystemId): string => SHORT_LABELS[s].padEnd(16);
for (let run = 1; run <= opts.runs; run++) {
  // Rotate the order each round so no system always goes first.
  const order = opts.systems.map((_, i) => opts.systems[(i + run - 1) % opts.systems.length]!);
  const tag = `run ${run}/${opts.runs}`;
  for (const test of flowTests) {
    for (const sys of order) {
      const measure = test === 'out' ? () => measureOut(sys, run) : () => measureIn(sys, run, test);
      const v = await runStep(`${tag}  ${test.padEnd(5)} ${name(sys)}`, measure, (r) => `${fmtRate(r)} lines/s`);
      if (v !== undefined) results.systems[sys]![test].runs.push(v);
    }
  }
  for (let repeat = 1; repeat <= opts.echoRepeats; repeat++) for (const pin of echoPins) {
    // Alternating the systems within the round too: a slow spell of the VM hits them alike.
    for (const sys of repeat % 2 === 1 ? order.filter(hasEcho) : order.filter(hasEcho).reverse()) {
      const v = await runStep(
        `${tag}  echo  ${name(sys)} ${pin.padEnd(5)}${opts.echoRepeats > 1 ? ` (${repeat}/${opts.echoRepeats})` : ''}`,
        () => measureEcho(sys, pin, run),
        (e) => `${fmtRate(e.rtps)} rt/s  p50 ${fmtUs(e.p50_us)} µs  p99 ${fmtUs(e.p99_us)} µs`,
      );
      if (v !== undefined) (results.systems[sys]!.echo[pin] ??= { runs: [] }).runs.push(v);
    }
  }
  for (let where = 0; withScale && where < SCALE_DIRS.length; where++) {
    const v = await runStep(`${tag}  scale ${opts.scaleCount} servers, ${SCALE_DIRS[where]!.fsType}`, () => measureScale(run, where), (s) =>
      `start ${fmtMs(s.figure.startMs)}, max block ${fmtMs(s.figure.maxBlockMs)}, RSS ${s.figure.rssMB.toFixed(0)} MB, ` +
      Object.entries(s.echo).map(([p, e]) => `echo(${p}) p50 ${fmtUs(e.p50_us)} µs`).join(', '),
    );
    if (v !== undefined) {
      scaleRuns[where]!.push(v.figure);
      for (const [pin, e] of Object.entries(v.echo) as [PinMode, EchoFigure][]) (scaleEcho[where]![pin] ??= []).push(e);
    }
  }
}

if (opts.tests.includes('bridge')) {
  if (redisServer === undefined) {
    results.bridge = { skipped: 'no redis-server on PATH (apt-get install redis-server)' };
  } else {
    const v = await runStep(
      'bridge  FIFO -> Redis -> FIFO, and redis-benchmark XADD',
      () => benchBridge({ n: opts.smoke ? 5000 : 200_000, runs: opts.smoke ? 1 : opts.runs, redisServer }),
      (b) => `${fmtRate(b.bridgeRate)} msgs/s; XADD pipelined ${fmtRate(b.xaddPipelinedRate)}/s`,
    );
    if (v !== undefined) results.bridge = v;
  }
}

if (opts.tests.includes('work')) {
  if (redisServer === undefined) {
    results.work = { skipped: 'no redis-server on PATH (apt-get install redis-server)' };
  } else {
    const v = await runStep(
      'work  push -> pipe-io work (cat) -> pull, 1 to 4 workers',
      () => benchWork({ n: opts.smoke ? 5000 : 100_000, runs: opts.smoke ? 1 : opts.runs, workers: opts.smoke ? [1, 2] : [1, 2, 3, 4], redisServer }),
      (w) => Object.entries(w.rates).map(([k, rate]) => `${k}: ${fmtRate(rate)}`).join(', ') + ' msgs/s',
    );
    if (v !== undefined) results.work = v;
  }
}

if (opts.tests.includes('rpc')) {
  const v = await runStep(
    `rpc  ${opts.runs} x ${RPC_SYSTEMS.length} hosts, ${opts.rpcN.toLocaleString('en-US')} requests at 1 and 64 in flight`,
    () =>
      benchRpc({
        n: opts.rpcN,
        warmup: Math.min(2000, opts.rpcN),
        runs: opts.runs,
        verbose: opts.verbose,
        onRun: (system, run, f) =>
          process.stderr.write(`      rpc run ${run} ${system.padEnd(6)} ${Object.entries(f).map(([k, x]) => `${k} in flight ${fmtRate(x.rps)} req/s p99 ${fmtUs(x.p99_us)} µs`).join(', ')}\n`),
      }),
    (r) => `node 64 in flight ${fmtRate(r.systems.node['64']?.median?.rps)} req/s, vscode-jsonrpc ${fmtRate(r.systems.vscode['64']?.median?.rps)} req/s`,
  );
  if (v !== undefined) results.rpc = v;
}

if (opts.tests.includes('sessions')) {
  // On tmpfs when there is one: a connect makes a folder and two FIFOs, and ext4's mkfifo alone
  // costs ~1 ms of kernel CPU (see SCALE_DIRS), which would measure the file system, not us.
  const where = SESSION_DIR!;
  const count = opts.smoke ? 100 : Math.max(opts.scaleCount, 1000);
  const cc = process.env.CC ?? 'cc';
  const sessionClient = join(C_BIN, 'session_client');
  const v = await runStep(
    `sessions  ${count} sessions, connects/s, fairness (${where.fsType})`,
    async () => {
      execFileSync(cc, ['-O2', '-Wall', '-I', join(ROOT, 'clients/c'), '-o', sessionClient, join(C_SRC, 'session_client.c'), join(ROOT, 'clients/c/pipe_io_client.c')], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      return benchSessions({
        runs: opts.runs,
        count,
        echoRounds: opts.echoRounds,
        warmup: opts.echoWarmup,
        connects: opts.smoke ? 400 : 4000,
        lightRounds: opts.smoke ? 500 : 5000,
        dir: (run) => freshDir(`sessions-${run}`, where.dir),
        fsType: where.fsType,
        sessionClient,
        echoClient: bins.echo_client,
        verbose: opts.verbose,
        onRun: (run, f) =>
          process.stderr.write(
            `      sessions run ${run}: RSS ${f.sessions.rssMB} MB, block ${f.sessions.maxBlockMs} ms, idle CPU ${f.sessions.idleCpuPct} %, ` +
              `echo ${fmtRate(f.sessions.echo.rtps)} vs lone ${fmtRate(f.lone.rtps)} rt/s, ${f.connects.perSec} connects/s, ` +
              `light p99 ${fmtUs(f.fairness.aloneP99Us)} -> ${fmtUs(f.fairness.floodedP99Us)} µs flooded\n`,
          ),
      });
    },
    (r) => `${r.median.connectsPerSec} connects/s, fairness ${fmtRatio(r.median.fairnessRatio)}`,
  );
  if (v !== undefined) results.sessions = v;
}

// ---------------------------------------------------------------- medians, ratios, targets

function medianEcho(runs: EchoFigure[]): EchoFigure | undefined {
  if (runs.length === 0) return undefined;
  return {
    rtps: median(runs.map((r) => r.rtps)),
    p50_us: median(runs.map((r) => r.p50_us)),
    p99_us: median(runs.map((r) => r.p99_us)),
    max_us: median(runs.map((r) => r.max_us ?? NaN)),
    mean_us: median(runs.map((r) => r.mean_us ?? NaN)),
  };
}
const medianOf = (s: Series<number>): number | undefined => (s.runs.length ? median(s.runs) : undefined);

for (const r of Object.values(results.systems)) {
  r.in.median = medianOf(r.in);
  r.in16.median = medianOf(r.in16);
  r.out.median = medianOf(r.out);
  for (const e of Object.values(r.echo)) e.median = medianEcho(e.runs);
}
SCALE_DIRS.forEach(({ dir, fsType }, where) => {
  const runs = scaleRuns[where]!;
  if (runs.length === 0) return;
  const keys: (keyof ScaleFigure)[] = ['count', 'startMs', 'maxBlockMs', 'probeMaxGapMs', 'rssMB', 'rssBeforeMB', 'heapMB', 'idleCpuPct', 'idleMaxBlockMs', 'stopMs'];
  const med = {} as ScaleFigure;
  for (const k of keys) med[k] = median(runs.map((s) => s[k] ?? NaN));
  const echo: Partial<Record<PinMode, Series<EchoFigure>>> = {};
  for (const [pin, e] of Object.entries(scaleEcho[where]!) as [PinMode, EchoFigure[]][]) echo[pin] = { runs: e, median: medianEcho(e) };
  results.scale.push({ dir: dirname(dir), fsType, runs, median: med, echo });
});

const S = results.systems;
const ours = S.ours;
const div = (a: number | undefined, b: number | undefined): number => (a === undefined || b === undefined ? NaN : a / b);
const primaryPin = pinModes[0]!;
if (ours) {
  for (const base of ['unix', 'naive', 'c'] as const) {
    const b = S[base];
    if (!b) continue;
    const ratio: Record<string, number> = { in: div(ours.in.median, b.in.median), in16: div(ours.in16.median, b.in16.median), out: div(ours.out.median, b.out.median) };
    for (const pin of pinModes) {
      const o = ours.echo[pin]?.median;
      const e = b.echo[pin]?.median;
      ratio[`echo_rtps_${pin}`] = div(o?.rtps, e?.rtps);
      ratio[`echo_p50_${pin}`] = div(o?.p50_us, e?.p50_us);
      ratio[`echo_p99_${pin}`] = div(o?.p99_us, e?.p99_us);
    }
    results.ratios[`ours/${base}`] = ratio;
  }
  const buffer = S['ours-buffer'];
  if (buffer) results.ratios['ours-buffer/ours'] = { in: div(buffer.in.median, ours.in.median), in16: div(buffer.in16.median, ours.in16.median), out: div(buffer.out.median, ours.out.median) };
  const t = results.targets;
  const check = (name: string, value: number, target: string, pass: boolean): void => {
    if (Number.isFinite(value)) t.push({ name, value, target, pass });
  };
  const vsUnix = results.ratios['ours/unix'];
  const vsNaive = results.ratios['ours/naive'];
  const vsC = results.ratios['ours/c'];
  const vsText = results.ratios['ours-buffer/ours'];
  if (vsText) {
    // Issue 19: no decoding, no copy beyond the framing's; "at least as fast", less the noise of one run.
    check("in: codec 'buffer' / text", vsText.in!, '>= 0.95x', vsText.in! >= 0.95);
    check("out: codec 'buffer' / text", vsText.out!, '>= 0.95x', vsText.out! >= 0.95);
  }
  if (vsUnix) {
    check('in: ours / Node Unix socket', vsUnix.in!, '>= 2x', vsUnix.in! >= 2);
    check('out: ours / Node Unix socket', vsUnix.out!, '>= 5x', vsUnix.out! >= 5);
  }
  if (vsNaive) {
    // Issue 14: never slower than the twenty lines of net.Socket a user could write instead.
    check(`in (${IN_PATTERN.in}): ours / Node naive FIFO`, vsNaive.in!, '>= 1x', vsNaive.in! >= 1);
    check(`in (${IN_PATTERN.in16}): ours / Node naive FIFO`, vsNaive.in16!, '>= 1x', vsNaive.in16! >= 1);
    check('out: ours / Node naive FIFO', vsNaive.out!, '>= 1x', vsNaive.out! >= 1);
    for (const pin of pinModes) check(`echo (${pin}) round trips/s, issue 14: ours / Node naive FIFO`, vsNaive[`echo_rtps_${pin}`]!, '>= 1x', vsNaive[`echo_rtps_${pin}`]! >= 1);
  }
  for (const pin of pinModes) {
    if (vsNaive) check(`echo (${pin}) round trips/s: ours / Node naive FIFO`, vsNaive[`echo_rtps_${pin}`]!, '>= 1.2x', vsNaive[`echo_rtps_${pin}`]! >= 1.2);
    if (vsC) check(`echo (${pin}) p99: ours / C limit`, vsC[`echo_p99_${pin}`]!, '<= 2x', vsC[`echo_p99_${pin}`]! <= 2);
  }
  for (const scale of results.scale) {
    const sc = scale.median;
    if (!sc) continue;
    const where = `${scale.fsType}${sc.count >= 1000 ? '' : `, ${sc.count} servers, not 1,000`}`;
    check(`scale (${where}): start all, ms`, sc.startMs, '< 1000 ms', sc.startMs < 1000);
    check(`scale (${where}): max event-loop block while starting, ms`, sc.maxBlockMs, '<= 50 ms', sc.maxBlockMs <= 50);
    check(`scale (${where}): RSS with all idle, MB`, sc.rssMB, '< 150 MB', sc.rssMB < 150);
    for (const pin of pinModes) {
      const one = ours.echo[pin]?.median?.p50_us;
      const many = scale.echo[pin]?.median?.p50_us;
      const ratio = div(many, one);
      check(`scale (${where}): echo (${pin}) p50 on one of ${sc.count} / alone`, ratio, '<= 1.25x (within noise)', ratio <= 1.25);
    }
  }
}
if (results.rpc) {
  const rpc = results.rpc.systems;
  const fast = div(rpc.node['64']?.median?.rps, rpc.vscode['64']?.median?.rps);
  const tail = div(rpc.node['1']?.median?.p99_us, rpc.vscode['1']?.median?.p99_us);
  results.rpc.ratios = {
    node: { rps_1: div(rpc.node['1']?.median?.rps, rpc.vscode['1']?.median?.rps), rps_64: fast, p99_1: tail },
    python: { rps_1: div(rpc.python['1']?.median?.rps, rpc.vscode['1']?.median?.rps), rps_64: div(rpc.python['64']?.median?.rps, rpc.vscode['64']?.median?.rps), p99_1: div(rpc.python['1']?.median?.p99_us, rpc.vscode['1']?.median?.p99_us) },
  };
  if (Number.isFinite(fast)) results.targets.push({ name: 'rpc (issue 12): requests/s, 64 in flight: RpcPeer Node / vscode-jsonrpc', value: fast, target: '>= 1.5x', pass: fast >= 1.5 });
  if (Number.isFinite(tail)) results.targets.push({ name: 'rpc (issue 12): p99, 1 in flight: RpcPeer Node / vscode-jsonrpc', value: tail, target: '<= 1x', pass: tail <= 1 });
}
if (results.sessions) {
  const m = results.sessions.median;
  const n = results.sessions.count;
  results.targets.push({ name: `sessions (issue 11): RSS with ${n} sessions, MB`, value: m.rssMB, target: '< 250 MB', pass: m.rssMB < 250 });
  results.targets.push({ name: `sessions (issue 11): longest event-loop block, ${n} sessions connecting and idle, ms`, value: m.maxBlockMs, target: '<= 50 ms', pass: m.maxBlockMs <= 50 });
  results.targets.push({ name: `sessions (issue 11): echo round trips/s, lone PipeIOServer / one of ${n} sessions`, value: m.echoRatio, target: '<= 1.2x', pass: m.echoRatio <= 1.2 });
  results.targets.push({ name: 'sessions (issue 11): light clients p99 with a flooder / without', value: m.fairnessRatio, target: '<= 2x', pass: m.fairnessRatio <= 2 });
  results.targets.push({ name: 'sessions (issue 11): connects per second, C client, 4 connectors, /s', value: m.connectsPerSec, target: '>= 2000/s', pass: m.connectsPerSec >= 2000 });
}
results.durationSec = Math.round((Date.now() - t0) / 100) / 10;

// ---------------------------------------------------------------- report

const lines: string[] = [];
const echoHead = pinModes.map((p) => `echo ${p} rt/s | p50 µs | p99 µs`).join(' | ');
lines.push('');
lines.push(`64-byte messages; medians of ${opts.runs} run(s) (echo: ${opts.runs * opts.echoRepeats}); in/out N=${opts.n.toLocaleString('en-US')}, echo ${opts.echoRounds.toLocaleString('en-US')} round trips`);
lines.push(`echo pinning: ${pinModes.map((p) => `${p} = ${PIN_LABELS[p]}`).join('; ')}`);
lines.push('');
lines.push(`| system | in lines/s (${IN_PATTERN.in}) | in lines/s (${IN_PATTERN.in16}) | out lines/s | ${echoHead} |`);
lines.push(`|---|--:|--:|--:|${pinModes.map(() => '--:|--:|--:|').join('')}`);
for (const sys of opts.systems) {
  const r = S[sys]!;
  const echo = pinModes
    .map((p) => {
      const e = r.echo[p]?.median;
      return `${fmtRate(e?.rtps)} | ${fmtUs(e?.p50_us)} | ${fmtUs(e?.p99_us)}`;
    })
    .join(' | ');
  lines.push(`| ${SYSTEM_LABELS[sys]} | ${fmtRate(r.in.median)} | ${fmtRate(r.in16.median)} | ${fmtRate(r.out.median)} | ${echo} |`);
}
if (ours) {
  lines.push('');
  lines.push('Ratios, ours / baseline (throughput: higher is better; latency: lower is better):');
  for (const [key, r] of Object.entries(results.ratios)) {
    if (key === 'ours-buffer/ours') {
      lines.push(`  codec 'buffer' / text  in ${fmtRatio(r.in)}  in16 ${fmtRatio(r.in16)}  out ${fmtRatio(r.out)}`);
      continue;
    }
    const base = key.split('/')[1] as SystemId;
    const echo = pinModes.map((p) => `echo ${p} ${fmtRatio(r[`echo_rtps_${p}`])} (p50 ${fmtRatio(r[`echo_p50_${p}`])}, p99 ${fmtRatio(r[`echo_p99_${p}`])})`).join('  ');
    lines.push(`  vs ${SHORT_LABELS[base].padEnd(16)}  in ${fmtRatio(r.in)}  in16 ${fmtRatio(r.in16)}  out ${fmtRatio(r.out)}  ${echo}`);
  }
}
for (const sc of results.scale) {
  const m = sc.median;
  if (!m) continue;
  lines.push('');
  lines.push(
    `Scale, ${m.count} pipe-io-server echo servers in one process, FIFOs in ${sc.dir} (${sc.fsType}): start all ${fmtMs(m.startMs)}; ` +
      `max event-loop block ${fmtMs(m.maxBlockMs)} (timer probe ${fmtMs(m.probeMaxGapMs)}); ` +
      `RSS ${m.rssMB.toFixed(0)} MB (${(m.rssMB - m.rssBeforeMB).toFixed(0)} MB over the empty process); ` +
      `while all idle: CPU ${m.idleCpuPct.toFixed(1)}% of a core, max event-loop block ${fmtMs(m.idleMaxBlockMs)}; stop all ${fmtMs(m.stopMs)}`,
  );
  for (const pin of pinModes) {
    const e = sc.echo[pin]?.median;
    const one = ours?.echo[pin]?.median;
    if (e) {
      lines.push(
        `  echo (${pin}) on one of them: ${fmtRate(e.rtps)} rt/s, p50 ${fmtUs(e.p50_us)} µs, p99 ${fmtUs(e.p99_us)} µs` +
          (one ? `  (alone: ${fmtRate(one.rtps)} rt/s, p50 ${fmtUs(one.p50_us)} µs, p99 ${fmtUs(one.p99_us)} µs)` : ''),
      );
    }
  }
}
if (results.bridge && 'skipped' in results.bridge) {
  lines.push('', `Bridge: skipped, ${results.bridge.skipped}`);
} else if (results.bridge) {
  const b = results.bridge;
  lines.push(
    '',
    `Bridge, FIFO -> bridge -> Redis stream -> bridge -> FIFO (Redis ${/v=([\d.]+)/.exec(b.redisVersion)?.[1] ?? '?'}), ${b.n.toLocaleString('en-US')} messages: ${fmtRate(b.bridgeRate)} msgs/s; ` +
      `ceiling, redis-benchmark XADD of the same messages: ${fmtRate(b.xaddPipelinedRate)}/s pipelined 64 deep, ${fmtRate(b.xaddRate)}/s one per round trip; ` +
      `bridge / pipelined XADD ${fmtRatio(b.ratio)}`,
  );
}
if (results.work && 'skipped' in results.work) {
  lines.push('', `Work: skipped, ${results.work.skipped}`);
} else if (results.work) {
  const w = results.work;
  const bridgeRate = results.bridge && !('skipped' in results.bridge) ? results.bridge.bridgeRate : undefined;
  lines.push(
    '',
    `Work, one stage (push -> Redis -> pipe-io work -- cat -> Redis -> pull), ${w.n.toLocaleString('en-US')} messages: ` +
      Object.entries(w.rates)
        .map(([k, rate]) => `${k} worker${k === '1' ? '' : 's'} ${fmtRate(rate)} msgs/s${bridgeRate ? ` (${fmtRatio(rate / bridgeRate)} of the bridge)` : ''}`)
        .join('; '),
  );
}
if (results.rpc) {
  const r = results.rpc;
  lines.push('', `JSON-RPC 2.0, \`add\` request, medians of ${opts.runs} run(s) of ${r.n.toLocaleString('en-US')} requests (unpinned):`, '');
  lines.push(`| system | ${r.inflight.map((k) => `${k} in flight req/s | p50 µs | p99 µs`).join(' | ')} |`);
  lines.push(`|---|${r.inflight.map(() => '--:|--:|--:|').join('')}`);
  for (const sys of RPC_SYSTEMS) {
    const cells = r.inflight.map((k) => {
      const m = r.systems[sys][String(k)]?.median;
      return `${fmtRate(m?.rps)} | ${fmtUs(m?.p50_us)} | ${fmtUs(m?.p99_us)}`;
    });
    lines.push(`| ${RPC_LABELS[sys]} | ${cells.join(' | ')} |`);
  }
  for (const [sys, x] of Object.entries(r.ratios ?? {})) {
    lines.push(`  ${sys} / vscode-jsonrpc: req/s ${fmtRatio(x.rps_1)} at 1 in flight, ${fmtRatio(x.rps_64)} at 64; p99 at 1 in flight ${fmtRatio(x.p99_1)}`);
  }
}
if (results.sessions) {
  const r = results.sessions;
  const m = r.median;
  lines.push('', `Sessions (PipeSessionServer), medians of ${r.runs.length} run(s), C clients, session folders on ${r.fsType}:`, '');
  lines.push(`| ${r.count} sessions: RSS | longest block | idle CPU | echo rt/s one session / lone PipeIOServer | connects/s (4 connectors) | light p99 alone → flooded |`);
  lines.push('|--:|--:|--:|--:|--:|--:|');
  const last = r.runs[r.runs.length - 1]!;
  lines.push(
    `| ${m.rssMB} MB | ${m.maxBlockMs} ms | ${m.idleCpuPct} % | ${fmtRate(last.sessions.echo.rtps)} / ${fmtRate(last.lone.rtps)} (lone/session ${fmtRatio(m.echoRatio)}) | ` +
      `${m.connectsPerSec} | ${fmtUs(m.aloneP99Us)} → ${fmtUs(m.floodedP99Us)} µs (${fmtRatio(m.fairnessRatio)}) |`,
  );
}
if (results.targets.length) {
  lines.push('');
  lines.push(`Targets${opts.smoke ? ' — smoke run: informational only' : ''}:`);
  for (const t of results.targets) {
    const v = t.name.endsWith(', ms') ? fmtMs(t.value) : t.name.endsWith(', MB') ? `${t.value.toFixed(0)} MB` : t.name.endsWith(', /s') ? `${t.value.toFixed(0)}/s` : fmtRatio(t.value);
    lines.push(`  ${t.pass ? 'MET ' : 'MISS'}  ${t.name}: ${v} (target ${t.target})`);
  }
}
if (errors.length) {
  lines.push('');
  lines.push('Errors:');
  for (const e of errors) lines.push(`  ${e}`);
}
lines.push('');
results.machine.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
lines.push(
  `${results.machine.cpu}, ${CPUS} CPUs, ${results.machine.kernel}, node ${process.version}; ${results.durationSec} s; ` +
    `load average ${results.machine.loadavg[0]} at start, ${results.machine.loadavgEnd[0]} at end (2 is a busy 2-CPU machine: expect noise)`,
);
process.stdout.write(lines.join('\n') + '\n');

mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(join(OUT_DIR, `${OUT_NAME}.json`), JSON.stringify(results, null, 2) + '\n');
writeFileSync(join(OUT_DIR, `${OUT_NAME}.svg`), renderChart(results, primaryPin));
process.stdout.write(`wrote ${join(OUT_DIR, `${OUT_NAME}.json`)} and ${OUT_NAME}.svg\n`);

cleanup();
const missed = results.targets.some((t) => !t.pass);
process.exit(errors.length ? 1 : opts.assert && !opts.smoke && missed ? 3 : 0);
