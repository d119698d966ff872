/**
 * JSON-RPC requests per second and latency (issue 12): a Node host calling `add` on a plugin,
 * with 1 and with 64 requests in flight, for
 * - vscode-jsonrpc between two Node processes over stdio (the anchor: what LSP tooling uses),
 * - RpcPeer to a Node RpcPeer plugin over the plugin's FIFO pair,
 * - RpcPeer to the Python plugin (clients/python/pipe_io_rpc.py), which serves one request at a time.
 * Each measurement runs in its own host process (bench/rpc/host.ts), which starts the plugin;
 * runs are interleaved and the order of systems rotates each round, as in the rest of the bench.
 * Unpinned: the 64-in-flight figure is about using both processes at once.
 * @module
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc } from './common/proc.js';
import { median } from './common/stats.js';

/** The systems measured, in report order. */
export const RPC_SYSTEMS = ['vscode', 'node', 'python'] as const;
/** One of {@link RPC_SYSTEMS}. */
export type RpcSystem = (typeof RPC_SYSTEMS)[number];
/** Row labels. */
export const RPC_LABELS: Record<RpcSystem, string> = {
  vscode: 'vscode-jsonrpc, Node to Node over stdio (anchor)',
  node: 'RpcPeer, Node host to Node plugin',
  python: 'RpcPeer, Node host to Python plugin',
};

/** One measurement: requests/s and latency percentiles. */
export interface RpcFigure {
  rps: number;
  p50_us: number;
  p99_us: number;
}

/** What {@link benchRpc} measured. */
export interface RpcBenchResult {
  /** Timed requests per measurement. */
  n: number;
  /** Untimed requests before each. */
  warmup: number;
  /** The in-flight counts measured. */
  inflight: number[];
  /** Per system, per in-flight count: every run and the medians. */
  systems: Record<RpcSystem, Record<string, { runs: RpcFigure[]; median?: RpcFigure }>>;
  /** Ours / the anchor, per plugin: `rps_1`, `rps_64` (higher is better), `p99_1` (lower is better). */
  ratios?: Record<string, Record<string, number>>;
}

const HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rpc', 'host.js');

/** Options of {@link benchRpc}. */
export interface RpcBenchOptions {
  n: number;
  warmup: number;
  runs: number;
  inflight?: number[];
  verbose?: boolean;
  /** Called after each measurement, for progress lines. */
  onRun?: (system: RpcSystem, run: number, figures: Record<string, RpcFigure>) => void;
}

/** Runs the RPC rows; throws if a host fails (its stderr is in the message). */
export async function benchRpc(options: RpcBenchOptions): Promise<RpcBenchResult> {
  const inflight = options.inflight ?? [1, 64];
  const systems = Object.fromEntries(RPC_SYSTEMS.map((s) => [s, Object.fromEntries(inflight.map((k) => [String(k), { runs: [] as RpcFigure[] }]))])) as RpcBenchResult['systems'];
  for (let run = 1; run <= options.runs; run++) {
    const order = RPC_SYSTEMS.map((_, i) => RPC_SYSTEMS[(i + run - 1) % RPC_SYSTEMS.length]!);
    for (const system of order) {
      const host = new Proc(`rpc-${system}`, process.execPath, [HOST, system, String(options.n), String(options.warmup), inflight.join(',')], { verbose: options.verbose });
      const figures = (await host.json(120_000 + options.n)) as unknown as Record<string, RpcFigure>;
      await host.finish(10_000);
      for (const k of inflight) systems[system][String(k)]!.runs.push(figures[String(k)]!);
      options.onRun?.(system, run, figures);
    }
  }
  for (const bySystem of Object.values(systems)) {
    for (const cell of Object.values(bySystem)) {
      cell.median = { rps: median(cell.runs.map((f) => f.rps)), p50_us: median(cell.runs.map((f) => f.p50_us)), p99_us: median(cell.runs.map((f) => f.p99_us)) };
    }
  }
  return { n: options.n, warmup: options.warmup, inflight, systems };
}
