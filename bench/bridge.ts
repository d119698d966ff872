/**
 * Bridge throughput, end to end: a writer process puts N 64-byte lines into bridge A's in pipe,
 * A appends them to a Redis stream, bridge B reads the stream and writes them into its out pipe,
 * a reader process counts them. Beside it, in the same run and against the same redis-server,
 * `redis-benchmark` gives the ceiling Redis itself sets for XADD of the same messages: one run
 * with one command per round trip (50 clients, its default) and one pipelined (`-P 64`), which is
 * what the bridge's batched appends come close to.
 *
 *   node dist/bench/bridge.js [--n N] [--runs K]      prints the result as JSON
 *
 * Both bridges run in this process (as two hosts would, minus the network); the writer and the
 * reader are child processes, so that the figure is the bridge's and not theirs.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PipeBridge } from '../lib/index.js';
import { RedisServer, findRedisServer } from '../test/helpers/redis.js';

/** Options of {@link benchBridge}. */
export interface BridgeBenchOptions {
  /** Messages per run. Default 200000. */
  n?: number;
  /** Runs; the median is reported. Default 3. */
  runs?: number;
  /** The redis-server binary. Default: the one on PATH. */
  redisServer?: string;
  /** The redis-benchmark binary. Default: `redis-benchmark` beside redis-server, else on PATH. */
  redisBenchmark?: string;
  /** Forwarded to the bridges. Default 512. */
  batchSize?: number;
}

/** What {@link benchBridge} measured. */
export interface BridgeBenchResult {
  /** Messages per run. */
  n: number;
  /** Median messages/s through FIFO → bridge → Redis → bridge → FIFO, first write to last line read. */
  bridgeRate: number;
  /** Every run's rate, in run order. */
  bridgeRates: number[];
  /** redis-benchmark `XADD benchstream * f <63 bytes>`, one command per round trip (50 clients), requests/s. */
  xaddRate: number;
  /** The same, pipelined 64 deep: the ceiling of appending as fast as Redis takes it. */
  xaddPipelinedRate: number;
  /** `bridgeRate / xaddPipelinedRate`. */
  ratio: number;
  /** redis-server's version line. */
  redisVersion: string;
}

/** The 63 characters of every message (64 bytes with the newline), as in the other benchmarks. */
const MESSAGE = 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0'.slice(0, 63);

// Children in plain Node, blocking I/O: each has a core's worth of nothing else to do.
const WRITER = `
const fs = require('node:fs');
const [path, n, line] = process.argv.slice(1);
const fd = fs.openSync(path, 'w');
const chunkLines = 1024;
const chunk = Buffer.from((line + '\\n').repeat(chunkLines));
process.stdout.write('START ' + process.hrtime.bigint() + '\\n');
let left = Number(n);
while (left > 0) {
  const k = Math.min(left, chunkLines);
  const buffer = k === chunkLines ? chunk : chunk.subarray(0, k * (line.length + 1));
  for (let off = 0; off < buffer.length; ) off += fs.writeSync(fd, buffer, off);
  left -= k;
}
fs.closeSync(fd);
`;

const READER = `
const fs = require('node:fs');
const [path, n] = process.argv.slice(1);
const fd = fs.openSync(path, 'r');
process.stdout.write('OPEN\\n');
const want = Number(n);
const buffer = Buffer.alloc(1 << 16);
let lines = 0, bytes = 0;
while (lines < want) {
  const got = fs.readSync(fd, buffer, 0, buffer.length, null);
  if (got === 0) break;
  bytes += got;
  for (let i = 0; i < got; i++) if (buffer[i] === 10) lines++;
}
process.stdout.write('DONE ' + JSON.stringify({ lines, bytes, end: String(process.hrtime.bigint()) }) + '\\n');
`;

