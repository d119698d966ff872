/**
 * The bridge against a real redis-server (started by the test, on a free loopback port).
 * Skipped with a message when redis-server is missing, unless CI=true: then it fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { createClient } from 'redis';
import { BridgeError, PipeBridge, type PipeBridgeOptions, RedisTransport, type TransportState, pull, push } from '../lib/index.js';
import { RedisServer, ReplyDropProxy, redisForSuite } from './helpers/redis.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI_MODULE = path.resolve(here, '../lib/cli/bridge.js');

/** 63 characters + newline: the 64-byte lines of the brief. */
const line = (i: number): string => `m${String(i).padStart(6, '0')}-${'x'.repeat(55)}`;
const TOKEN = /m\d{6}-x{55}/g;
const range = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => line(from + i));

/** Runs one command of lib/cli/bridge.ts the way the dispatcher would, in a child process we can SIGKILL. */
const CLI_CHILD = `
const [modulePath, name, ...args] = process.argv.slice(1);
const cli = await import(modulePath);
const command = { bridge: cli.command, push: cli.pushCommand, pull: cli.pullCommand }[name];
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => controller.abort(signal));
const status = await command.run(args, { name, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
process.exit(status);
`;

/** Lines a child prints on stdout, with a way to wait for enough of them. */
class Output {
  readonly lines: string[] = [];
  stderr = '';
  #partial = '';
  #wake: (() => void) | undefined;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
      this.#wake?.();
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-4000)));
  }

  /** Every 64-byte message token seen, also inside a line torn by a writer that died mid-write. */
  get tokens(): string[] {
    return this.lines.flatMap((each) => each.match(TOKEN) ?? []);
  }

  async until(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (have ${this.lines.length} lines)${this.stderr ? `; stderr: ${this.stderr}` : ''}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

function counts(tokens: readonly string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const token of tokens) seen.set(token, (seen.get(token) ?? 0) + 1);
  return seen;
}

