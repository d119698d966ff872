import { expect } from 'chai';
import { PipeReaderServer } from '../lib/index.js';
import { run, tempDir, waitFor } from './helpers/fixtures.js';

// Each client writes every line with one os.write(): the rule the README gives clients.
const WRITER = `
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
w = sys.argv[2]
for i in range(int(sys.argv[3])):
    os.write(fd, ('w%s-%d-%s\\n' % (w, i, 'x' * 40)).encode())
os.close(fd)
`;

describe('concurrent writers (real Python clients)', function () {
  this.timeout(120_000);

  it('8 clients writing 10,000 lines each at once: all 80,000 arrive, none interleaved, each client in order', async () => {
    const { dir, cleanup } = tempDir();
    const server = new PipeReaderServer(`${dir}/in`);
    const next = new Map<string, number>();
    const bad: string[] = [];
    let count = 0;
    server.on('message', (message) => {
      count++;
      const match = /^w(\d)-(\d+)-x{40}$/.exec(message);
      if (!match) return void bad.push(message);
      const expectedIndex = next.get(match[1]!) ?? 0;
      if (Number(match[2]) !== expectedIndex) bad.push(`out of order: ${message}`);
      next.set(match[1]!, expectedIndex + 1);
    });
    await server.start();
    const writers = Array.from({ length: 8 }, (_, w) => run('python3', ['-c', WRITER, `${dir}/in`, String(w), '10000']).done);
    for (const result of await Promise.all(writers)) expect(result.code, result.stderr).to.equal(0);
    await waitFor(() => count >= 80_000, '80,000 messages', 30_000);
    expect(bad.slice(0, 5)).to.deep.equal([]);
    expect(count).to.equal(80_000);
    expect([...next.values()]).to.deep.equal(Array(8).fill(10_000));
    await server.stop();
    cleanup();
  });
});
