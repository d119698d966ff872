/**
 * Scale test child: many pipe-io-server echo servers in one process.
 *
 *   node dist/bench/ours/scale.js DIR COUNT
 * Creates COUNT echo servers on DIR/s<i>.in / DIR/s<i>.out, starts them all at
 * once (constructing them and calling start() in one loop, then awaiting all),
 * and reports
 *   READY {"count","startMs","maxBlockMs","probeMaxGapMs","rssMB","rssBeforeMB","heapMB",
 *         "idleCpuPct","idleMaxBlockMs"}
 * startMs      constructing + start() of all, until every start() resolved
 * maxBlockMs   the longest event-loop block from just before the first
 *              constructor until 1 s after the last start() resolved (so the
 *              garbage the starts leave, and its collection, count too, as in
 *              a user's app; issue 14's measure): perf_hooks.monitorEventLoopDelay
 *              (1 ms resolution), max
 * probeMaxGapMs the same seen by a 1 ms setInterval probe: longest gap - 1 ms
 * rssMB        process RSS 1 s after all started (servers idle)
 * idleCpuPct   CPU time of the process in the next second, all servers idle,
 *              as % of one core
 * idleMaxBlockMs the longest event-loop block in that idle second
 * The harness then runs the C echo client against one server while the others
 * idle. On stdin close all servers are stopped and STOPPED {"stopMs"} printed.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipeIOServer } from '../../lib/index.js';
import { commands, exitAfter, status } from '../common/child.js';
import { measureIdle } from '../common/idle.js';

class Echo extends PipeIOServer {
  override handleMessage(message: string): Promise<void> {
    return this.send(message);
  }
}

const [dir, countArg] = process.argv.slice(2);
if (!dir || !countArg) {
  process.stderr.write('usage: scale DIR COUNT\n');
  process.exit(2);
}
const count = Number(countArg);
const MB = 1024 * 1024;

// Let the process settle, then measure the baseline RSS.
await sleep(100);
const rssBefore = process.memoryUsage().rss;

const histogram = monitorEventLoopDelay({ resolution: 1 });
let probeLast = performance.now();
let probeMaxGap = 0;
const probe = setInterval(() => {
  const t = performance.now();
  probeMaxGap = Math.max(probeMaxGap, t - probeLast);
  probeLast = t;
}, 1);
// Start measuring from a fresh tick.
await sleep(20);
histogram.enable();
probeLast = performance.now();
probeMaxGap = 0;

const t0 = performance.now();
const servers: Echo[] = [];
const starts: Promise<void>[] = [];
for (let i = 0; i < count; i++) {
  const server = new Echo(`${dir}/s${i}.in`, `${dir}/s${i}.out`, { permissions: 0o600, managePipes: true });
  server.on('warning', (err) => process.stderr.write(`scale server ${i} warning: ${err.message}\n`));
  servers.push(server);
  starts.push(server.start());
}
await Promise.all(starts);
const startMs = performance.now() - t0;
await sleep(1000);
histogram.disable();
clearInterval(probe);
const mem = process.memoryUsage();
// What the idle servers cost: CPU time over one second in which nothing is sent.
const idle = await measureIdle();

status('READY', {
  count,
  startMs,
  maxBlockMs: histogram.max / 1e6,
  probeMaxGapMs: Math.max(0, probeMaxGap - 1),
  rssMB: mem.rss / MB,
  rssBeforeMB: rssBefore / MB,
  heapMB: mem.heapUsed / MB,
  idleCpuPct: idle.cpuPct,
  idleMaxBlockMs: idle.maxBlockMs,
});

commands({
  onClose: () =>
    exitAfter(async () => {
      const s0 = performance.now();
      await Promise.all(servers.map((s) => s.stop()));
      status('STOPPED', { stopMs: performance.now() - s0 });
    }),
});
