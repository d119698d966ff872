/**
 * handleMessages (issue 14): the messages of one read in one call, in order, with the same
 * slots, backpressure, reports and stop as handleMessage.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PipeIOError, PipeIOServer, PipeReaderServer } from '../lib/index.js';
import { bash, serverTracker, tempDir, waitFor } from './helpers/fixtures.js';

describe('handleMessages: messages a read at a time', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  const track = serverTracker();
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  const expected = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i + 1));

  it('gets every line in order, several per call, in place of handleMessage and the message event; iterators still see each', async () => {
    const batches: string[][] = [];
    let single = 0;
    class Batched extends PipeReaderServer {
      override handleMessage(): void {
        single++;
      }
      override handleMessages(messages: string[]): void {
        batches.push(messages);
      }
    }
    const server = track(new Batched(`${dir}/in`));
    server.on('message', () => single++);
    const seen: string[] = [];
    const iterating = (async () => {
      for await (const message of server) seen.push(message);
    })();
    await server.start();
    await bash(`seq 1 50000 > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => batches.flat().length === 50_000, 'all 50,000 lines');
    expect(batches.flat()).to.deep.equal(expected(50_000));
    expect(single, 'handleMessage and message events are not used').to.equal(0);
    expect(Math.max(...batches.map((b) => b.length)), 'lines of one read come together').to.be.greaterThan(100);
    await server.stop();
    await iterating;
    expect(seen).to.deep.equal(expected(50_000));
  });

  it('a returned promise holds a slot: one batch at a time by default, reading held back, nothing lost or reordered', async () => {
    let pending = 0;
    let maxPending = 0;
    const got: string[] = [];
    const server = track(new PipeReaderServer(`${dir}/in`));
    // Assigned, not overridden: looked up at the first message.
    server.handleMessages = async (messages: string[]): Promise<void> => {
      maxPending = Math.max(maxPending, ++pending);
      await sleep(20);
      got.push(...messages);
      pending--;
    };
    await server.start();
    // 400,000 lines of 8 bytes, 3.2 MB, about 50 reads: at 20 ms a batch the handler is the
    // bottleneck, so the writer can only finish once no more than the queue's bound (1 MiB of
    // lines, ~150,000 here) plus the pipe and one read are left unhandled.
    await bash(`seq 1000001 1400000 > "$IN"`, { IN: `${dir}/in` }).done;
    const whenWriterDone = got.length;
    await waitFor(() => got.length === 400_000, 'all 400,000 lines', 20_000);
    expect(got).to.deep.equal(Array.from({ length: 400_000 }, (_, i) => String(1_000_001 + i)));
    expect(maxPending).to.equal(1);
    expect(whenWriterDone, 'the writer was held back while batches were pending').to.be.greaterThan(200_000);
  });

  it('with concurrency 4 at most 4 batches are pending; a throw or a rejection is a warning and the next batch comes', async () => {
    let pending = 0;
    let maxPending = 0;
    let calls = 0;
    const got: string[] = [];
    const warnings: PipeIOError[] = [];
    class Batched extends PipeReaderServer {
      override handleMessages(messages: string[]): Promise<void> | void {
        calls++;
        got.push(...messages);
        if (calls === 1) throw new Error('thrown');
        if (calls === 2) return Promise.reject(new Error('rejected'));
        maxPending = Math.max(maxPending, ++pending);
        // Held until another batch is pending beside it (or 500 ms): a fixed 5 ms let a slow
        // machine finish each batch before the next read, so "overlapped" depended on the clock.
        return (async () => {
          for (let waited = 0; pending < 2 && waited < 500; waited++) await sleep(1);
          await sleep(1);
          pending--;
        })();
      }
    }
    const server = track(new Batched(`${dir}/in`, { concurrency: 4 }));
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    // One line per write, 30 writers: many small reads, so many batches.
    await bash(`for w in $(seq 1 30); do (for i in $(seq 1 100); do echo "$w-$i"; done > "$IN") & done; wait`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 3000 && pending === 0, 'all 3,000 lines');
    expect(maxPending).to.be.at.most(4);
    expect(maxPending, 'batches overlapped').to.be.greaterThan(1);
    expect(warnings.map((w) => [w.code, (w.cause as Error).message])).to.deep.equal([
      ['ERR_HANDLER', 'thrown'],
      ['ERR_HANDLER', 'rejected'],
    ]);
    // Each writer's lines in its own order.
    for (let w = 1; w <= 30; w++) expect(got.filter((l) => l.startsWith(`${w}-`))).to.deep.equal(Array.from({ length: 100 }, (_, i) => `${w}-${i + 1}`));
  });

  it('stop() hands what was read to handleMessages and waits for it; replies still go out', async () => {
    class Echo extends PipeIOServer {
      override async handleMessages(messages: string[]): Promise<void> {
        await sleep(20);
        for (const message of messages) void this.send(`re ${message}`);
      }
    }
    const server = track(new Echo(`${dir}/in`, `${dir}/out`));
    await server.start();
    const reader = bash(`cat < "$OUT"`, { OUT: `${dir}/out` });
    await bash(`seq 1 1000 > "$IN"`, { IN: `${dir}/in` }).done;
    await server.stop();
    const { stdout } = await reader.done;
    expect(stdout.split('\n').slice(0, -1)).to.deep.equal(expected(1000).map((l) => `re ${l}`));
  });

  it('with the JSON codec, a bad line is reported and skipped, the others come decoded in their batch', async () => {
    const got: unknown[] = [];
    const warnings: PipeIOError[] = [];
    class Batched extends PipeReaderServer<unknown> {
      override handleMessages(messages: unknown[]): void {
        got.push(...messages);
      }
    }
    const server = track(new Batched(`${dir}/in`, { codec: 'json' }));
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    await bash(`printf '1\\n{"a":2}\\nnot json\\n[3]\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 3 && warnings.length === 1, 'three values and one warning');
    expect(got).to.deep.equal([1, { a: 2 }, [3]]);
    expect(warnings[0]!.code).to.equal('ERR_DECODE');
  });
});
