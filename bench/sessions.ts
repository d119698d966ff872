/**
 * Session rows (issue 11): 1,000 sessions in one server, connects per second, fairness. Each run
 * is one host process (bench/sessions/host.ts) with the servers, and C clients
 * (bench/c/session_client.c on clients/c) around it; figures are medians over the runs.
 * @module
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc } from './common/proc.js';
import { median } from './common/stats.js';

/** One host run's figures (see bench/sessions/host.ts). */
export interface SessionRun {
  count: number;
  lone: { rtps: number; p50_us: number; p99_us: number };
  sessions: {
    connectAllMs: number;
    maxBlockMs: number;
    rssMB: number;
    rssBeforeMB: number;
    idleCpuPct: number;
    idleMaxBlockMs: number;
    echo: { rtps: number; p50_us: number; p99_us: number };
  };
  connects: { n: number; ms: number; perSec: number };
  fairness: { aloneP99Us: number; floodedP99Us: number; floodedMaxP99Us: number; floodLinesPerSec: number };
}

/** What {@link benchSessions} measured: every run, the medians, and the three ratios of the issue. */
export interface SessionBenchResult {
  /** Sessions held open. */
  count: number;
  /** Where the session folders were, and its file system (mkfifo costs ~1 ms on ext4, µs on tmpfs). */
  dir: string;
  fsType: string;
  runs: SessionRun[];
  /** Medians over the runs of: RSS, longest block, idle CPU, echo ratio, connects/s, fairness ratio. */
  median: { rssMB: number; maxBlockMs: number; idleCpuPct: number; echoRatio: number; connectsPerSec: number; fairnessRatio: number; aloneP99Us: number; floodedP99Us: number };
}

const HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sessions', 'host.js');

/** Options of {@link benchSessions}. */
export interface SessionBenchOptions {
  runs: number;
  count: number;
  echoRounds: number;
  warmup: number;
  connects: number;
  lightRounds: number;
  /** A fresh folder for each run, made by the caller. */
  dir: (run: number) => string;
  fsType: string;
  sessionClient: string;
  echoClient: string;
  verbose?: boolean;
  onRun?: (run: number, figures: SessionRun) => void;
}

/** Runs the session rows; throws if a host fails (its stderr is in the message). */
export async function benchSessions(options: SessionBenchOptions): Promise<SessionBenchResult> {
  const runs: SessionRun[] = [];
  let dir = '';
  for (let run = 1; run <= options.runs; run++) {
    dir = options.dir(run);
    const args = [HOST, dir, options.count, options.echoRounds, options.warmup, options.connects, options.lightRounds].map(String);
    const host = new Proc(`sessions-${run}`, process.execPath, [...args, options.sessionClient, options.echoClient], { verbose: options.verbose });
    const figures = (await host.json(600_000)) as unknown as SessionRun;
    await host.finish(30_000);
    runs.push(figures);
    options.onRun?.(run, figures);
  }
  const m = (f: (r: SessionRun) => number): number => median(runs.map(f));
  return {
    count: options.count,
    dir: path.dirname(dir),
    fsType: options.fsType,
    runs,
    median: {
      rssMB: m((r) => r.sessions.rssMB),
      maxBlockMs: m((r) => Math.max(r.sessions.maxBlockMs, r.sessions.idleMaxBlockMs)),
      idleCpuPct: m((r) => r.sessions.idleCpuPct),
      echoRatio: m((r) => r.lone.rtps / r.sessions.echo.rtps),
      connectsPerSec: m((r) => r.connects.perSec),
      fairnessRatio: m((r) => r.fairness.floodedP99Us / r.fairness.aloneP99Us),
      aloneP99Us: m((r) => r.fairness.aloneP99Us),
      floodedP99Us: m((r) => r.fairness.floodedP99Us),
    },
  };
}
