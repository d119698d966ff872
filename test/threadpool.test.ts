import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { run, tempDir, within } from './helpers/fixtures.js';

const lib = fileURLToPath(new URL('../lib/index.js', import.meta.url));

// A blocking open() or read() on a FIFO holds one of libuv's threadpool threads until a
// peer shows up (nodejs/node#23220 and friends). With the pool cut to ONE thread, a single
// such call would freeze every fs operation of the child below, and the test would time out.
const CHILD = `
  import fs from 'node:fs';
  import { spawn } from 'node:child_process';
  import { PipeIOServer } from ${JSON.stringify(lib)};
  const dir = process.argv[1];
  const servers = [];
  for (let i = 0; i < 8; i++) {
    const server = new PipeIOServer(dir + '/in' + i, dir + '/out' + i);
    await server.start();
    servers.push(server);
  }
  const t0 = Date.now();
  await fs.promises.readFile(${JSON.stringify(lib)});
  const idle = Date.now() - t0;
  // Now idle clients on every pipe: writers that never write, readers that never get data.
  const clients = [];
  for (let i = 0; i < 8; i++) {
    clients.push(spawn('bash', ['-c', 'exec 3> "$1"; exec 4< "$2"; sleep 30', 'x', dir + '/in' + i, dir + '/out' + i], { stdio: 'ignore' }));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  const t1 = Date.now();
  for (let i = 0; i < 20; i++) await fs.promises.readFile(${JSON.stringify(lib)});
  await fs.promises.stat(dir);
  const busy = Date.now() - t1;
  await Promise.all(servers.map((server) => server.stop()));
  for (const client of clients) client.kill();
  console.log(JSON.stringify({ idle, busy }));
`;

describe('no threadpool blocking', function () {
  this.timeout(30_000);

  it('keeps fs work flowing with 8 servers idle and with idle clients attached (UV_THREADPOOL_SIZE=1)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const child = run(process.execPath, ['--input-type=module', '-e', CHILD, dir], { UV_THREADPOOL_SIZE: '1' });
      const result = await within(child.done, 15_000, 'child with one threadpool thread');
      expect(result.stderr).to.equal('');
      expect(result.code).to.equal(0);
      const { idle, busy } = JSON.parse(result.stdout) as { idle: number; busy: number };
      // Generous bounds: a blocked pool never completes at all; these only catch a pool that waits on a FIFO.
      expect(idle).to.be.below(2000);
      expect(busy).to.be.below(5000);
    } finally {
      cleanup();
    }
  });
});