async function until(what: string, test: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('bridge: FIFO pairs across machines through Redis Streams', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let dir: string;
  let topic: string;
  let topicCount = 0;
  const bridges: PipeBridge[] = [];
  const children = new Set<ChildProcess>();
  const cleanups: Array<() => unknown> = [];

  redisForSuite((server) => (redis = server));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-bridge-test-'));
    topic = `t${++topicCount}-${process.pid}`;
  });

  afterEach(async () => {
    for (const child of children) kill(child);
    children.clear();
    await Promise.all(bridges.splice(0).map((bridge) => bridge.stop()));
    for (const cleanup of cleanups.splice(0)) await cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Kills a child and whatever it started (its process group), by id. */
  function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  }

  function sh(script: string, ...args: string[]): Output {
    const child = spawn('bash', ['-c', script, 'bash', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    return new Output(child);
  }

  function cli(name: string, ...args: string[]): Output {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CLI_CHILD, '--', CLI_MODULE, name, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    children.add(child);
    return new Output(child);
  }

  const exited = (child: ChildProcess): Promise<number | null> =>
    child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));

  /** A bridge in this process, watched: its warnings and states are recorded. */
  async function bridge(options: Omit<PipeBridgeOptions, 'redis'> & { redisUrl?: string }) {
    const b = new PipeBridge({ redis: options.redisUrl ?? redis.url, ...options });
    const warnings: Array<Error & { code?: string }> = [];
    const states: TransportState[] = [];
    b.on('warning', (error) => warnings.push(error));
    b.on('state', (state) => states.push(state));
    bridges.push(b);
    await b.start();
    return { bridge: b, warnings, states };
  }

  async function redisClient(url = redis.url) {
    const client = createClient({ url, RESP: 2 });
    client.on('error', () => {});
    await client.connect();
    cleanups.push(() => client.destroy());
    return client;
  }

  it('two hosts: 10,000 lines from a bash writer on one reach a bash reader on the other, in order', async function () {
    const N = 10_000;
    const a = await bridge({ topic, inPipe: path.join(dir, 'a.in'), outPipe: path.join(dir, 'a.out'), name: 'host-a' });
    const b = await bridge({ topic, inPipe: path.join(dir, 'b.in'), outPipe: path.join(dir, 'b.out'), name: 'host-b' });
    const reader = sh('while IFS= read -r line; do printf "%s\\n" "$line"; done <"$1"', path.join(dir, 'b.out'));
    const writer = sh(`exec 3>"$1"; for ((i = 0; i < ${N}; i++)); do printf 'm%06d-%s\\n' "$i" "$2" >&3; done`, path.join(dir, 'a.in'), 'x'.repeat(55));
    await reader.until(`${N} lines on host b`, () => reader.lines.length >= N, 25_000);
    expect(await exited(writer.child)).to.equal(0);
    expect(reader.lines).to.deep.equal(range(N));
    expect(a.bridge.stats.appended).to.equal(N);
    expect(b.bridge.stats.delivered).to.equal(N);
    expect([...a.warnings, ...b.warnings].map((w) => w.message)).to.deep.equal([]);
  });

  it('queue mode: three bridges share the work, nothing lost or doubled', async function () {
    const N = 6000;
    const workers = await Promise.all(
      [1, 2, 3].map((k) => bridge({ topic, group: 'workers', name: `w${k}`, outPipe: path.join(dir, `w${k}.out`), batchSize: 100 })),
    );
    const readers = [1, 2, 3].map((k) => sh('exec cat "$1"', path.join(dir, `w${k}.out`)));
    for (let i = 0; i < N; i += 200) {
      await push(topic, range(200, i), { redis: redis.url });
      await sleep(5);
    }
    const all = (): string[] => readers.flatMap((reader) => reader.lines);
    await until('all messages delivered', () => all().length >= N, 20_000);
    await sleep(300); // a doubled message would show up now
    const seen = counts(all());
    expect(seen.size, 'distinct messages').to.equal(N);
    expect([...seen.values()].every((n) => n === 1), 'none delivered twice').to.equal(true);
    for (const reader of readers) expect(reader.lines.length, 'every bridge got a share').to.be.greaterThan(0);
    // Each bridge's share is in topic order.
    for (const reader of readers) expect(reader.lines).to.deep.equal([...reader.lines].sort());
    const client = await redisClient();
    const pending = (await client.sendCommand(['XPENDING', topic, 'workers'])) as [number];
    await client.close();
    expect(Number(pending[0]), 'all acknowledged').to.equal(0);
    expect(workers.flatMap((w) => w.warnings)).to.deep.equal([]);
  });

  for (const mode of ['queue', 'broadcast'] as const) {
    it(`${mode}: a bridge killed with SIGKILL mid-stream and restarted loses nothing`, async function () {
      const N = 4000;
      const out = path.join(dir, 'b.out');
      const args = ['--redis', redis.url, '--topic', topic, '--out', out, '--name', 'b1', ...(mode === 'queue' ? ['--group', 'g'] : [])];
      let child = cli('bridge', ...args);
      await child.until('the bridge to be ready', () => child.lines.some((l) => l.startsWith('out:')), 10_000);
      // Reopens the pipe after each end of stream: the restarted bridge takes the same FIFO over.
      const reader = sh('while :; do cat "$1" || sleep 0.05; done', out);
      const producing = (async () => {
        for (let i = 0; i < N; i += 100) {
          await push(topic, range(100, i), { redis: redis.url });
          await sleep(10);
        }
      })();
      await reader.until('the stream to be flowing', () => reader.tokens.length >= 800, 10_000);
      // A stalled local reader: the pipe fills and the bridge is left with a batch in hand, not yet in the pipe.
      kill(reader.child, 'SIGSTOP');
      await sleep(700);
      const client = await redisClient();
      const held = mode === 'queue' ? ((await client.sendCommand(['XPENDING', topic, 'g', '-', '+', '10000', 'b1'])) as unknown[]).length : undefined;
      kill(child.child);
      await exited(child.child);
      kill(reader.child, 'SIGCONT');
      await sleep(300);
      const beforeRestart = new Set(reader.tokens).size;
      child = cli('bridge', ...args);
      await producing;
      await reader.until(`all ${N} messages`, () => new Set(reader.tokens).size >= N, 20_000);
      await sleep(200);
      const seen = counts(reader.tokens);
      expect(beforeRestart, 'killed mid-stream').to.be.lessThan(N);
      if (held !== undefined) expect(held, 'entries in hand when killed').to.be.greaterThan(0);
      expect([...seen.keys()].sort()).to.deep.equal(range(N));
      // What it had in hand and not yet acknowledged comes again: at most a batch or two.
      const doubled = [...seen.values()].filter((n) => n > 1).length;
      expect(doubled, 'messages delivered twice').to.be.at.most(1024);
      kill(child.child, 'SIGTERM');
      expect(await exited(child.child)).to.equal(0);
    });
  }

  it('queue mode: a live slow member keeps its entries; a dead one\'s go to the others (XAUTOCLAIM)', async function () {
    const outC = path.join(dir, 'c.out');
    const c = cli('bridge', '--redis', redis.url, '--topic', topic, '--group', 'g', '--name', 'c', '--out', outC, '--claim-idle', '1000');
    await c.until('bridge c to be ready', () => c.lines.some((l) => l.startsWith('out:')), 10_000);
    // A reader that never reads: c fills its pipe, then holds a batch it cannot write.
    const parked = fs.openSync(outC, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    cleanups.push(() => fs.closeSync(parked));
    await push(topic, range(2000), { redis: redis.url });
    const client = await redisClient();
    const heldByC = async (): Promise<string[]> => {
      const rows = (await client.sendCommand(['XPENDING', topic, 'g', '-', '+', '10000', 'c'])) as Buffer[][];
      return rows.map((row) => String(row[0]));
    };
    let held: string[] = [];
    await until('c to be stuck with entries in hand', async () => {
      const now = await heldByC();
      const stuck = now.length > 0 && now.join() === held.join();
      held = now;
      if (!stuck) await sleep(200);
      return stuck;
    }, 10_000);

    const peers = await Promise.all(['a', 'b'].map((name) => bridge({ topic, group: 'g', name, outPipe: path.join(dir, `${name}.out`), claimIdleMs: 1000 })));
    const readers = ['a', 'b'].map((name) => sh('exec cat "$1"', path.join(dir, `${name}.out`)));
    // Well past the claim timeout: c is slow, not dead, and says so; its entries stay its own.
    await sleep(2500);
    expect(await heldByC(), 'a live member keeps what it holds').to.deep.equal(held);

    kill(c.child);
    await exited(c.child);
    // Lines c had put into its pipe were delivered (that is the acknowledgement point): read them now.
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(65536);
    for (;;) {
      let n = 0;
      try {
        n = fs.readSync(parked, buffer);
      } catch {
        break;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    const fromC = Buffer.concat(chunks).toString().match(TOKEN) ?? [];
    await push(topic, range(2000, 2000), { redis: redis.url });
    const all = (): string[] => [...fromC, ...readers.flatMap((r) => r.lines)];
    await until('every message delivered somewhere', () => new Set(all()).size >= 4000, 15_000);
    expect([...new Set(all())].sort()).to.deep.equal(range(4000));
    const doubled = [...counts(all()).values()].filter((n) => n > 1).length;
    expect(doubled).to.be.at.most(held.length);
    await until('nothing left pending', async () => Number(((await client.sendCommand(['XPENDING', topic, 'g'])) as [number])[0]) === 0, 5000);
    expect(peers.flatMap((p) => p.warnings)).to.deep.equal([]);
  });

  it('a reply lost with the connection: the append is not doubled, the read entries not lost', async function () {
    const proxy = await ReplyDropProxy.start(redis.port);
    cleanups.push(() => proxy.close());
    const transport = new RedisTransport({ url: proxy.url });
    const warnings: Error[] = [];
    transport.on('warning', (error) => warnings.push(error));
    cleanups.push(() => transport.close());
    await transport.append(topic, ['a1']);
    proxy.dropReplyTo('EVALSHA');
    await transport.append(topic, ['b1', 'b2', 'b3']);
    await transport.append(topic, ['c1']);
    expect(proxy.dropped, 'a reply was dropped').to.equal(1);
    const client = await redisClient();
    const entries = (await client.sendCommand(['XRANGE', topic, '-', '+'])) as Array<[Buffer, Buffer[]]>;
    expect(entries.map(([, fields]) => String(fields[1]))).to.deep.equal(['a1', 'b1', 'b2', 'b3', 'c1']);

    const reader = await transport.subscribe({ mode: 'queue', topic, group: 'g', consumer: 'r', from: 'new' });
    expect(await reader.read({ count: 10, blockMs: 10 })).to.deep.equal([]);
    await push(topic, ['x1', 'x2'], { redis: redis.url });
    // The '>' argument of XREADGROUP in RESP: the read that takes new entries.
    proxy.dropReplyTo('$1\r\n>\r\n');
    const read = await reader.read({ count: 10, blockMs: 1000 });
    expect(proxy.dropped).to.equal(2);
    expect(read.map((entry) => Buffer.from(entry.payload!).toString())).to.deep.equal(['x1', 'x2']);
    await reader.ack(read.map((entry) => entry.id));
    expect(Number(((await client.sendCommand(['XPENDING', topic, 'g'])) as [number])[0])).to.equal(0);
    expect(warnings.map((w) => (w as BridgeError).code)).to.include('ERR_BRIDGE_CONNECTION');
  });

  it('Redis restarted mid-stream (appendonly): reconnects, nothing lost or doubled', async function () {
    const durable = await RedisServer.start({ appendonly: true });
    try {
      const N = 6000;
      const a = await bridge({ topic, inPipe: path.join(dir, 'a.in'), name: 'a', redisUrl: durable.url });
      const b = await bridge({ topic, outPipe: path.join(dir, 'b.out'), name: 'b', redisUrl: durable.url });
      const reader = sh('exec cat "$1"', path.join(dir, 'b.out'));
      // Paced, so that lines are on their way in both directions when Redis dies.
      sh(`exec 3>"$1"; for ((i = 0; i < ${N}; i++)); do printf 'm%06d-%s\\n' "$i" "$2" >&3; ((i % 300 == 299)) && sleep 0.02; done`, path.join(dir, 'a.in'), 'x'.repeat(55));
      await reader.until('the stream to be flowing', () => reader.lines.length >= 1000, 10_000);
      await durable.kill();
      const atKill = reader.lines.length;
      await sleep(300);
      await durable.restart();
      await reader.until(`all ${N} lines`, () => reader.lines.length >= N, 20_000);
      await sleep(300);
      expect(atKill, 'Redis died mid-stream').to.be.lessThan(N);
      expect(reader.lines).to.deep.equal(range(N));
      for (const side of [a, b]) {
        expect(side.states, 'state events').to.include.members(['reconnecting', 'ready']);
        expect(side.states.lastIndexOf('ready')).to.be.greaterThan(side.states.indexOf('reconnecting'));
        expect(side.warnings.map((w) => w.code)).to.include('ERR_BRIDGE_CONNECTION');
      }
    } finally {
      await Promise.all(bridges.splice(0).map((each) => each.stop()));
      await durable.stop();
    }
  });

  it('Redis unreachable: the bridge stops reading its in pipe (the writer blocks) instead of buffering', async function () {
    const N = 50_000;
    const server = await RedisServer.start();
    cleanups.push(() => server.stop());
    await bridge({ topic, inPipe: path.join(dir, 'a.in'), name: 'a', redisUrl: server.url });
    const b = await bridge({ topic, outPipe: path.join(dir, 'b.out'), name: 'b', redisUrl: server.url });
    const reader = sh('exec cat "$1"', path.join(dir, 'b.out'));
    await server.kill();
    const writer = sh(`exec 3>"$1"; for ((i = 0; i < ${N}; i++)); do printf 'm%06d-%s\\n' "$i" "$2" >&3; done`, path.join(dir, 'a.in'), 'x'.repeat(55));
    await sleep(1500);
    // 3.2 MB that the bridge would have swallowed in well under a second: it holds ~2000 lines, the pipe the rest.
    expect(writer.child.exitCode, 'the writer is held back').to.equal(null);
    await server.restart();
    await reader.until(`all ${N} lines`, () => reader.lines.length >= N, 20_000);
    expect(await exited(writer.child)).to.equal(0);
    expect(reader.lines).to.deep.equal(range(N));
    expect(b.states).to.include('reconnecting');
  });

  it('malformed and oversized entries are reported and skipped (acknowledged), never crash', async function () {
    const queue = await bridge({ topic, group: 'g', name: 'q', outPipe: path.join(dir, 'q.out'), maxMessageBytes: 100 });
    const broadcast = await bridge({ topic, name: 'bc', outPipe: path.join(dir, 'bc.out'), maxMessageBytes: 100 });
    const readers = ['q', 'bc'].map((name) => sh('exec cat "$1"', path.join(dir, `${name}.out`)));
    const client = await redisClient();
    const add = (...fields: Array<string | Buffer>) => client.sendCommand(['XADD', topic, '*', ...fields]);
    await add('message', 'first');
    await add('other', 'no message field');
    await add('message', Buffer.from([0x66, 0xff, 0xfe, 0x6f])); // not UTF-8
    await add('message', 'y'.repeat(101)); // over maxMessageBytes
    await add('message', 'two\nlines');
    const lastId = String(await add('message', 'last'));
    for (const reader of readers) {
      await reader.until('the good messages', () => reader.lines.length >= 2, 10_000);
      expect(reader.lines).to.deep.equal(['first', 'last']);
    }
    for (const side of [queue, broadcast]) {
      const malformed = side.warnings.filter((w) => w instanceof BridgeError && w.code === 'ERR_BRIDGE_MALFORMED');
      expect(malformed.map((w) => w.message.replace(/^Entry \S+ of '\S+' /, ''))).to.deep.equal([
        'has no message field; it was skipped.',
        'is not a UTF-8 string; it was skipped.',
        'is 101 bytes long, more than maxMessageBytes (100); it was skipped.',
        'contains a newline; it was skipped.',
      ]);
      expect(side.bridge.stats).to.deep.include({ delivered: 2, skipped: 4 });
      expect(side.bridge.state).to.equal('running');
    }
    await until('the queue to acknowledge all', async () => Number(((await client.sendCommand(['XPENDING', topic, 'g'])) as [number])[0]) === 0, 5000);
    await until('the broadcast position to pass them', async () => String(await client.sendCommand(['GET', `pipe-io:position:${topic}:bc`])) === lastId, 5000);
    await client.close();
  });

  it('a slow local reader holds the bridge back: bounded memory, then everything in order', async function () {
    const N = 3000;
    const big = (i: number): string => `${line(i)}-${'z'.repeat(936)}`; // 1000 bytes
    const out = path.join(dir, 'slow.out');
    const slow = await bridge({ topic, outPipe: out, name: 'slow', highWaterMark: 64 * 1024, batchSize: 50 });
    for (let i = 0; i < N; i += 500) await push(topic, Array.from({ length: 500 }, (_, k) => big(i + k)), { redis: redis.url });
    await sleep(1000);
    const { delivered } = slow.bridge.stats;
    // The pipe takes 64 KiB, the queue one batch: nothing like the 3 MB waiting in Redis.
    expect(delivered, 'delivered with nobody reading').to.be.at.most(200);
    expect(slow.bridge.queuedBytes).to.be.at.most(64 * 1024 + 50 * 1001);
    const reader = sh('exec cat "$1"', out);
    await reader.until('all messages', () => reader.lines.length >= N, 20_000);
    expect(reader.lines).to.deep.equal(Array.from({ length: N }, (_, i) => big(i)));
  });

  it('push() and pull(): Node code on a topic without pipes', async function () {
    const url = redis.url;
    await push(topic, range(100), { redis: url });
    await push(topic, line(100), { redis: url });
    // Broadcast from the start: all of it, in order.
    const got: string[] = [];
    for await (const message of pull(topic, { redis: url, from: 'start' })) {
      got.push(message);
      if (got.length === 101) break;
    }
    expect(got).to.deep.equal(range(101));
    // A group: two pullers share the messages, each once.
    const controller = new AbortController();
    const shares: string[][] = [[], []];
    const pullers = shares.map(async (share, k) => {
      for await (const message of pull(topic, { redis: url, group: 'g', name: `p${k}`, from: 'start', batchSize: 10, signal: controller.signal })) {
        share.push(message);
        await sleep(1);
      }
    });
    await until('the group to have it all', () => shares[0]!.length + shares[1]!.length >= 101, 10_000);
    controller.abort();
    await Promise.all(pullers);
    expect([...shares[0]!, ...shares[1]!].sort()).to.deep.equal(range(101));
    let rejected: unknown;
    await push(topic, 'two\nlines', { redis: url }).catch((error: unknown) => (rejected = error));
    expect(rejected).to.be.instanceOf(TypeError);
  });

  it('command line: push and pull, and a bridge that cannot reach Redis says so', async function () {
    const pushed = cli('push', '--redis', redis.url, topic, 'hello', 'world');
    expect(await exited(pushed.child), pushed.stderr).to.equal(0);
    const fromStdin = cli('push', '--redis', redis.url, topic);
    fromStdin.child.stdin!.end('one\ntwo\n');
    expect(await exited(fromStdin.child), fromStdin.stderr).to.equal(0);
    const puller = cli('pull', '--redis', redis.url, '--from', 'start', topic);
    await puller.until('four messages', () => puller.lines.length >= 4, 10_000);
    expect(puller.lines).to.deep.equal(['hello', 'world', 'one', 'two']);
    kill(puller.child, 'SIGTERM');
    expect(await exited(puller.child)).to.equal(0);

    // Nothing listens on port 1: the bridge gives up after its connect timeout, with a clear message.
    const b = new PipeBridge({ topic, outPipe: path.join(dir, 'x.out'), redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 } });
    b.on('warning', () => {});
    const states: TransportState[] = [];
    b.on('state', (state) => states.push(state));
    let failure: unknown;
    await b.start().catch((error: unknown) => (failure = error));
    expect(failure).to.be.instanceOf(BridgeError);
    expect((failure as BridgeError).code).to.equal('ERR_BRIDGE_CONNECT');
    expect(fs.existsSync(path.join(dir, 'x.out')), 'no pipe left behind').to.equal(false);
    // A state report never claims a connection that did not happen, however the attempt ended.
    expect(states, 'states reported').to.not.include('ready');
    expect(states.at(-1)).to.equal('closed');

    // The same through the command, stopped by SIGTERM while it still tries: no 'redis ready' either.
    const unreachable = cli('bridge', '--redis', 'redis://127.0.0.1:1', '--topic', topic, '--out', path.join(dir, 'y.out'));
    await unreachable.until('the warning', () => unreachable.stderr.includes('Cannot reach Redis'), 10_000);
    const stopAt = Date.now();
    kill(unreachable.child, 'SIGTERM');
    await exited(unreachable.child);
    expect(unreachable.stderr).to.include('redis closed').and.not.include('redis ready');
    // stop() during start() cancels the connect instead of waiting out its 10 s timeout.
    expect(Date.now() - stopAt, 'exit after SIGTERM (ms)').to.be.below(3000);
    expect(fs.existsSync(path.join(dir, 'y.out')), 'no pipe left behind').to.equal(false);

    // The same in the API: stop() while start() waits for Redis settles both at once.
    const pending = new PipeBridge({ topic, outPipe: path.join(dir, 'z.out'), redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 10_000 } });
    pending.on('warning', () => {});
    const starting = pending.start().catch((error: unknown) => error);
    await sleep(200);
    const stopStarted = Date.now();
    await pending.stop();
    expect(Date.now() - stopStarted, 'stop() during start() (ms)').to.be.below(2000);
    expect(((await starting) as BridgeError).code).to.equal('ERR_SERVER_STOPPED');
    expect(pending.state).to.equal('stopped');
  });
});
