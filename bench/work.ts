/**
 * `pipe-io work` throughput through one stage: N 63-character messages appended to a topic
 * (batches of 1000, from this process), K `pipe-io work … -- cat` processes in one group
 * moving them to another topic, and a reader here (`pull`) counting them out. From the first
 * append to the last message read, for K = 1 to 4, on a private redis-server.
 *
 *   node dist/bench/work.js [--n N] [--runs K]      prints the result as JSON
 *
 * Compare with the bridge row (FIFO -> Redis -> FIFO) of the same `npm run bench`: a worker adds
 * a read by a group, a program's pipes both ways, and a second append.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisTransport, pull } from '../lib/index.js';
import { RedisServer, findRedisServer } from '../test/helpers/redis.js';
import { CliProcess, until } from '../test/helpers/work.js';

/** Options of {@link benchWork}. */
export interface WorkBenchOptions {
  /** Messages per run. Default 100000. */
  n?: number;
  /** Runs per worker count; the median is reported. Default 3. */
  runs?: number;
  /** Worker counts to measure. Default 1, 2, 3, 4. */
  workers?: readonly number[];
  /** The redis-server binary. Default: the one on PATH. */
  redisServer?: string;
}

/** What {@link benchWork} measured. */
export interface WorkBenchResult {
  /** Messages per run. */
  n: number;
  /** Median messages/s through one stage, by worker count. */
  rates: Record<string, number>;
  /** Every run's rate, by worker count. */
  runs: Record<string, number[]>;
}

const MESSAGE = 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0'.slice(0, 63);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function runOnce(url: string, prefix: string, n: number, workers: number): Promise<number> {
  const procs: CliProcess[] = [];
  const transport = new RedisTransport({ url });
  const controller = new AbortController();
  try {
    for (let i = 0; i < workers; i++) {
      procs.push(new CliProcess(url, ['work', '--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--name', `w${i}`, '--start', 'start', '--', 'cat']));
    }
    await until('the workers to start', () => procs.every((proc) => /\(stdio\)/.test(proc.stderr)), 20_000);
    let got = 0;
    let end = 0;
    const reading = (async () => {
      for await (const message of pull(`${prefix}out`, { transport, from: 'start', signal: controller.signal, batchSize: 1000 })) {
        if (message !== MESSAGE) throw new Error(`unexpected message ${message}`);
        if (++got === n) {
          end = performance.now();
          break;
        }
      }
    })();
    const start = performance.now();
    const batch = Array.from({ length: 1000 }, () => MESSAGE);
    for (let i = 0; i < n; i += 1000) await transport.append(`${prefix}in`, i + 1000 <= n ? batch : batch.slice(0, n - i));
    const timeout = setTimeout(() => controller.abort(), 120_000);
    await reading;
    clearTimeout(timeout);
    if (got !== n) throw new Error(`got ${got} of ${n} messages`);
    return n / ((end - start) / 1000);
  } finally {
    controller.abort();
    for (const proc of procs) proc.signal('SIGTERM');
    await Promise.all(procs.map((proc) => proc.exited));
    await transport.close();
  }
}

/** Measures one stage at each worker count, against one private redis-server (started and stopped here). */
export async function benchWork(options: WorkBenchOptions = {}): Promise<WorkBenchResult> {
  const n = options.n ?? 100_000;
  const runs = options.runs ?? 3;
  const binary = options.redisServer ?? findRedisServer();
  if (binary === undefined) throw new Error('redis-server not found on PATH: apt-get install redis-server');
  const redis = await RedisServer.start({ binary });
  try {
    const all: Record<string, number[]> = {};
    // Interleaved, so that drift on a shared machine hits every count alike.
    for (let run = 0; run < runs; run++) {
      for (const workers of options.workers ?? [1, 2, 3, 4]) {
        (all[workers] ??= []).push(await runOnce(redis.url, `r${run}k${workers}-`, n, workers));
      }
    }
    const rates = Object.fromEntries(Object.entries(all).map(([workers, values]) => [workers, median(values)]));
    return { n, rates, runs: all };
  } finally {
    await redis.stop();
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = (name: string): number | undefined => {
    const at = process.argv.indexOf(`--${name}`);
    return at === -1 ? undefined : Number(process.argv[at + 1]);
  };
  const result = await benchWork({ n: flag('n'), runs: flag('runs') });
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
