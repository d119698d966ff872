import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bash, tempDir, waitFor, within } from './helpers/fixtures.js';

const example = fileURLToPath(new URL('../examples/echo-server.js', import.meta.url));

describe('the echo server example (npm start)', function () {
  this.timeout(30_000);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`prints its pipes and a bash line, echoes, and stops cleanly on ${signal}`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        // No arguments: it makes ./pipes in its working directory, as `npm start` does.
        const child = spawn(process.execPath, [example], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        await waitFor(() => stdout.includes('Stop with Ctrl-C'), 'ready banner');
        expect(stdout).to.contain(`clients write to: ${dir}/pipes/send`).and.contain(`clients read from: ${dir}/pipes/recv`);
        // Run the very line the banner suggests.
        const oneLiner = stdout.split('\n').find((line) => line.includes('printf'))!.trim();
        const client = await bash(oneLiner.replace("'hello\\n'", "'héllo wörld\\n'")).done;
        expect(client.stdout).to.equal('héllo wörld\n');
        child.kill(signal);
        expect(await within(exited, 5000, 'echo server exit')).to.equal(0);
        expect(stdout).to.contain('Echo server stopped.');
        expect(fs.existsSync(`${dir}/pipes`), 'its folder is removed').to.equal(false);
      } finally {
        cleanup();
      }
    });
  }

  it('refuses to start on pipes another echo server owns, with a message naming the path', async () => {
    const { dir, cleanup } = tempDir();
    const first = spawn(process.execPath, [example, `${dir}/in`, `${dir}/out`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let ready = '';
      first.stdout.setEncoding('utf8').on('data', (s: string) => (ready += s));
      await waitFor(() => ready.includes('ready'), 'first server');
      const second = await bash(`node "$EX" "$DIR/in" "$DIR/out"`, { EX: example, DIR: dir }).done;
      expect(second.code).to.equal(1);
      expect(second.stderr).to.contain(`${dir}/out`).and.contain('in use by another pipe-io-server');
    } finally {
      first.kill('SIGTERM');
      await new Promise((resolve) => first.on('exit', resolve));
      cleanup();
    }
  });
});
