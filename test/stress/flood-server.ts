/**
 * The server side of a flood (issue 18), in its own process so that its peak RSS is its own:
 * a server whose async `handleMessage` waits, and a Python writer that writes as fast as the
 * pipe takes. Run by {@link runFlood} (flood.ts) with the config as JSON in argv[2]; prints
 * one JSON {@link FloodResult} line on stdout.
 * @module
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { type PipeIOError, PipeIOServer, PipeReaderServer } from '../../lib/index.js';
import { clientSources, memoryOf, resetPeak, tempDir, cleanupAll } from './common.js';
import type { FloodConfig, FloodResult } from './flood.js';

const config = JSON.parse(process.argv[2] ?? '{}') as FloodConfig;
const dir = tempDir('pipe-io-flood-');
const inPipe = path.join(dir, 'in');

let pending = 0;
let maxPending = 0;
let started = 0;
let handled = 0;
let outOfOrder = 0;
const warnings: string[] = [];

/** The handler under test: `delayMs` for every `every`-th message, one event-loop turn for the others. */
async function handle(message: string): Promise<void> {
  const seq = Number(message.slice(0, 8));
  if (seq !== started) outOfOrder++;
  started++;
  if (++pending > maxPending) maxPending = pending;
  try {
    if (seq % config.every === 0) await sleep(config.delayMs);
    else await nextTurn();
  } finally {
    pending--;
    handled++;
  }
}

class FloodIO extends PipeIOServer {
  override handleMessage(message: string): Promise<void> {
    return handle(message);
  }
}
class FloodReader extends PipeReaderServer {
  override handleMessage(message: string): Promise<void> {
    return handle(message);
  }
}

// JSON has no Infinity: it arrives as null.
const concurrency = (config.concurrency as number | null | undefined) === null ? Infinity : config.concurrency;
const options = concurrency === undefined ? {} : { concurrency };
const server = config.server === 'io' ? new FloodIO(inPipe, path.join(dir, 'out'), options) : new FloodReader(inPipe, options);
server.on('warning', (error: PipeIOError) => {
  if (warnings.length < 10) warnings.push(`${error.code}: ${error.message}`);
});

await server.start();
(globalThis as { gc?: () => void }).gc?.();
resetPeak();
const idleRss = memoryOf('self').rss;
const began = performance.now();

const writer = spawn('python3', [path.join(clientSources, 'flood_writer.py'), inPipe, String(config.lines), String(config.bytes)], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let writerOutput = '';
writer.stdout.setEncoding('utf8').on('data', (text: string) => (writerOutput += text));
writer.stderr.setEncoding('utf8').on('data', (text: string) => (writerOutput += text));
const writerExit = new Promise<{ code: number | null; handledAtExit: number; ms: number }>((resolve) => {
  writer.on('exit', (code) => resolve({ code, handledAtExit: handled, ms: performance.now() - began }));
});

const deadline = began + config.timeoutMs;
while (handled < config.lines && performance.now() < deadline) await sleep(20);
const handlersMs = performance.now() - began;
const peakRss = memoryOf('self').peak;
const exit = await Promise.race([writerExit, sleep(1000).then(() => undefined)]);
if (exit === undefined) writer.kill('SIGKILL');
const stopping = performance.now();
await server.stop();
const stopMs = performance.now() - stopping;
cleanupAll();

const result: FloodResult = {
  handled,
  maxPending,
  outOfOrder,
  writerCode: exit?.code ?? null,
  writerOutput: writerOutput.trim().slice(-300),
  handledAtWriterExit: exit?.handledAtExit ?? -1,
  writerMs: Math.round(exit?.ms ?? -1),
  handlersMs: Math.round(handlersMs),
  stopMs: Math.round(stopMs),
  idleRss,
  peakRss,
  warnings,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
