import { expect } from 'chai';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { PipeIOServer } from '../lib/index.js';
import { bash, tempDir, within } from './helpers/fixtures.js';

/**
 * The addon (mkfifo, inotify) keeps state per thread: a server in a worker thread must work
 * like one on the main thread, and a worker that ends without stop() must leave nothing broken
 * behind (its inotify instance is closed by the addon's cleanup hook). Node tracks the descriptors
 * a worker opens with fs.open until fs.close: those libuv closes (a socket's) must not stay
 * tracked, or the worker's exit closes their numbers again, whatever they belong to by then.
 */
describe('servers in worker threads', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  let after: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of after) await step();
    after = [];
    cleanup();
  });

  /** A worker running a server on `name`: it reports each message, a deleted pipe coming back, and Node's warnings. */
  let warnings: string[];
  beforeEach(() => (warnings = []));

  function serverWorker(name: string): Worker {
    const lib = new URL('../lib/index.js', import.meta.url).href;
    const source = `
      import { parentPort, workerData } from 'node:worker_threads';
      const { PipeIOServer } = await import(${JSON.stringify(lib)});
      const server = new PipeIOServer(workerData.in, workerData.out, { watchInterval: 60_000 });
      server.on('message', (line) => parentPort.postMessage({ message: line }));
      server.on('recreate', (info) => parentPort.postMessage({ recreate: info.role }));
      process.on('warning', (warning) => parentPort.postMessage({ warning: warning.message }));
      parentPort.on('message', async (command) => {
        if (command === 'stop') {
          await server.stop();
          parentPort.postMessage('stopped');
        }
        if (command === 'end') process.exit(0);
      });
      await server.start();
      parentPort.postMessage('ready');
    `;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
      workerData: { in: `${dir}/${name}-in`, out: `${dir}/${name}-out` },
    });
    worker.on('message', (value: unknown) => {
      if (typeof value === 'object' && value !== null && 'warning' in value) warnings.push(String(value.warning));
    });
    return worker;
  }

  function next(worker: Worker, test: (value: unknown) => boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onMessage = (value: unknown): void => {
        if (!test(value)) return;
        worker.off('message', onMessage);
        resolve(value);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  for (const stop of [true, false]) {
    it(`serves, hears of a deleted pipe at once, and ends cleanly ${stop ? 'after stop()' : 'without stop() (exit)'}`, async () => {
      // The main thread serves too, as an app would: the addon is loaded here before the workers
      // load it (fs-ext's addon, not context-aware, crashed the process at that point).
      const main = new PipeIOServer(`${dir}/main-in`, `${dir}/main-out`);
      await main.start();
      after.push(() => main.stop());
      const workers = [serverWorker('a'), serverWorker('b')];
      await Promise.all(workers.map((w) => within(next(w, (v) => v === 'ready'), 10_000, 'worker ready')));
      const got = next(workers[0]!, (v) => typeof v === 'object' && v !== null && 'message' in v);
      await bash(`printf 'hello\\n' > "$IN"`, { IN: `${dir}/a-in` }).done;
      expect(await within(got, 5000, 'message')).to.deep.equal({ message: 'hello' });
      const back = next(workers[1]!, (v) => typeof v === 'object' && v !== null && 'recreate' in v);
      fs.unlinkSync(`${dir}/b-out`);
      expect(await within(back, 1000, 'recreate long before the 60 s poll')).to.deep.equal({ recreate: 'out' });
      // Descriptors of the main thread that take the numbers the workers' sockets had: a worker
      // that still counted those numbers as its own would close them when it exits.
      const mine: number[] = [];
      if (stop) {
        for (const w of workers) w.postMessage('stop');
        await within(Promise.all(workers.map((w) => next(w, (v) => v === 'stopped'))), 5000, 'workers stopped');
        for (let i = 0; i < 16; i++) mine.push(fs.openSync('/dev/null', 'r'));
      }
      const codes = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
      for (const w of workers) w.postMessage('end');
      expect(await within(Promise.all(codes), 5000, 'workers exit')).to.deep.equal([0, 0]);
      const closed = mine.filter((fd) => {
        try {
          fs.fstatSync(fd);
          fs.closeSync(fd);
          return false;
        } catch {
          return true;
        }
      });
      expect(closed, 'main-thread descriptors closed by an exiting worker').to.deep.equal([]);
      expect(warnings).to.deep.equal([]);
    });
  }
});
