/**
 * The Node client (PipeIOClient) against the real PipeIOServer: real FIFOs, no mocks.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeFifo } from '../lib/fifo.js';
import { CodecError, PipeIOClient, type PipeIOClientOptions, PipeIOError, PipeIOServer, jsonCodec, resolveCodec, textCodec } from '../lib/index.js';
import { recreated, sleep, within } from './helpers/fixtures.js';
import { MovedPipeServer, type NextPipe } from './helpers/moved-pipe.js';

/** A private folder per test, removed afterwards. */
let dir: string;
let servers: PipeIOServer[];
let clients: PipeIOClient<any>[];

function paths(): { send: string; recv: string } {
  return { send: path.join(dir, 'in'), recv: path.join(dir, 'out') };
}

/** An echo server on the test's pipes: every line comes back unchanged. */
async function echoServer(): Promise<PipeIOServer> {
  const { send, recv } = paths();
  const server = new PipeIOServer(send, recv);
  servers.push(server);
  server.on('message', (line) => void server.send(line).catch(() => {}));
  await server.start();
  return server;
}

function client<T = string>(options: PipeIOClientOptions<T> = {}): PipeIOClient<T> {
  const c = new PipeIOClient<T>({ ...paths(), ...options });
  clients.push(c);
  return c;
}

const AWKWARD = [
  '',
  ' ',
  '\t',
  'tab\tinside\t',
  '\\',
  'back\\slash \\n \\t \\\\',
  '"double" \'single\' `back`',
  '%s %d %%',
  'carriage\rreturn\r',
  'é',
  '漢字',
  '😀 👍🏽 🇫🇷',
  'é 漢字 😀',
  'x'.repeat(4095),
  'y'.repeat(64 * 1024),
  '漢字😀é'.repeat(6554), // 64 KiB of multi-byte text: chunk boundaries fall inside characters
];

function messageList(count: number): string[] {
  const list = [...AWKWARD];
  for (let i = list.length; i < count; i++) list.push(i % 3 === 0 ? AWKWARD[i % 13]! : `${i} ${AWKWARD[i % 13]}`);
  return list;
}

/** Compares without dumping 64 KiB strings into the report. */
function expectSame(actual: readonly unknown[], expected: readonly unknown[]): void {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = JSON.stringify(actual[i]);
    const e = JSON.stringify(expected[i]);
    if (a !== e) expect.fail(`message ${i} differs: got ${a?.slice(0, 80)} (${a?.length}), expected ${e?.slice(0, 80)} (${e?.length})`);
  }
}

