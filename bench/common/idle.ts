import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** What servers cost while nothing is sent: over `ms`, the CPU used (% of a core) and the longest event-loop block. */
export async function measureIdle(ms = 1000): Promise<{ cpuPct: number; maxBlockMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const cpu0 = process.cpuUsage();
  await sleep(ms);
  const cpu = process.cpuUsage(cpu0);
  histogram.disable();
  return { cpuPct: ((cpu.user + cpu.system) / (ms * 1000)) * 100, maxBlockMs: histogram.max / 1e6 };
}
