/**
 * The synchronous reply path (issue 14): the first line sent in a turn, with nothing queued,
 * is written before send() returns; the rest of the turn is batched behind it. Order,
 * backpressure and stop must hold as with the queue alone.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { PipeIOServer, PipeWriterServer } from '../lib/index.js';
import { bash, serverTracker, tempDir, waitFor } from './helpers/fixtures.js';

describe('replies written at once', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  const track = serverTracker();
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  /** A non-blocking reader of the out pipe, held by the test. */
  const openOut = (): number => fs.openSync(`${dir}/out`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const readNow = (fd: number): string => {
    const buffer = Buffer.alloc(1 << 16);
    try {
      return buffer.toString('utf8', 0, fs.readSync(fd, buffer));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return '';
      throw error;
    }
  };

  it('a reply sent in the turn its request arrived is in the pipe when send() returns, text and bytes', async () => {
    const inPipe: string[] = [];
    class Echo extends PipeIOServer<string | Buffer> {
      override handleMessage(message: string | Buffer): Promise<void> {
        const sent = this.send(message);
        inPipe.push(readNow(out));
        return sent;
      }
    }
    let out = -1;
    for (const codec of ['text', 'buffer'] as const) {
      const server = track(new Echo(`${dir}/in-${codec}`, `${dir}/out`, { codec }));
      await server.start();
      out = openOut();
      try {
        await bash(`echo "ping $CODEC" > "$IN"`, { IN: `${dir}/in-${codec}`, CODEC: codec }).done;
        await waitFor(() => inPipe.length > 0, 'the request');
      } finally {
        fs.closeSync(out);
      }
      await server.stop();
      expect(inPipe.splice(0)).to.deep.equal([`ping ${codec}\n`]);
    }
  });

  it('many sends in one turn: the first now, the rest in one write behind it, all in order and all resolved', async () => {
    const server = track(new PipeWriterServer(`${dir}/out`));
    await server.start();
    const out = openOut();
    try {
      const sends = Array.from({ length: 1000 }, (_, i) => server.send(`line ${i}`));
      expect(readNow(out), 'only the first line is written before the turn ends').to.equal('line 0\n');
      await Promise.all(sends);
      let text = '';
      for (let chunk = readNow(out); chunk !== ''; chunk = readNow(out)) text += chunk;
      expect(text).to.equal(Array.from({ length: 999 }, (_, i) => `line ${i + 1}\n`).join(''));
    } finally {
      fs.closeSync(out);
    }
  });

  it('a send made between two of a turn\'s sends (in a microtask) goes after both, as called', async () => {
    const server = track(new PipeWriterServer(`${dir}/out`));
    await server.start();
    const out = openOut();
    try {
      const sends = [server.send('A')];
      queueMicrotask(() => sends.push(server.send('C')));
      sends.push(server.send('B'));
      await turn();
      await Promise.all(sends);
      expect(readNow(out)).to.equal('A\nB\nC\n');
    } finally {
      fs.closeSync(out);
    }
  });

  it('with the pipe full, a line is queued behind the others, never written past them; promises wait for the reader', async () => {
    // One 1000-byte line per turn: 65 fill the pipe, then each turn's line meets a full pipe
    // (EAGAIN) or a queue, and must wait its turn.
    const server = track(new PipeWriterServer(`${dir}/out`, { highWaterMark: 16 * 1024 }));
    let drains = 0;
    server.on('drain', () => drains++);
    await server.start();
    const settled: number[] = [];
    const sends: Promise<void>[] = [];
    const line = (i: number): string => `${String(i).padStart(5, '0')} ${'x'.repeat(994)}`;
    let sawNeedsDrain = false;
    for (let i = 0; i < 300; i++) {
      sends.push(server.send(line(i)).then(() => void settled.push(i)));
      sawNeedsDrain ||= server.needsDrain;
      await turn();
    }
    expect(settled.length, 'lines wait for room in the pipe').to.be.lessThan(100);
    expect(sawNeedsDrain, 'the queue said so').to.equal(true);
    const reader = await bash(`head -n 300 < "$OUT"`, { OUT: `${dir}/out` }).done;
    await Promise.all(sends);
    expect(reader.stdout.split('\n').slice(0, -1)).to.deep.equal(Array.from({ length: 300 }, (_, i) => line(i)));
    expect(settled).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
    expect(drains).to.be.greaterThan(0);
  });

  it('echo under load keeps every client\'s replies in order while replies are written at once and queued', async () => {
    class Echo extends PipeIOServer {
      override handleMessage(message: string): Promise<void> {
        return this.send(`echo ${message}`);
      }
    }
    const server = track(new Echo(`${dir}/in`, `${dir}/out`));
    await server.start();
    // Requests one per write and in floods, a reader that lags behind: both paths are taken.
    const client = bash(
      `exec 3< "$OUT"
       (for i in $(seq 1 300); do echo "a$i"; done; seq 1 20000 | sed 's/^/b/'; for i in $(seq 1 300); do echo "c$i"; done) > "$IN" &
       sleep 0.3
       head -n 20600 <&3`,
      { IN: `${dir}/in`, OUT: `${dir}/out` },
    );
    const { stdout } = await client.done;
    const want = [
      ...Array.from({ length: 300 }, (_, i) => `echo a${i + 1}`),
      ...Array.from({ length: 20000 }, (_, i) => `echo b${i + 1}`),
      ...Array.from({ length: 300 }, (_, i) => `echo c${i + 1}`),
    ];
    expect(stdout.split('\n').slice(0, -1)).to.deep.equal(want);
  });
});
