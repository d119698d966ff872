/**
 * A PipeIOServer in its own process, for the rows that kill the server, measure its memory, or
 * need it apart from the harness. Driven over IPC by {@link ServerChild} (common.ts): every
 * request `{ id, op, … }` gets an answer `{ id, … }` or `{ id, error }`.
 * @module
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import { PipeIOServer, type PipeIOError } from '../../lib/index.js';
import { type ChildConfig, Ledger, makeMessage, memoryOf, resetPeak } from './common.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const server = new PipeIOServer(config.inPipe, config.outPipe, config.options ?? {});
const ledger = new Ledger();
const warnings: string[] = [];
let warningCount = 0;
let oversize = 0;
let messages = 0;
let empties = 0;
const collected: Array<string | { length: number; sha1: string; head: string }> = [];
const echoMarker = config.echoPrefix === undefined ? undefined : `M${config.echoPrefix}`;
let echoRejected = 0;
let resolved = 0;
let rejected = 0;
let queuedMax = 0;

server.on('message', (message) => {
  messages++;
  if (config.collect) {
    if (message === '') empties++;
    else if (collected.length < 1000) {
      collected.push(
        message.length <= 256
          ? message
          : { length: Buffer.byteLength(message), sha1: createHash('sha1').update(message).digest('hex'), head: message.slice(0, 32) },
      );
    }
    return;
  }
  if (echoMarker !== undefined && message.startsWith(echoMarker)) {
    server.send(message).catch(() => echoRejected++);
    return;
  }
  ledger.add(message);
});
server.on('oversize', () => oversize++);
server.on('warning', (error: PipeIOError) => {
  warningCount++;
  if (warnings.length < 20) warnings.push(`${error.code}: ${error.message}`);
});
if (config.lag) {
  // Never read: after 1024 messages the server pauses reading, the kernel buffer fills, clients block in write().
  void server.messages();
}

function stats(): Record<string, unknown> {
  const memory = memoryOf('self');
  return {
    ledger: ledger.summary(),
    messages,
    empties,
    collected,
    oversize,
    warnings,
    warningCount,
    echoRejected,
    resolved,
    rejected,
    queuedBytes: server.queuedBytes,
    queuedMax,
    needsDrain: server.needsDrain,
    state: server.state,
    rss: memory.rss,
    peak: memory.peak,
    heapUsed: process.memoryUsage().heapUsed,
  };
}

function isFifo(path: string): boolean {
  try {
    return fs.lstatSync(path).isFIFO();
  } catch {
    return false;
  }
}

async function produce(request: { src: string; count: number; size: number; mode: string; settleMs?: number }): Promise<Record<string, unknown>> {
  const { src, count, size, mode } = request;
  resolved = 0;
  rejected = 0;
  queuedMax = 0;
  const onResolve = (): void => void resolved++;
  const onReject = (): void => void rejected++;
  const started = performance.now();
  if (mode === 'unawaited') {
    // Every send() in one go, nothing awaited: the worst case for memory.
    for (let i = 0; i < count; i++) server.send(makeMessage(src, i, size)).then(onResolve, onReject);
    queuedMax = server.queuedBytes;
  } else if (mode === 'drain') {
    for (let i = 0; i < count; i++) {
      server.send(makeMessage(src, i, size)).then(onResolve, onReject);
      if (server.needsDrain) {
        queuedMax = Math.max(queuedMax, server.queuedBytes);
        const [, stopped] = await Promise.race([once(server, 'drain').then(() => [true, false]), once(server, 'close').then(() => [false, true])]);
        if (stopped) break;
      }
    }
  } else if (mode === 'await') {
    for (let i = 0; i < count; i++) {
      try {
        await server.send(makeMessage(src, i, size));
        resolved++;
      } catch {
        rejected++;
        break;
      }
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  const sentMs = performance.now() - started;
  const afterSends = memoryOf('self');
  const settleBy = performance.now() + (request.settleMs ?? 600_000);
  while (resolved + rejected < count && performance.now() < settleBy && server.state === 'running') {
    queuedMax = Math.max(queuedMax, server.queuedBytes);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { sentMs, settledMs: performance.now() - started, afterSends: afterSends.rss, ...stats() };
}

async function handle(request: { id: number; op: string } & Record<string, unknown>): Promise<Record<string, unknown>> {
  switch (request.op) {
    case 'start': {
      const stale = { in: isFifo(config.inPipe), out: isFifo(config.outPipe) };
      const inode = (path: string): number | undefined => (isFifo(path) ? fs.lstatSync(path).ino : undefined);
      const before = { in: inode(config.inPipe), out: inode(config.outPipe) };
      const started = performance.now();
      await server.start();
      const ms = performance.now() - started;
      const reused = { in: before.in !== undefined && before.in === inode(config.inPipe), out: before.out !== undefined && before.out === inode(config.outPipe) };
      return { ms, stale, reused };
    }
    case 'stop': {
      const started = performance.now();
      await server.stop();
      return { ms: performance.now() - started };
    }
    case 'stats':
      return stats();
    case 'gc':
      (globalThis as { gc?: () => void }).gc?.();
      return { rss: memoryOf('self').rss, heapUsed: process.memoryUsage().heapUsed };
    case 'resetPeak':
      (globalThis as { gc?: () => void }).gc?.();
      return { ok: resetPeak(), ...memoryOf('self'), heapUsed: process.memoryUsage().heapUsed };
    case 'produce':
      return produce(request as never);
    case 'exit':
      await server.stop();
      setImmediate(() => process.exit(0));
      return {};
    default:
      throw new Error(`unknown op ${request.op}`);
  }
}

process.on('message', (request: { id: number; op: string } & Record<string, unknown>) => {
  handle(request).then(
    (answer) => process.send!({ id: request.id, ...answer }),
    (error: unknown) => process.send!({ id: request.id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
  );
});
// The parent is the only reason to live.
process.on('disconnect', () => process.exit(0));
