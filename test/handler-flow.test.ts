/**
 * Async handleMessage (issue 18): in order and one at a time by default, at most `concurrency`
 * pending, backpressure on the in pipe while they are busy, stuck handlers given up on, and a
 * stop() that waits for them only so long.
 *
 * The floods here are small (100,000 lines; the handler waits 5 ms only for every 1000th
 * message and one event-loop turn for the others) so that npm test stays quick; stress row 10
 * (npm run stress) runs them at the full size, and `node dist/test/stress/flood.js`
 * runs any size.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PipeIOError, PipeIOServer, PipeReaderServer } from '../lib/index.js';
import { bash, serverTracker, tempDir, waitFor, within } from './helpers/fixtures.js';
import { type FloodConfig, describeFlood, floodProblems, runFlood } from './stress/flood.js';

describe('async handleMessage: order, concurrency, backpressure', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;
  const track = serverTracker();
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  for (const server of ['io', 'reader'] as const) {
    for (const concurrency of [undefined, 8]) {
      const config: FloodConfig = { server, concurrency, lines: 100_000, bytes: 100, delayMs: 5, every: 1000, timeoutMs: 40_000 };
      const name = server === 'io' ? 'PipeIOServer' : 'PipeReaderServer';
      it(`${name}, concurrency ${concurrency ?? 'default'}: a Python flood of ${config.lines} lines is handled in order, at most ${concurrency ?? 1} pending, the writer held back, RSS bounded`, async function () {
        this.slow(8000);
        const result = await runFlood(config);
        const figures = describeFlood(config, result);
        console.log(`      ${figures}`);
        expect(floodProblems(config, result), figures).to.deep.equal([]);
      });
    }
  }

  it('calls a synchronous handler right from the read, for every line: no promise or microtask per message', async () => {
    // Called synchronously, a handler's stack reaches down to Node's read callback for the
    // pipe (onStreamRead); called from a promise reaction or a microtask, it starts there.
    const fromRead: boolean[] = [];
    class Sync extends PipeReaderServer {
      override handleMessage(message: string): number {
        fromRead.push(new Error().stack!.includes('onStreamRead'));
        return message.length; // not a promise: takes no slot
      }
    }
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 100;
    try {
      const server = track(new Sync(`${dir}/in`));
      await server.start();
      await bash(`seq 1 200 > "$IN"`, { IN: `${dir}/in` }).done;
      await waitFor(() => fromRead.length === 200, 'all 200 lines');
    } finally {
      Error.stackTraceLimit = limit;
    }
    expect(fromRead.filter((yes) => !yes)).to.deep.equal([]);
  });

  it('keeps the echo pattern (return this.send(reply)) unserialized: one write for many replies, all in order', async () => {
    let unsettled = 0;
    let maxUnsettled = 0;
    class Echo extends PipeIOServer {
      override handleMessage(message: string): Promise<void> {
        const sent = this.send(`echo ${message}`);
        maxUnsettled = Math.max(maxUnsettled, ++unsettled);
        void sent.finally(() => unsettled--);
        return sent;
      }
    }
    const server = track(new Echo(`${dir}/in`, `${dir}/out`));
    await server.start();
    const client = await bash(`exec 3< "$OUT"; seq 1 500 > "$IN"; head -n 500 <&3`, { IN: `${dir}/in`, OUT: `${dir}/out` }).done;
    expect(client.stdout.split('\n').slice(0, -1)).to.deep.equal(Array.from({ length: 500 }, (_, i) => `echo ${i + 1}`));
    // Serialized on send(), only one reply would ever be unwritten at a time.
    expect(maxUnsettled).to.be.greaterThan(100);
    await server.stop();
  });

  it('treats any thenable as pending, and reports a late rejection', async () => {
    let pending = 0;
    let maxPending = 0;
    const warnings: PipeIOError[] = [];
    const server = track(new PipeReaderServer(`${dir}/in`));
    server.handleMessage = (message: string): PromiseLike<void> => {
      maxPending = Math.max(maxPending, ++pending);
      return {
        then(resolve, reject) {
          setTimeout(() => {
            pending--;
            if (message === '3') reject?.(new Error('late'));
            else resolve?.();
          }, 5);
          return undefined as never;
        },
      };
    };
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    await bash(`seq 1 20 > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => warnings.length === 1 && pending === 0, 'the rejection');
    expect(maxPending).to.equal(1);
    expect(warnings[0]!.code).to.equal('ERR_HANDLER');
    expect((warnings[0]!.cause as Error).message).to.equal('late');
    await server.stop();
  });

  it('gives up on a handler that never settles after handlerTimeout: a warning, and the next message goes on', async () => {
    const seen: string[] = [];
    const warnings: PipeIOError[] = [];
    class Stuck extends PipeReaderServer {
      override async handleMessage(message: string): Promise<void> {
        seen.push(message);
        if (message === 'stuck') await new Promise(() => {});
      }
    }
    const server = track(new Stuck(`${dir}/in`, { handlerTimeout: 300 }));
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    const started = Date.now();
    await bash(`printf 'a\\nstuck\\nb\\nc\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => seen.length === 2, 'the stuck message');
    await sleep(100);
    expect(seen).to.deep.equal(['a', 'stuck']); // b waits for the slot
    await waitFor(() => seen.length === 4, 'the messages after it');
    expect(Date.now() - started).to.be.at.least(290);
    expect(seen).to.deep.equal(['a', 'stuck', 'b', 'c']);
    expect(warnings.map((w) => w.code)).to.deep.equal(['ERR_HANDLER_TIMEOUT']);
    expect(warnings[0]!.message).to.contain('300 ms').and.contain(`${dir}/in`);
    expect(warnings[0]!.path).to.equal(`${dir}/in`);
    await server.stop();
  });

  it('stop() lets the handlers finish what was read before it (pending and queued), and their replies still go out', async () => {
    const started: string[] = [];
    const done: string[] = [];
    // The lines after 'go' wait for the gate, opened only once stop() has been called: so stop()
    // certainly meets one of them pending and the rest read or still in the pipe, on any machine
    // (a sleep here let a loaded CI machine finish them all first).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    class Slow extends PipeIOServer {
      override async handleMessage(message: string): Promise<void> {
        started.push(message);
        if (message !== 'go') await gate;
        done.push(message);
        await this.send(`done ${message}`);
      }
    }
    const server = track(new Slow(`${dir}/in`, `${dir}/out`));
    await server.start();
    const reader = bash(`exec 3< "$OUT"; printf 'go\\n' > "$IN"; cat <&3`, { IN: `${dir}/in`, OUT: `${dir}/out` });
    await waitFor(() => done.length === 1, 'the first message');
    await bash(`seq 1 10 > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => started.length === 2, 'the next message pending');
    const stopping = server.stop();
    expect(done).to.deep.equal(['go']);
    open();
    await stopping;
    expect(done).to.deep.equal(['go', ...Array.from({ length: 10 }, (_, i) => String(i + 1))]);
    const client = await within(reader.done, 5000, 'the client sees end of stream');
    expect(client.stdout).to.equal(['go', ...Array.from({ length: 10 }, (_, i) => String(i + 1))].map((m) => `done ${m}\n`).join(''));
  });

  it('stop() waits at most stopTimeout for a handler that never settles, and says what it left', async () => {
    const seen: string[] = [];
    const warnings: PipeIOError[] = [];
    class Stuck extends PipeReaderServer {
      override handleMessage(message: string): Promise<void> {
        seen.push(message);
        return new Promise(() => {});
      }
    }
    const server = track(new Stuck(`${dir}/in`, { stopTimeout: 400 }));
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    await bash(`printf 'a\\nb\\nc\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => seen.length === 1, 'the first message');
    await sleep(50);
    const started = Date.now();
    await within(server.stop(), 3000, 'stop()');
    const took = Date.now() - started;
    expect(took).to.be.at.least(390);
    expect(seen).to.deep.equal(['a']);
    expect(warnings.map((w) => w.code)).to.deep.equal(['ERR_HANDLER_TIMEOUT']);
    expect(warnings[0]!.message).to.contain('1 still pending').and.contain('2 messages read but never handled');
  });

  it('a handler given up on at stop frees no slot of the next run when it settles late', async () => {
    const release: Array<() => void> = [];
    let handledNew = 0;
    let pending = 0;
    let maxPending = 0;
    class Held extends PipeReaderServer {
      override async handleMessage(message: string): Promise<void> {
        if (message === 'held') return new Promise<void>((resolve) => release.push(resolve));
        maxPending = Math.max(maxPending, ++pending);
        await sleep(30);
        pending--;
        handledNew++;
      }
    }
    const server = track(new Held(`${dir}/in`, { stopTimeout: 100 }));
    server.on('warning', () => {});
    await server.start();
    await bash(`printf 'held\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => release.length === 1, 'the held message');
    await server.stop(); // gives up on it
    await server.start();
    await bash(`seq 1 20 > "$IN"`, { IN: `${dir}/in` }).done;
    await sleep(40);
    release[0]!(); // the old run's handler settles in the middle of the new run's
    await waitFor(() => handledNew === 20, 'the new run\'s messages');
    expect(maxPending).to.equal(1);
    await server.stop();
  });

  it('keeps reading paused while an iterator lags, even when the handlers are idle', async () => {
    let handled = 0;
    class Counting extends PipeReaderServer {
      override async handleMessage(): Promise<void> {
        handled++;
      }
    }
    const server = track(new Counting(`${dir}/in`));
    await server.start();
    const iterator = server.messages(); // never read: pauses reading at 1024 messages
    const writer = bash(`seq 1 200000 > "$IN"`, { IN: `${dir}/in` });
    await sleep(1000);
    // What one read can hold past the pause point, at most: 1024 + 64 KiB of 2-byte lines.
    expect(handled).to.be.below(1024 + 32 * 1024);
    expect(writer.child.exitCode).to.equal(null); // blocked on the full pipe
    await iterator.return!();
    await within(writer.done, 10_000, 'the writer, once reading resumes');
    await waitFor(() => handled === 200_000, 'every message');
    await server.stop();
  });

  it('rejects bad concurrency and timeouts by name, and accepts Infinity', () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      expect(() => new PipeReaderServer(`${dir}/in`, { concurrency })).to.throw(RangeError, 'concurrency');
    }
    expect(() => new PipeReaderServer(`${dir}/in`, { handlerTimeout: -5 })).to.throw(RangeError, 'handlerTimeout');
    expect(() => new PipeIOServer(`${dir}/in`, `${dir}/out`, { stopTimeout: 2 ** 31 })).to.throw(RangeError, 'stopTimeout');
    expect(() => new PipeIOServer(`${dir}/in`, `${dir}/out`, { concurrency: Infinity, handlerTimeout: 0, stopTimeout: 0 })).not.to.throw();
  });
});
