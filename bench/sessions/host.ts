/**
 * The session bench's host (issue 11): one process with the servers, C clients around it.
 *
 *   node dist/bench/sessions/host.js DIR COUNT ECHO_M WARMUP CONNECTS LIGHT_M SESSION_CLIENT ECHO_CLIENT
 *
 * 1. lone     a PipeIOServer echo, and the C echo client on it (the reference round trip).
 * 2. sessions a PipeSessionServer echo in DIR/s; the C client opens COUNT - 1 idle sessions
 *             (RSS, the longest event-loop block from the first connect to the end of an idle
 *             second, idle CPU), then echo on one more session while they idle.
 * 3. connects CONNECTS sessions opened and closed by 4 C connectors at once: sessions/s.
 * 4. fairness 10 light C clients, LIGHT_M round trips each, alone and then beside a C client
 *             that sends 64-byte lines as fast as it can (which the server counts and drops):
 *             each light client's p99; the median of the 10 p99s, flooded over alone.
 * Prints one JSON line.
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipeIOServer, PipeSessionServer } from '../../lib/index.js';
import { Proc } from '../common/proc.js';
import { measureIdle } from '../common/idle.js';
import { median } from '../common/stats.js';

const [dir, countArg, echoArg, warmArg, connectsArg, lightArg, sessionClient, echoClient] = process.argv.slice(2);
if (!dir || !sessionClient || !echoClient) {
  process.stderr.write('usage: host DIR COUNT ECHO_M WARMUP CONNECTS LIGHT_M SESSION_CLIENT ECHO_CLIENT\n');
  process.exit(2);
}
const count = Number(countArg);
const echoM = Number(echoArg);
const warmup = Number(warmArg);
const connects = Number(connectsArg);
const lightM = Number(lightArg);
const MB = 1024 * 1024;

async function runJson(name: string, command: string, args: string[]): Promise<Record<string, number>> {
  const proc = new Proc(name, command, args);
  const figures = await proc.json(300_000);
  await proc.finish(10_000);
  return figures;
}

// 1. The lone PipeIOServer.
const lone = new PipeIOServer(`${dir}/lone.in`, `${dir}/lone.out`);
lone.on('message', (m) => lone.send(m));
await lone.start();
const loneEcho = await runJson('lone echo', echoClient, [`fifo:${dir}/lone.in,${dir}/lone.out`, String(echoM), String(warmup)]);
await lone.stop();

// 2. Many sessions.
await sleep(100);
const rssBefore = process.memoryUsage().rss;
let flood = 0;
const server = new PipeSessionServer(`${dir}/s`, { maxSessions: count + 20 });
server.on('warning', (error) => process.stderr.write(`warning: ${error.message}\n`));
server.on('session', (session) => {
  session.on('message', (m) => {
    if (m.startsWith('flood')) flood++;
    else void session.send(m).catch(() => {});
  });
});
await server.start();
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
const t0 = performance.now();
const holder = new Proc('holder', sessionClient, ['hold', `${dir}/s`, String(count - 1)]);
await holder.expect('OPEN', 300_000);
const connectAllMs = performance.now() - t0;
await sleep(300);
const rss = process.memoryUsage().rss;
const idle = await measureIdle();
histogram.disable();
const sessionEcho = await runJson('session echo', sessionClient, ['echo', `${dir}/s`, String(echoM), String(warmup)]);
const open = server.sessions.size;
await holder.close(60_000);
await new Promise<void>((resolve) => {
  const check = (): void => (server.sessions.size === 0 ? resolve() : void setTimeout(check, 10));
  check();
});

// 3. Connects per second, 4 connectors at once.
const connectors = Array.from({ length: 4 }, (_, i) => runJson(`connector ${i}`, sessionClient, ['connect', `${dir}/s`, String(Math.ceil(connects / 4))]));
const c0 = performance.now();
await Promise.all(connectors);
const connectMs = performance.now() - c0;

// 4. Fairness.
async function light(): Promise<number[]> {
  const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => runJson(`light ${i}`, sessionClient, ['echo', `${dir}/s`, String(lightM), String(Math.min(500, lightM))])));
  return runs.map((r) => r.p99_us!);
}
const alone = await light();
const flooder = new Proc('flooder', sessionClient, ['flood', `${dir}/s`]);
await flooder.expect('OPEN', 30_000);
const before = flood;
const f0 = performance.now();
const flooded = await light();
const floodRate = ((flood - before) / (performance.now() - f0)) * 1000;
flooder.kill();
await flooder.exited;
await server.stop();

const ns = (h: { max: number }): number => Math.round(h.max / 1e4) / 100;
process.stdout.write(
  JSON.stringify({
    count: open,
    lone: { rtps: loneEcho.rtps, p50_us: loneEcho.p50_us, p99_us: loneEcho.p99_us },
    sessions: {
      connectAllMs: Math.round(connectAllMs),
      maxBlockMs: ns(histogram),
      rssMB: Math.round((rss / MB) * 10) / 10,
      rssBeforeMB: Math.round((rssBefore / MB) * 10) / 10,
      idleCpuPct: Math.round(idle.cpuPct * 10) / 10,
      idleMaxBlockMs: Math.round(idle.maxBlockMs * 100) / 100,
      echo: { rtps: sessionEcho.rtps, p50_us: sessionEcho.p50_us, p99_us: sessionEcho.p99_us },
    },
    connects: { n: Math.ceil(connects / 4) * 4, ms: Math.round(connectMs), perSec: Math.round((Math.ceil(connects / 4) * 4 * 1000) / connectMs) },
    fairness: { aloneP99Us: median(alone), floodedP99Us: median(flooded), floodedMaxP99Us: Math.max(...flooded), floodLinesPerSec: Math.round(floodRate) },
  }) + '\n',
);
