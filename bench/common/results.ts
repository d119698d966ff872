import type { BridgeBenchResult } from '../bridge.js';
import type { RpcBenchResult } from '../rpc.js';
import type { SessionBenchResult } from '../sessions.js';
import type { WorkBenchResult } from '../work.js';

/** Shape of bench/results/latest.json. */

export type SystemId = 'ours' | 'ours-buffer' | 'c' | 'unix' | 'naive';

/** Echo pinning: client and server on the same CPU, on different CPUs, or left to the scheduler. */
export type PinMode = 'same' | 'cross' | 'none';

export const SYSTEM_LABELS: Record<SystemId, string> = {
  ours: 'pipe-io-server (ours)',
  'ours-buffer': "pipe-io-server, codec 'buffer' (in/out only)",
  c: 'C limit (C writer/reader on a FIFO)',
  unix: 'Node net on a Unix socket',
  naive: 'Node net.Socket on an O_NONBLOCK FIFO',
};

export const SHORT_LABELS: Record<SystemId, string> = {
  ours: 'pipe-io-server',
  'ours-buffer': 'ours, buffer codec',
  c: 'C limit',
  unix: 'Node Unix socket',
  naive: 'Node naive FIFO',
};

export const PIN_LABELS: Record<PinMode, string> = {
  same: 'client and server pinned to one CPU',
  cross: 'client and server pinned to different CPUs',
  none: 'not pinned',
};

export interface EchoFigure {
  rtps: number;
  p50_us: number;
  p99_us: number;
  max_us?: number;
  mean_us?: number;
}

export interface Series<T> {
  runs: T[];
  median?: T | undefined;
}

export interface SystemResults {
  label: string;
  /** One C writer, 64 KiB per write(). */
  in: Series<number>;
  /** 16 C writers at once, one line per write(). Absent from results saved before it existed. */
  in16: Series<number>;
  out: Series<number>;
  echo: Partial<Record<PinMode, Series<EchoFigure>>>;
}

export interface ScaleFigure {
  count: number;
  startMs: number;
  maxBlockMs: number;
  probeMaxGapMs: number;
  rssMB: number;
  rssBeforeMB: number;
  heapMB: number;
  /** CPU time (user+system) of the process over 1 s with all servers idle, % of one core. */
  idleCpuPct: number;
  /** Longest event-loop block in that idle second, ms. */
  idleMaxBlockMs: number;
  stopMs?: number;
}

export interface ScaleResult {
  dir: string;
  /** `stat -f -c %T` of dir: ext2/ext3 (ext4 too), tmpfs, … */
  fsType: string;
  runs: ScaleFigure[];
  median?: ScaleFigure | undefined;
  echo: Partial<Record<PinMode, Series<EchoFigure>>>;
}

export interface TargetCheck {
  name: string;
  value: number;
  target: string;
  pass: boolean;
}

export interface BenchResults {
  version: 1;
  date: string;
  machine: {
    cpu: string;
    cores: number;
    memoryMB: number;
    node: string;
    kernel: string;
    platform: string;
    arch: string;
    /** os.loadavg() when the run started and ended: a busy machine gives noisy figures. */
    loadavg: number[];
    loadavgEnd?: number[];
  };
  options: {
    smoke: boolean;
    runs: number;
    n: number;
    messageBytes: number;
    echoRounds: number;
    echoWarmup: number;
    /** Echo runs per system, pin and round (absent in results written before it existed: 1). */
    echoRepeats?: number;
    scaleCount: number;
    pinModes: PinMode[];
    tests: string[];
    /** Where the in/out/echo tests put their FIFOs and sockets. */
    dir: string;
  };
  systems: Partial<Record<SystemId, SystemResults>>;
  /** One entry per directory the scale test ran in (the FIFO's file system matters: see fsType). */
  scale: ScaleResult[];
  /** Bridge throughput beside redis-benchmark's XADD, or why it was skipped. */
  bridge?: BridgeBenchResult | { skipped: string };
  /** JSON-RPC rows (issue 12): RpcPeer to Node and Python plugins, beside vscode-jsonrpc. */
  rpc?: RpcBenchResult;
  /** Session rows (issue 11): many sessions in one server, connects/s, fairness. */
  sessions?: SessionBenchResult;
  /** `pipe-io work` (issue 13): one stage (push -> work with cat -> pull) at 1 to 4 workers, or why it was skipped. */
  work?: WorkBenchResult | { skipped: string };
  ratios: Record<string, Record<string, number>>;
  targets: TargetCheck[];
  errors: string[];
  durationSec: number;
}
