/**
 * The flood of issue 18: a client writes lines of 100 bytes as fast as it can into a server
 * whose async `handleMessage` waits 5 ms. Used by test/handler-flow.test.ts (small), stress
 * row 10 (full size) and by hand, for any size:
 *
 *   node dist/test/stress/flood.js [--server io|reader] [--concurrency N] [--lines N] [--every K]
 *
 * (`--every 1`: every message waits 5 ms; the issue's exact case, 300,000 lines at concurrency
 * 1, takes about 25 minutes). Prints the result and the checks; exits 1 if a check fails.
 * @module
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MiB, mib, repoRoot } from './common.js';

/** One flood. */
export interface FloodConfig {
  /** `PipeIOServer` or `PipeReaderServer`. */
  server: 'io' | 'reader';
  /** The `concurrency` option; undefined: the default. */
  concurrency?: number;
  /** Lines the client writes. */
  lines: number;
  /** Bytes per line, newline included. */
  bytes: number;
  /** How long the handler waits, for every `every`-th message; the others wait one event-loop turn. */
  delayMs: number;
  every: number;
  /** Give up after this long. */
  timeoutMs: number;
}

/** What the server process saw. */
export interface FloodResult {
  handled: number;
  /** Most handler promises pending at once. */
  maxPending: number;
  /** Handlers started out of the order of the messages. */
  outOfOrder: number;
  writerCode: number | null;
  writerOutput: string;
  /** Messages handled when the writer had written its last line and exited. */
  handledAtWriterExit: number;
  writerMs: number;
  handlersMs: number;
  stopMs: number;
  /** RSS of the server process, started and idle, before the flood. */
  idleRss: number;
  /** Its peak RSS (VmHWM) during the flood. */
  peakRss: number;
  warnings: string[];
}

/** Peak RSS over idle that a flood may cost the server process, whatever its size. */
export const RSS_BOUND = 48 * MiB;

/**
 * Most lines that may still be unhandled when the writer has written its last one: the
 * kernel's pipe buffer, the socket's read buffer and the read being split (64 KiB each at
 * most), the handlers' queue (it pauses reading at 1024 messages), and those pending.
 */
export function bufferedLinesBound(config: FloodConfig): number {
  return Math.ceil((3 * 64 * 1024) / config.bytes) + 1024 + (config.concurrency ?? 1);
}

/** Runs a flood in a fresh server process. */
export function runFlood(config: FloodConfig): Promise<FloodResult> {
  const script = path.join(repoRoot, 'dist/test/stress/flood-server.js');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', script, JSON.stringify(config)],
      { timeout: config.timeoutMs + 30_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`flood server failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as FloodResult);
      },
    );
  });
}

/** What is wrong with a flood's result; empty when it holds every bound. */
export function floodProblems(config: FloodConfig, result: FloodResult): string[] {
  const problems: string[] = [];
  const limit = config.concurrency ?? 1;
  if (result.handled !== config.lines) problems.push(`handled ${result.handled} of ${config.lines} messages`);
  if (result.writerCode !== 0) problems.push(`the writer exited with ${result.writerCode}: ${result.writerOutput}`);
  if (result.outOfOrder > 0) problems.push(`${result.outOfOrder} handlers started out of order`);
  if (result.maxPending > limit) problems.push(`${result.maxPending} handlers pending at once, more than concurrency ${limit}`);
  if (Number.isFinite(limit) && result.maxPending < limit) problems.push(`only ${result.maxPending} handlers pending at once: concurrency ${limit} unused`);
  const unhandled = config.lines - result.handledAtWriterExit;
  if (unhandled > bufferedLinesBound(config)) {
    problems.push(`the writer finished with ${unhandled} messages unhandled (more than the ${bufferedLinesBound(config)} the buffers hold): it was not held back`);
  }
  if (result.peakRss - result.idleRss > RSS_BOUND) problems.push(`peak RSS ${mib(result.peakRss)} is more than ${mib(RSS_BOUND)} over idle (${mib(result.idleRss)})`);
  if (result.warnings.length > 0) problems.push(`warnings: ${result.warnings.join(' | ')}`);
  return problems;
}

/** One line of figures. */
export function describeFlood(config: FloodConfig, result: FloodResult): string {
  return (
    `${config.server} concurrency ${config.concurrency ?? '1 (default)'}: ${result.handled}/${config.lines} lines of ${config.bytes} B, ` +
    `${config.delayMs} ms every ${config.every === 1 ? 'message' : `${config.every}th message`}; max pending ${result.maxPending}, ` +
    `out of order ${result.outOfOrder}; writer done at ${(result.writerMs / 1000).toFixed(1)} s with ${config.lines - result.handledAtWriterExit} unhandled ` +
    `(bound ${bufferedLinesBound(config)}), handlers done at ${(result.handlersMs / 1000).toFixed(1)} s; ` +
    `peak RSS ${mib(result.peakRss)} = idle ${mib(result.idleRss)} + ${mib(result.peakRss - result.idleRss)} (bound +${mib(RSS_BOUND)}); stop ${result.stopMs} ms`
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const concurrency = arg('--concurrency');
  const config: FloodConfig = {
    server: arg('--server') === 'reader' ? 'reader' : 'io',
    ...(concurrency === undefined ? {} : { concurrency: concurrency === 'Infinity' ? Infinity : Number(concurrency) }),
    lines: Number(arg('--lines') ?? 300_000),
    bytes: 100,
    delayMs: 5,
    every: Number(arg('--every') ?? 1),
    timeoutMs: 3 * 3600_000,
  };
  const result = await runFlood(config);
  const problems = floodProblems(config, result);
  process.stdout.write(`${describeFlood(config, result)}\n${problems.length === 0 ? 'all bounds hold' : problems.map((p) => `FAIL: ${p}`).join('\n')}\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}
