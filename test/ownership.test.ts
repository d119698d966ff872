import { expect } from 'chai';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PipeIOError, PipeIOServer } from '../lib/index.js';
import { bash, run, tempDir, waitFor } from './helpers/fixtures.js';

const lib = fileURLToPath(new URL('../lib/index.js', import.meta.url));

describe('pipe ownership', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('refuses to start a second server on pipes a live server owns, naming the path, and leaves the first one serving', async () => {
    const first = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    const got: string[] = [];
    first.on('message', (message) => got.push(message));
    await first.start();
    const inode = fs.statSync(`${dir}/in`).ino;
    for (const managePipes of [true, false]) {
      const second = new PipeIOServer(`${dir}/in`, `${dir}/out`, { managePipes });
      const error = (await second.start().catch((e: unknown) => e)) as PipeIOError;
      expect(error).to.be.instanceOf(PipeIOError);
      expect(error.code).to.equal('ERR_PIPE_IN_USE');
      expect(error.message).to.contain(`${dir}/out`);
      expect(second.state).to.equal('stopped');
      await second.closed.then(
        () => expect.fail('closed should reject after a failed start'),
        (e: unknown) => expect(e).to.equal(error),
      );
    }
    expect(fs.statSync(`${dir}/in`).ino, 'the live pipe was not replaced').to.equal(inode);
    // Once the owner stops, the refused server starts: a failed start() is not remembered.
    const later = new PipeIOServer(`${dir}/in2`, `${dir}/out`);
    expect(((await later.start().catch((e: unknown) => e)) as PipeIOError).code).to.equal('ERR_PIPE_IN_USE');
    await bash(`printf 'still here\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 1, 'message to the first server');
    expect(got).to.deep.equal(['still here']);
    await first.stop();
    await later.start();
    expect(later.state).to.equal('running');
    await later.stop();
  });

  it('takes over the stale pipes of a server killed with SIGKILL, and clients that reconnect are served', async () => {
    const script = `
      import { PipeIOServer } from ${JSON.stringify(lib)};
      const server = new PipeIOServer(process.argv[1] + '/in', process.argv[1] + '/out', { permissions: 0o644 });
      await server.start();
      console.log('ready');
      setInterval(() => {}, 1000);
    `;
    const dead = run(process.execPath, ['--input-type=module', '-e', script, dir]);
    await waitFor(() => fs.existsSync(`${dir}/in`) && fs.existsSync(`${dir}/out`), 'first server up');
    await new Promise((resolve) => setTimeout(resolve, 200));
    dead.child.kill('SIGKILL');
    await dead.done;
    expect(fs.statSync(`${dir}/in`).isFIFO(), 'stale pipe left by the dead server').to.equal(true);

    const server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
    server.on('message', (message) => void server.send(`re: ${message}`));
    await server.start();
    expect(fs.statSync(`${dir}/in`).mode & 0o777, 'our permissions applied').to.equal(0o600);
    const client = await bash(`printf 'hello\\n' > "$IN"; IFS= read -r line < "$OUT"; printf '%s' "$line"`, { IN: `${dir}/in`, OUT: `${dir}/out` }).done;
    expect(client.stdout).to.equal('re: hello');
    await server.stop();
  });
});