function lines(child: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function expectLine(iterator: AsyncIterableIterator<string>, word: string): Promise<string> {
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) throw new Error(`child ended before ${word}`);
    if (value.startsWith(word)) return value.slice(word.length).trim();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One end-to-end run on a fresh topic; returns messages/s. */
async function runOnce(url: string, dir: string, topic: string, n: number, batchSize: number): Promise<number> {
  const inPipe = path.join(dir, `${topic}.in`);
  const outPipe = path.join(dir, `${topic}.out`);
  const a = new PipeBridge({ topic, inPipe, redis: url });
  const b = new PipeBridge({ topic, outPipe, redis: url, name: `bench-${topic}`, batchSize });
  const problems: string[] = [];
  for (const bridge of [a, b]) bridge.on('warning', (error) => problems.push(error.message));
  const children: ChildProcess[] = [];
  try {
    await Promise.all([a.start(), b.start()]);
    const reader = spawn(process.execPath, ['-e', READER, outPipe, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(reader);
    const fromReader = lines(reader);
    await expectLine(fromReader, 'OPEN');
    const writer = spawn(process.execPath, ['-e', WRITER, inPipe, String(n), MESSAGE], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(writer);
    const start = BigInt(await expectLine(lines(writer), 'START'));
    const done = JSON.parse(await expectLine(fromReader, 'DONE')) as { lines: number; bytes: number; end: string };
    if (done.lines !== n || done.bytes !== n * 64) throw new Error(`the reader got ${done.lines} lines, ${done.bytes} bytes; expected ${n}, ${n * 64}`);
    if (problems.length > 0) throw new Error(`bridge warnings: ${problems.join('; ')}`);
    return n / (Number(BigInt(done.end) - start) / 1e9);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([a.stop(), b.stop()]);
  }
}

const run = promisify(execFile);

/** requests/s from `redis-benchmark --csv` (its second column). */
async function redisBenchmark(binary: string, port: number, n: number, pipeline: number): Promise<number> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-n', String(n), '-P', String(pipeline), '--csv', 'XADD', 'benchstream', '*', 'f', MESSAGE];
  const { stdout } = await run(binary, args);
  const row = stdout.trim().split('\n').at(-1) ?? '';
  const rate = Number(row.split(',')[1]?.replaceAll('"', ''));
  if (!Number.isFinite(rate)) throw new Error(`unexpected redis-benchmark output: ${stdout}`);
  return rate;
}

/**
 * Measures the bridge end to end and redis-benchmark's XADD ceiling, in one run, against one
 * private redis-server (started and stopped here). Rates are medians over `runs`.
 */
export async function benchBridge(options: BridgeBenchOptions = {}): Promise<BridgeBenchResult> {
  const n = options.n ?? 200_000;
  const runs = options.runs ?? 3;
  const binary = options.redisServer ?? findRedisServer();
  if (binary === undefined) throw new Error('redis-server not found on PATH: apt-get install redis-server');
  const benchmark = options.redisBenchmark ?? (fs.existsSync(path.join(path.dirname(binary), 'redis-benchmark')) ? path.join(path.dirname(binary), 'redis-benchmark') : 'redis-benchmark');
  const redis = await RedisServer.start({ binary });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-bench-bridge-'));
  try {
    const { stdout: version } = await run(binary, ['--version']);
    const bridgeRates: number[] = [];
    const xadd: number[] = [];
    const pipelined: number[] = [];
    // Interleaved, so that drift on a shared machine hits both alike.
    for (let i = 0; i < runs; i++) {
      bridgeRates.push(await runOnce(redis.url, dir, `bench${i}`, n, options.batchSize ?? 512));
      xadd.push(await redisBenchmark(benchmark, redis.port, n, 1));
      pipelined.push(await redisBenchmark(benchmark, redis.port, n, 64));
    }
    const bridgeRate = median(bridgeRates);
    const xaddPipelinedRate = median(pipelined);
    return {
      n,
      bridgeRate,
      bridgeRates,
      xaddRate: median(xadd),
      xaddPipelinedRate,
      ratio: bridgeRate / xaddPipelinedRate,
      redisVersion: version.trim(),
    };
  } finally {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = (name: string): number | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at === -1 ? undefined : Number(process.argv[at + 1]);
  };
  const result = await benchBridge({ n: flag('n'), runs: flag('runs') });
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
