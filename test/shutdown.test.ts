import { expect } from 'chai';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PipeIOServer } from '../lib/index.js';
import { bash, fdsInto, run, tempDir, waitFor, within } from './helpers/fixtures.js';

const lib = fileURLToPath(new URL('../lib/index.js', import.meta.url));

describe('clean shutdown', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  async function stopPromptly(server: PipeIOServer): Promise<void> {
    await within(server.stop(), 2000, 'stop()');
    expect(fdsInto(dir), 'descriptors left open').to.deep.equal([]);
    expect(fs.existsSync(`${dir}/in`) || fs.existsSync(`${dir}/out`), 'managed pipes removed').to.equal(false);
  }

  it('stops promptly when no client ever came, leaving no descriptor and no pipe', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.start();
    expect(fdsInto(dir).length).to.be.greaterThan(0);
    await stopPromptly(server);
    expect(server.state).to.equal('stopped');
  });

  it('releases a client blocked reading the out pipe (it sees end of stream)', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.start();
    const reader = bash(`exec 3< "$OUT"; echo open >&2; cat <&3; echo "eof"`, { OUT: `${dir}/out` });
    await waitFor(() => reader.output.stderr === 'open\n', 'reader has the pipe open');
    await server.send('last words');
    await stopPromptly(server);
    const result = await within(reader.done, 2000, 'blocked reader released');
    expect(result.stdout).to.equal('last words\neof\n');
  });

  it('releases a client blocked writing into the in pipe (EPIPE) when nothing reads', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.start();
    const iterator = server.messages(); // never consumed: reading pauses once it lags
    const writer = bash(`yes 'a line that fills the pipe' > "$IN"`, { IN: `${dir}/in` });
    // Let the iterator lag, reading pause and the pipe fill up behind it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await stopPromptly(server);
    const result = await within(writer.done, 2000, 'blocked writer released');
    expect(result.code).to.not.equal(0);
    expect((await iterator.next()).done).to.equal(false);
  });

  it('reads at stop what the in pipe holds, not what writers go on adding: stop() ends while they write flat out', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.start();
    const iterator = server.messages(); // never consumed: reading pauses once it lags
    const flood = `import os\nfd = os.open(os.environ['IN'], os.O_WRONLY)\nline = b'f' * 999 + b'\\n'\nwhile True: os.write(fd, line)\n`;
    let read = 0;
    server.on('message', () => read++);
    const writers = [1, 2].map(() => run('python3', ['-c', flood], { IN: `${dir}/in` }));
    await waitFor(() => read >= 1024, 'the iterator lagging, so reading paused');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the pipe full, the writers blocked
    const before = read;
    const started = performance.now();
    await stopPromptly(server);
    const atStop = read - before;
    // The lines the kernel held when stop() began are delivered (a pipe holds 64 KiB here, at
    // most 1 MiB anywhere); reading on until the writers pause would make stop() last as long as
    // they write (stress row 9 saw 25 MB read in 220 ms).
    expect(atStop, 'lines read at stop').to.be.at.most(1100);
    expect(performance.now() - started).to.be.below(1000);
    for (const writer of writers) expect((await within(writer.done, 2000, 'writer released')).code).to.not.equal(0);
    expect((await iterator.next()).done).to.equal(false);
  });

  it('releases clients that were blocked opening pre-made pipes before the server started', async () => {
    fs.mkdirSync(`${dir}/p`);
    await run('mkfifo', [`${dir}/p/in`, `${dir}/p/out`]).done;
    const writer = bash(`printf 'waited\\n' > "$IN"`, { IN: `${dir}/p/in` });
    const reader = bash(`cat "$OUT"`, { OUT: `${dir}/p/out` });
    const server = new PipeIOServer(`${dir}/p/in`, `${dir}/p/out`, { managePipes: false });
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.start();
    await within(writer.done, 2000, 'blocked writer released by start');
    await waitFor(() => got.length === 1, 'message');
    await server.send('reply');
    await within(server.stop(), 2000, 'stop()');
    expect((await within(reader.done, 2000, 'blocked reader released by stop')).stdout).to.equal('reply\n');
    expect(got).to.deep.equal(['waited']);
    expect(fs.statSync(`${dir}/p/in`).isFIFO(), 'unmanaged pipes are left').to.equal(true);
    expect(fdsInto(dir)).to.deep.equal([]);
  });

  it('is idempotent and may be called before start, during start and twice at once', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.stop();
    const starting = server.start();
    const stops = [server.stop(), server.stop()];
    await starting;
    await Promise.all(stops);
    expect(server.state).to.equal('stopped');
    await server.start();
    expect(server.state).to.equal('running');
    await stopPromptly(server);
  });

  it('rejects queued sends when it stops and rejects sends after stop', async () => {
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    await server.start();
    // 100,000 lines: far more than the pipe holds, so most are still queued at stop().
    const sends = Array.from({ length: 100_000 }, (_, i) => server.send(`line ${i}`).then(() => 'ok', (error: { code: string }) => error.code));
    await new Promise((resolve) => setImmediate(resolve));
    await server.stop();
    const outcomes = await Promise.all(sends);
    // The lines that made it into the pipe resolved; the rest were rejected, none left pending.
    const written = outcomes.indexOf('ERR_SERVER_STOPPED');
    expect(written).to.be.greaterThan(500);
    expect(outcomes.slice(0, written).every((outcome) => outcome === 'ok')).to.equal(true);
    expect(outcomes.slice(written).every((outcome) => outcome === 'ERR_SERVER_STOPPED')).to.equal(true);
    const after = await server.send('late').catch((error: { code: string }) => error.code);
    expect(after).to.equal('ERR_SERVER_STOPPED');
  });

  it('lets a Node process that only ran a server exit on its own after stop()', async () => {
    const script = `
      import { PipeIOServer } from ${JSON.stringify(lib)};
      const server = new PipeIOServer(process.argv[1] + '/in', process.argv[1] + '/out');
      await server.start();
      server.send('x');
      await server.stop();
      console.log('stopped');
    `;
    const result = await within(run(process.execPath, ['--input-type=module', '-e', script, dir]).done, 10_000, 'process exit');
    expect(result.stdout).to.equal('stopped\n');
    expect(result.code).to.equal(0);
  });

  it('stops when its AbortSignal aborts, and through await using', async () => {
    const controller = new AbortController();
    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`, { signal: controller.signal });
    await server.start();
    controller.abort();
    await within(server.closed, 2000, 'closed after abort');
    expect(server.state).to.equal('stopped');
    {
      await using disposable = new PipeIOServer(`${dir}/in`, `${dir}/out`);
      await disposable.start();
      expect(fs.existsSync(`${dir}/in`)).to.equal(true);
    }
    expect(fs.existsSync(`${dir}/in`)).to.equal(false);
    expect(fdsInto(dir)).to.deep.equal([]);
  });
});
