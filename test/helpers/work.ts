/**
 * `pipe-io work` processes for tests and the stress script: real CLI processes, each in its
 * own process group, and the three-stage pipeline used at two sizes (test/work.test.ts and
 * `npm run stress:work`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisTransport } from '../../lib/bridge/redis.js';
import { pull } from '../../lib/bridge/topic.js';
import { killGroup } from './fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/lib/cli/main.js */
export const MAIN = path.resolve(here, '../../lib/cli/main.js');
/** The checkout (for clients/python). */
export const ROOT = path.resolve(here, '../../..');

/** One `pipe-io` CLI process. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #partial = '';

  constructor(url: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, REDIS_URL: url, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-20_000)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** A signal to the process only (a worker's program must then die through the watchdog). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILL to the process and its group: cleanup. */
  killGroup(): void {
    killGroup(this.pid);
  }
}

/** Waits for `test`, polling; fails with `what` after `timeoutMs`. */
export async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** What the pipeline run found. */
export interface PipelineResult {
  readonly lines: number;
  readonly received: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly wrong: number;
  readonly ms: number;
  readonly exitCodes: Array<number | null>;
}

/**
 * raw -> `tr a-z A-Z` -> `sed s/$/!/` -> `cat` -> out, two workers per stage (six CLI
 * processes standing in for machines), `lines` lines pushed, then every worker stopped with
 * SIGTERM (they must drain and exit 0).
 */
export async function runPipeline(url: string, lines: number, prefix: string, workersPerStage = 2): Promise<PipelineResult> {
  const stages = [
    { from: `${prefix}raw`, to: `${prefix}up`, program: ['tr', 'a-z', 'A-Z'] },
    { from: `${prefix}up`, to: `${prefix}bang`, program: ['sed', 's/$/!/'] },
    { from: `${prefix}bang`, to: `${prefix}out`, program: ['cat'] },
  ];
  const workers: CliProcess[] = [];
  const transport = new RedisTransport({ url });
  const controller = new AbortController();
  try {
    for (const [index, stage] of stages.entries()) {
      for (let i = 0; i < workersPerStage; i++) {
        workers.push(
          new CliProcess(url, ['work', '--from', stage.from, '--to', stage.to, '--group', `g${index}`, '--name', `s${index}w${i}`, '--start', 'start', '--', ...stage.program]),
        );
      }
    }
    const seen = new Map<string, number>();
    let wrong = 0;
    const expected = (i: number): string => `LINE-${i}!`;
    const reading = (async () => {
      for await (const message of pull(`${prefix}out`, { transport, from: 'start', signal: controller.signal, batchSize: 1000 })) {
        if (!/^LINE-\d+!$/.test(message)) wrong++;
        seen.set(message, (seen.get(message) ?? 0) + 1);
        if (seen.size === lines) break;
      }
    })();
    // Everyone in their group before the first line, so that nothing depends on --start.
    await until('the workers to start', () => workers.every((worker) => /\(stdio\)/.test(worker.stderr)), 20_000);
    const started = performance.now();
    const batch = 1000;
    for (let i = 0; i < lines; i += batch) {
      await transport.append(
        `${prefix}raw`,
        Array.from({ length: Math.min(batch, lines - i) }, (_, j) => `line-${i + j}`),
      );
    }
    const deadline = setTimeout(() => controller.abort(), Math.max(60_000, lines * 2));
    await reading;
    clearTimeout(deadline);
    const ms = performance.now() - started;
    let missing = 0;
    let duplicates = 0;
    for (let i = 0; i < lines; i++) {
      const count = seen.get(expected(i)) ?? 0;
      if (count === 0) missing++;
      else duplicates += count - 1;
    }
    for (const worker of workers) worker.signal('SIGTERM');
    const exits = await Promise.all(workers.map((worker) => worker.exited));
    return { lines, received: [...seen.values()].reduce((a, b) => a + b, 0), missing, duplicates, wrong, ms, exitCodes: exits.map((exit) => exit.code) };
  } finally {
    controller.abort();
    for (const worker of workers) worker.killGroup();
    await transport.close();
  }
}