describe('PipeIOClient', function () {
  this.timeout(30_000);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-client-test-'));
    servers = [];
    clients = [];
  });

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(servers.map((s) => s.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('makes 1,000 round trips with awkward text, a 64 KiB line and multi-byte characters', async () => {
    await echoServer();
    const c = client();
    await c.connect();
    const replies = c.messages();
    const sent = messageList(1000);
    const got: string[] = [];
    for (const message of sent) {
      await c.send(message);
      const reply = await replies.next();
      if (reply.done) expect.fail('the client ended early');
      got.push(reply.value);
    }
    expectSame(got, sent);
  });

  it('keeps order when many sends are in flight at once (including ones larger than the pipe)', async () => {
    await echoServer();
    const c = client();
    const got: string[] = [];
    c.on('message', (m) => got.push(m));
    await c.connect();
    const sent = messageList(1000);
    await Promise.all(sent.map((m) => c.send(m)));
    for (let i = 0; got.length < sent.length && i < 500; i++) await sleep(10);
    expectSame(got, sent);
  });

  it('round-trips JSON values with the json codec', async () => {
    await echoServer();
    const c = client<unknown>({ codec: 'json' });
    await c.connect();
    const values: unknown[] = [null, 0, -1.5, true, 'é 漢字 😀\t\\"', [], { a: [1, { b: 'line\nbreak' }] }, { big: 'z'.repeat(70_000) }];
    const replies = c.messages();
    for (const value of values) {
      await c.send(value);
      const reply = await replies.next();
      expect(reply.value).to.deep.equal(value);
    }
  });

  it('connects before the server exists and receives everything from its first send on', async () => {
    const c = client();
    const got: string[] = [];
    c.on('message', (m) => got.push(m));
    const connecting = c.connect();
    await sleep(300);
    expect(c.state).to.equal('connecting');
    const { send, recv } = paths();
    const server = new PipeIOServer(send, recv);
    servers.push(server);
    await server.start();
    const sent = Array.from({ length: 500 }, (_, i) => `first sends ${i}`);
    // Sent at once, without waiting for the client: it must not miss the first ones.
    const written = Promise.all(sent.map((m) => server.send(m)));
    await within(connecting, 5000, 'connect');
    await written;
    for (let i = 0; got.length < sent.length && i < 500; i++) await sleep(10);
    expect(got).to.deep.equal(sent);
  });

  it('gets lines the server sent before the client connected', async () => {
    const server = await echoServer();
    await server.send('waiting in the pipe 1');
    await server.send('waiting in the pipe 2');
    const c = client();
    await c.connect();
    const it = c.messages();
    expect((await it.next()).value).to.equal('waiting in the pipe 1');
    expect((await it.next()).value).to.equal('waiting in the pipe 2');
  });

  it('ends cleanly when the server stops: end, close, iterator done, sends refused', async () => {
    const server = await echoServer();
    const c = client();
    const events: string[] = [];
    c.on('end', () => events.push('end'));
    c.on('close', () => events.push('close'));
    await c.connect();
    const it = c.messages();
    await c.send('before stop');
    expect((await it.next()).value).to.equal('before stop');
    const next = it.next();
    await server.stop();
    expect(await within(next, 3000, 'iterator end')).to.deep.equal({ value: undefined, done: true });
    await within(c.closed, 3000, 'client closed');
    expect(events).to.deep.equal(['end', 'close']);
    expect(c.state).to.equal('closed');
    const error = await c.send('after stop').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_SERVER_STOPPED');
  });

  it('follows its out pipe deleted 10 times under traffic: every line once, in order, then ends at the stop', async () => {
    const { send, recv } = paths();
    const server = new PipeIOServer(send, recv);
    servers.push(server);
    await server.start();
    const c = client();
    const warned: Error[] = [];
    c.on('warning', (error) => warned.push(error));
    await c.connect();
    const got: string[] = [];
    const reading = (async () => {
      for await (const message of c) got.push(message);
    })();
    let count = 0;
    const sends: Promise<void>[] = [];
    const ticker = setInterval(() => sends.push(server.send(`line ${count++}`)), 10);
    try {
      for (let i = 0; i < 10; i++) {
        await sleep(40 + 10 * (i % 3));
        const back = recreated(server, 'out');
        fs.unlinkSync(recv);
        await within(back, 5000, `out pipe ${i + 1} made again`);
      }
      await sleep(50);
    } finally {
      clearInterval(ticker);
    }
    await Promise.all(sends);
    for (let i = 0; got.length < count && i < 500; i++) await sleep(10);
    expect(c.state, 'the client ended at a deletion').to.equal('open');
    expectSame(
      got,
      Array.from({ length: count }, (_, i) => `line ${i}`),
    );
    await server.stop();
    await within(reading, 3000, 'the loop ends at the stop');
    expect(c.state).to.equal('closed');
    expect(warned).to.deep.equal([]);
  });

  it('keeps sending into a deleted in pipe: the server goes on reading it while the client holds it', async () => {
    const server = await echoServer();
    const c = client();
    await c.connect();
    const it = c.messages();
    await c.send('before');
    expect((await within(it.next(), 5000, 'echo before')).value).to.equal('before');
    const back = new Promise<void>((resolve) => server.once('recreate', () => resolve()));
    fs.unlinkSync(paths().send);
    await within(back, 5000, 'in pipe made again');
    await c.send('after the in pipe was deleted');
    expect((await within(it.next(), 5000, 'echo after')).value).to.equal('after the in pipe was deleted');
    await server.stop();
    expect((await within(it.next(), 3000, 'end at the stop')).done).to.equal(true);
  });

  const nextPipes: NextPipe[] = ['own FIFO', 'symlink to own FIFO', "another user's FIFO", 'nothing'];
  for (const next of nextPipes) {
    const follows = next === 'own FIFO';
    it(`at end of stream, ${follows ? 'follows a new FIFO of the same owner at the out path, keeping the unfinished line' : `ends when the out path holds ${next}`}`, async function () {
      const moved = new MovedPipeServer(dir);
      try {
        await moved.start();
        const c = client({ send: moved.sendPath, recv: moved.recvPath });
        const warned: PipeIOError[] = [];
        c.on('warning', (error) => warned.push(error));
        await c.connect();
        await c.send('ready');
        await moved.waitForLine('ready');
        const it = c.messages();
        moved.write('line 0\npar');
        expect((await within(it.next(), 5000, 'line 0')).value).to.equal('line 0');
        if (!(await moved.move(next, 'tial\nline 1\n'))) this.skip(); // another user's FIFO needs root
        if (follows) {
          expect((await within(it.next(), 5000, 'partial')).value).to.equal('partial');
          expect((await within(it.next(), 5000, 'line 1')).value).to.equal('line 1');
          moved.stop(); // end of stream on the followed pipe, same inode at the path: the end
        }
        expect(await within(it.next(), 5000, 'end of the iterator')).to.deep.equal({ value: undefined, done: true });
        expect(c.state).to.equal('closed');
        // Not followed: the 3 bytes after the last newline are reported as cut off.
        expect(warned.map((w) => w.code)).to.deep.equal(follows ? [] : ['ERR_SERVER_STOPPED']);
      } finally {
        moved.stop();
      }
    });
  }

  it('ends cleanly when the server process is killed', async function () {
    // A server in another process, killed with SIGKILL: no stop() runs, the kernel closes its descriptors.
    const { send, recv } = paths();
    const lib = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../lib/index.js');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `import { PipeIOServer } from ${JSON.stringify(lib)};
       const s = new PipeIOServer(${JSON.stringify(send)}, ${JSON.stringify(recv)});
       await s.start(); await s.send('alive'); setInterval(() => {}, 1000);`,
    ]);
    try {
      const c = client({ timeout: 10_000 });
      await c.connect();
      const it = c.messages();
      expect((await within(it.next(), 5000, 'first message')).value).to.equal('alive');
      child.kill('SIGKILL');
      expect((await within(it.next(), 5000, 'end after kill')).done).to.equal(true);
      const error = await c.send('nobody there').catch((e: unknown) => e);
      expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_SERVER_STOPPED');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects a message with a newline with a TypeError and writes nothing', async () => {
    const server = await echoServer();
    const received: string[] = [];
    server.on('message', (m) => received.push(m));
    const c = client();
    await c.connect();
    const error = await c.send('two\nlines').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TypeError);
    const notString = await (c as PipeIOClient<unknown>).send(42).catch((e: unknown) => e);
    expect(notString).to.be.instanceOf(TypeError);
    await c.send('after');
    const it = c.messages();
    expect((await it.next()).value).to.equal('after');
    expect(received).to.deep.equal(['after']);
  });

  it('reports a line the json codec cannot decode as a warning and goes on', async () => {
    const server = await echoServer();
    const c = client<unknown>({ codec: 'json' });
    const warnings: unknown[] = [];
    c.on('warning', (w) => warnings.push(w));
    await c.connect();
    const it = c.messages();
    await server.send('{not json');
    await server.send('{"fine":true}');
    expect((await it.next()).value).to.deep.equal({ fine: true });
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_DECODE');
    expect((warnings[0] as Error).cause).to.be.instanceOf(CodecError).with.property('line', '{not json');
  });

  it('times out with a clear error when the pipes never appear', async () => {
    const c = client({ timeout: 300 });
    const started = Date.now();
    const error = await c.connect().catch((e: unknown) => e);
    expect(Date.now() - started).to.be.at.least(250);
    expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_PIPE_MISSING');
    expect((error as Error).message).to.include(paths().recv);
    expect(c.state).to.equal('idle');
  });

  it('waits while the FIFOs exist but no server reads them (ENXIO), and times out with a clear error', async () => {
    const { send, recv } = paths();
    await makeFifo(send, 0o600);
    await makeFifo(recv, 0o600);
    const c = client({ timeout: 300 });
    const error = await c.connect().catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_PIPE_OPEN');
    expect((error as Error).message).to.match(/^No server is reading .*ENXIO.* after 300 ms/).and.include(send);
    // Retried with a longer timeout, it is served by a server that takes the stale FIFOs over meanwhile.
    const retry = new PipeIOClient({ send, recv, timeout: 5000 });
    clients.push(retry);
    const connecting = retry.connect();
    await sleep(300);
    expect(retry.state).to.equal('connecting');
    await echoServer();
    await within(connecting, 5000, 'connect once the server is up');
    await retry.send('late');
    expect((await retry.messages().next()).value).to.equal('late');
  });

  it('refuses a path that is not a FIFO instead of writing into a file', async () => {
    fs.writeFileSync(paths().recv, '');
    const c = client({ timeout: 200 });
    const error = await c.connect().catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_NOT_A_FIFO');
  });

  it('takes its paths from PIPE_IO_SEND and PIPE_IO_RECV, and says which one is missing', async () => {
    await echoServer();
    const saved = { send: process.env.PIPE_IO_SEND, recv: process.env.PIPE_IO_RECV };
    try {
      delete process.env.PIPE_IO_SEND;
      delete process.env.PIPE_IO_RECV;
      expect(() => new PipeIOClient()).to.throw(TypeError, /PIPE_IO_SEND/);
      process.env.PIPE_IO_SEND = paths().send;
      expect(() => new PipeIOClient()).to.throw(TypeError, /PIPE_IO_RECV/);
      process.env.PIPE_IO_RECV = paths().recv;
      const c = new PipeIOClient();
      clients.push(c);
      await c.connect();
      await c.send('from env');
      expect((await c.messages().next()).value).to.equal('from env');
    } finally {
      for (const [key, value] of [['PIPE_IO_SEND', saved.send], ['PIPE_IO_RECV', saved.recv]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('close() releases both descriptors and ends iterators', async () => {
    await echoServer();
    const fdsIntoDir = (): number =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
        } catch {
          return false;
        }
      }).length;
    const serverOnly = fdsIntoDir();
    const c = client();
    await c.connect();
    const it = c.messages();
    expect(fdsIntoDir()).to.equal(serverOnly + 2);
    await c.close();
    expect(await it.next()).to.deep.equal({ value: undefined, done: true });
    await c.closed;
    expect(fdsIntoDir()).to.equal(serverOnly);
    const error = await c.send('closed').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_SERVER_STOPPED');
  });

  it('does not occupy the libuv threadpool while waiting for a server', async () => {
    // FIFOs with no server: a blocking open() would wait in a pool thread, and five such
    // waits would starve the 4-thread pool.
    await makeFifo(paths().send, 0o600);
    await makeFifo(paths().recv, 0o600);
    const waiting = [1, 2, 3, 4, 5].map(() => client({ timeout: 1500 }).connect().catch(() => {}));
    const started = Date.now();
    await fs.promises.readFile(new URL(import.meta.url));
    expect(Date.now() - started).to.be.below(1000);
    await Promise.all(waiting);
  });

  it('resolveCodec knows text, json and custom codecs, and rejects anything else', () => {
    expect(resolveCodec(undefined)).to.equal(textCodec);
    expect(resolveCodec('text')).to.equal(textCodec);
    expect(resolveCodec('json')).to.equal(jsonCodec);
    const custom = { encode: (n: number) => String(n), decode: (s: string) => Number(s) };
    expect(resolveCodec(custom)).to.equal(custom);
    expect(() => resolveCodec('xml' as 'json')).to.throw(TypeError);
    expect(() => jsonCodec.encode(undefined)).to.throw(TypeError);
    expect(() => jsonCodec.encode(() => 1)).to.throw(TypeError);
    expect(() => textCodec.encode(5 as unknown as string)).to.throw(TypeError);
    expect(jsonCodec.encode({ a: 'x\ny' })).to.equal('{"a":"x\\ny"}');
  });

  it('uses a custom codec both ways', async () => {
    await echoServer();
    const upper = { encode: (n: number) => `n=${n}`, decode: (s: string) => Number(s.slice(2)) };
    const c = client<number>({ codec: upper });
    await c.connect();
    await c.send(41);
    expect((await c.messages().next()).value).to.equal(41);
  });
});
