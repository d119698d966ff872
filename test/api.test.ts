import { expect } from 'chai';
import fs from 'node:fs';
import sinon from 'sinon';
import { PipeIOError, PipeIOServer, PipeReaderServer, PipeWriterServer } from '../lib/index.js';
import { bash, run, tempDir, waitFor, within } from './helpers/fixtures.js';

describe('server API', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => {
    sinon.restore();
    cleanup();
  });

  it('rejects a message with a newline with a TypeError and writes nothing of it', async () => {
    const server = new PipeWriterServer(`${dir}/out`);
    await server.start();
    const error = await server.send('two\nlines').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message).to.contain('newline');
    expect(await server.send(42 as unknown as string).catch((e: unknown) => e)).to.be.instanceOf(TypeError);
    await server.send('');
    await server.send('next');
    const reader = await bash(`head -n 2 "$OUT"`, { OUT: `${dir}/out` }).done;
    expect(reader.stdout).to.equal('\nnext\n');
    await server.stop();
  });

  it('echoes through a subclass that overrides handleMessage, like the Python original', async () => {
    class Echo extends PipeIOServer {
      override handleMessage(message: string): Promise<void> {
        return this.send(`echo: ${message}`);
      }
    }
    const server = new Echo(`${dir}/in`, `${dir}/out`);
    await server.start();
    const client = await bash(`exec 3< "$OUT"; printf 'a b\\n\\nc\\\\d\\n' > "$IN"; for i in 1 2 3; do IFS= read -r line <&3; printf '[%s]' "$line"; done`, {
      IN: `${dir}/in`,
      OUT: `${dir}/out`,
    }).done;
    expect(client.stdout).to.equal('[echo: a b][echo: ][echo: c\\d]');
    await server.stop();
  });

  it('delivers a last line without newline on its own once its writer closes, not glued to the next client', async () => {
    const server = new PipeReaderServer(`${dir}/in`);
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await server.start();
    await bash(`printf 'half a line' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 1, 'the fragment');
    await bash(`printf 'next client\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 2, 'the next message');
    expect(got).to.deep.equal(['half a line', 'next client']);
    await server.stop();
  });

  it('drops a line over maxMessageBytes, reports it through oversize, and keeps serving with bounded memory', async () => {
    const server = new PipeReaderServer(`${dir}/in`, { maxMessageBytes: 1000 });
    const got: string[] = [];
    const oversize = sinon.spy();
    server.on('message', (message) => got.push(message));
    server.on('oversize', oversize);
    await server.start();
    // 20 MB with no newline, then a normal line.
    await bash(`{ head -c 20000000 /dev/zero | tr '\\0' a; printf '\\nfine\\n'; } > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 1, 'the line after the oversized one');
    expect(got).to.deep.equal(['fine']);
    expect(oversize.callCount).to.equal(1);
    expect(oversize.firstCall.args[0]).to.deep.equal({ path: `${dir}/in`, limit: 1000 });
    await server.stop();
  });

  it('reports a throwing or rejecting handler as a warning and keeps going', async () => {
    class Flaky extends PipeReaderServer {
      seen: string[] = [];
      override handleMessage(message: string): unknown {
        this.seen.push(message);
        if (message === 'throw') throw new Error('boom');
        if (message === 'reject') return Promise.reject(new Error('bust'));
        return undefined;
      }
    }
    const server = new Flaky(`${dir}/in`);
    const warnings: PipeIOError[] = [];
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    await bash(`printf 'throw\\nreject\\nok\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => server.seen.length === 3 && warnings.length === 2, 'three messages, two warnings');
    expect(warnings.map((w) => w.code)).to.deep.equal(['ERR_HANDLER', 'ERR_HANDLER']);
    expect(warnings.map((w) => (w.cause as Error).message).sort()).to.deep.equal(['boom', 'bust']);
    await server.stop();
  });

  it('sends warnings nobody listens to to process.emitWarning instead of crashing', async () => {
    const emitWarning = sinon.stub(process, 'emitWarning');
    const server = new PipeReaderServer(`${dir}/in`);
    server.handleMessage = () => {
      throw new Error('unheard');
    };
    await server.start();
    await bash(`printf 'x\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => emitWarning.called, 'process warning');
    expect((emitWarning.firstCall.args[0] as PipeIOError).code).to.equal('ERR_HANDLER');
    await server.stop();
  });

  it('iterates messages asynchronously and ends the iteration when the server stops', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.start();
    const collected = (async () => {
      const got: string[] = [];
      for await (const message of server) got.push(message);
      return got;
    })();
    await bash(`seq 1 3000 > "$IN"`, { IN: `${dir}/in` }).done;
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.stop();
    const got = await within(collected, 2000, 'iteration ends');
    expect(got).to.deep.equal(Array.from({ length: 3000 }, (_, i) => String(i + 1)));
  });

  it('delivers at stop() what clients wrote while a lagging iterator had paused reading', async () => {
    const server = new PipeReaderServer(`${dir}/in`);
    await server.start();
    const iterator = server.messages(); // takes nothing until the server has stopped
    const writer = await bash(`exec 4> "$IN"; for i in $(seq 1 3000); do echo "line $i" >&4; done`, { IN: `${dir}/in` }).done;
    expect(writer.code).to.equal(0);
    await server.stop();
    const got: string[] = [];
    for await (const message of iterator) got.push(message);
    expect(got).to.deep.equal(Array.from({ length: 3000 }, (_, i) => `line ${i + 1}`));
  });

  it('pauses reading for an iterator that lags by size, not only by count (a few huge lines)', async () => {
    const server = new PipeReaderServer(`${dir}/in`);
    await server.start();
    const iterator = server.messages();
    // 50 lines of 100 KB: 5 MB, far under 1,024 lines but far over what an iterator may hold.
    const writer = run('python3', ['-c', 'import os,sys\nfd=os.open(sys.argv[1],os.O_WRONLY)\nfor i in range(50): os.write(fd, b"x"*100000+b"\\n")', `${dir}/in`]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(writer.child.exitCode, 'the writer is held back by the paused reader').to.equal(null);
    let count = 0;
    for await (const message of iterator) {
      expect(message.length).to.equal(100_000);
      if (++count === 50) break;
    }
    expect((await writer.done).code).to.equal(0);
    await server.stop();
  });

  it('raises no unhandled rejection for ignored sends that stop() rejects', async () => {
    const unhandled = sinon.spy();
    process.on('unhandledRejection', unhandled);
    try {
      const server = new PipeWriterServer(`${dir}/out`);
      await server.start();
      for (let i = 0; i < 5000; i++) void server.send(`fire and forget ${i}`); // far more than the pipe holds
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled.called).to.equal(false);
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('gives every iterator every message, even when handleMessage is overridden', async () => {
    class Silent extends PipeReaderServer {
      handled = 0;
      override handleMessage(): void {
        this.handled++;
      }
    }
    const server = new Silent(`${dir}/in`);
    await server.start();
    const first = server.messages();
    const second = server[Symbol.asyncIterator]();
    await bash(`printf 'a\nb\n' > "$IN"`, { IN: `${dir}/in` }).done;
    expect((await first.next()).value).to.equal('a');
    expect((await first.next()).value).to.equal('b');
    expect((await second.next()).value).to.equal('a');
    expect((await second.next()).value).to.equal('b');
    expect(server.handled).to.equal(2);
    await server.stop();
  });

  it('applies permissions exactly, whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      const server = new PipeIOServer(`${dir}/in`, `${dir}/out`, { permissions: 0o666 });
      await server.start();
      expect(fs.statSync(`${dir}/in`).mode & 0o7777).to.equal(0o666);
      expect(fs.statSync(`${dir}/out`).mode & 0o7777).to.equal(0o666);
      await server.stop();
    } finally {
      process.umask(old);
    }
  });

  it('applies backpressure: needsDrain above highWaterMark, drain once a client reads', async () => {
    const server = new PipeWriterServer(`${dir}/out`, { highWaterMark: 10_000 });
    await server.start();
    const drained = sinon.spy();
    server.on('drain', drained);
    const line = 'z'.repeat(99);
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) sends.push(server.send(line)); // 200 KB: beyond the kernel's 64 KiB
    expect(server.needsDrain).to.equal(true);
    // The first line went into the pipe before send() returned; the other 1999 are queued.
    expect(server.queuedBytes).to.equal(199_900);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(drained.called, 'no drain while nobody reads').to.equal(false);
    const reader = bash(`head -n 2000 "$OUT" | wc -l`, { OUT: `${dir}/out` });
    await Promise.all(sends);
    expect(drained.calledOnce).to.equal(true);
    expect(server.needsDrain).to.equal(false);
    expect(server.queuedBytes).to.equal(0);
    expect((await reader.done).stdout.trim()).to.equal('2000');
    await server.stop();
  });

  it('settles closed when stopped and rejects start() when its signal is already aborted', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.start();
    const closed = sinon.spy();
    void server.closed.then(closed);
    await server.stop();
    await server.closed;
    expect(closed.calledOnce).to.equal(true);
    const aborted = new PipeIOServer(`${dir}/in`, `${dir}/out`, { signal: AbortSignal.abort() });
    const error = (await aborted.start().catch((e: unknown) => e)) as PipeIOError;
    expect(error.code).to.equal('ERR_SERVER_STOPPED');
    expect(fs.existsSync(`${dir}/in`)).to.equal(false);
  });
});

describe('json codec on the servers', function () {
  this.timeout(20_000);

  it('sends and receives JSON values, and reports a line that is not JSON without stopping', async () => {
    const { dir, cleanup } = tempDir();
    type Msg = { n: number; text: string };
    const server = new PipeIOServer<Msg>(`${dir}/in`, `${dir}/out`, { codec: 'json' });
    const got: Msg[] = [];
    const warnings: PipeIOError[] = [];
    server.on('message', (message) => got.push(message));
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    await bash(`printf '{"n":1,"text":"a\\\\nb"}\\nnot json\\n{"n":2,"text":"é"}\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 2 && warnings.length === 1, 'two values and a warning');
    expect(got).to.deep.equal([
      { n: 1, text: 'a\nb' },
      { n: 2, text: 'é' },
    ]);
    expect(warnings[0]!.code).to.equal('ERR_DECODE');
    expect(warnings[0]!.message).to.contain('not json');
    const reader = bash(`head -n 1 "$OUT"`, { OUT: `${dir}/out` });
    await server.send({ n: 3, text: 'multi\nline' });
    expect((await reader.done).stdout).to.equal('{"n":3,"text":"multi\\nline"}\n');
    const unencodable = await server.send(undefined as unknown as Msg).catch((e: unknown) => e);
    expect(unencodable).to.be.instanceOf(TypeError);
    await server.stop();
    cleanup();
  });
});
