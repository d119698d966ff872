/**
 * One out pipe serves one reader. Two readers on it split the stream between them and tear
 * lines: what the README's client rules say, shown with real Python readers, so that the
 * rule stays true.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { PipeWriterServer } from '../lib/index.js';
import { run, tempDir, waitFor, within } from './helpers/fixtures.js';

/** A reader as a user would write it: Python's buffered line iteration (8 KiB reads). */
const PY_READER = `
import sys
with open(sys.argv[1], "rb") as pipe, open(sys.argv[2], "wb") as out:
    for line in pipe:
        out.write(line)
`;

function holds(pid: number, target: string): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

describe('two readers on one out pipe', function () {
  this.timeout(60_000);

  it('split the lines between them and tear some lines in two, one part in each reader', async () => {
    const { dir, cleanup } = tempDir();
    const out = path.join(dir, 'out');
    const server = new PipeWriterServer(out);
    try {
      await server.start();
      const files = [path.join(dir, 'a.txt'), path.join(dir, 'b.txt')];
      const readers = files.map((file) => run('python3', ['-c', PY_READER, out, file]));
      // Both must be reading before the first line, or the first one takes everything.
      await waitFor(() => readers.every((r) => holds(r.child.pid!, out)), 'both readers have the out pipe open');
      // Fixed-width lines (77 bytes: no divisor of the readers' 8 KiB reads) with unique numbers.
      const sent = Array.from({ length: 50_000 }, (_, i) => `line ${String(i).padStart(8, '0')} ${'x'.repeat(62)}`);
      for (let i = 0; i < sent.length; i += 1000) await Promise.all(sent.slice(i, i + 1000).map((line) => server.send(line)));
      await server.stop(); // end of stream for both, once they have read what is in the pipe
      const results = await within(Promise.all(readers.map((r) => r.done)), 30_000, 'readers end');
      for (const result of results) expect(result.code, result.stderr).to.equal(0);

      const got = files.map((file) => fs.readFileSync(file, 'latin1'));
      // Nothing lost, nothing doubled: the bytes are split, not copied.
      expect(got[0]!.length + got[1]!.length).to.equal(sent.length * 77);
      const lines = got.map((text) => text.split('\n').slice(0, -1));
      expect(lines[0]!.length, 'reader A got a share').to.be.above(0);
      expect(lines[1]!.length, 'reader B got a share').to.be.above(0);
      // A torn line: a reader's read() ended inside it and the other reader read the rest.
      const whole = new Set(sent);
      const torn = lines.flat().filter((line) => !whole.has(line));
      expect(torn.length, 'torn pieces').to.be.above(0);
      const wellFormed = /^line \d{8} x{62}$/;
      expect(torn.every((piece) => !wellFormed.test(piece))).to.equal(true);
    } finally {
      await server.stop();
      cleanup();
    }
  });
});
