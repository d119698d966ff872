import { expect } from 'chai';
import fs from 'node:fs';
import { PipeIOServer, type RecreateInfo } from '../lib/index.js';
import { bash, tempDir, waitFor, within } from './helpers/fixtures.js';

describe('a deleted pipe comes back', function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;
  let server: PipeIOServer;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    server = new PipeIOServer(`${dir}/in`, `${dir}/out`);
  });
  afterEach(async () => {
    await server.stop();
    cleanup();
  });

  function nextRecreate(): Promise<RecreateInfo> {
    return new Promise((resolve) => server.once('recreate', resolve));
  }

  it('recreates a deleted in pipe within a second, and a client of the new path is served', async () => {
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await server.start();
    await bash(`printf 'before\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 1, 'first message');
    const recreated = nextRecreate();
    fs.unlinkSync(`${dir}/in`);
    expect(await within(recreated, 1000, 'recreate')).to.deep.equal({ path: `${dir}/in`, role: 'in' });
    expect(fs.statSync(`${dir}/in`).isFIFO()).to.equal(true);
    expect(fs.statSync(`${dir}/in`).mode & 0o777).to.equal(0o600);
    await bash(`printf 'after\\n' > "$IN"`, { IN: `${dir}/in` }).done;
    await waitFor(() => got.length === 2, 'second message');
    expect(got).to.deep.equal(['before', 'after']);
  });

  it('keeps reading a client that still holds the deleted in pipe, until it closes', async () => {
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await server.start();
    const client = bash(`exec 3> "$IN"; printf 'one\\n' >&3; while [ -e "$IN" ] && [ ! -e "$DIR/go" ]; do sleep 0.01; done; printf 'two\\n' >&3; printf 'tail' >&3; exec 3>&-`, {
      IN: `${dir}/in`,
      DIR: dir,
    });
    await waitFor(() => got.length === 1, 'first line');
    const recreated = nextRecreate();
    fs.unlinkSync(`${dir}/in`);
    await within(recreated, 1000, 'recreate');
    fs.writeFileSync(`${dir}/go`, '');
    await client.done;
    await waitFor(() => got.length === 3, 'lines from the old pipe');
    expect(got).to.deep.equal(['one', 'two', 'tail']);
  });

  it('loses no message queued for a deleted out pipe: the new pipe delivers them all, in order', async () => {
    await server.start();
    // 2,000 lines of 65 bytes: twice what the kernel holds, so some sit in the kernel and some in the queue.
    const lines = Array.from({ length: 2000 }, (_, i) => `${String(i).padStart(6, '0')}-${'y'.repeat(57)}`);
    const sent = Promise.all(lines.map((line) => server.send(line)));
    const recreated = nextRecreate();
    fs.unlinkSync(`${dir}/out`);
    await within(recreated, 1000, 'recreate');
    const reader = bash(`head -n 2000 "$OUT"`, { OUT: `${dir}/out` });
    await sent;
    const result = await reader.done;
    expect(result.stdout.split('\n').slice(0, -1)).to.deep.equal(lines);
  });

  it('recreates a deleted out pipe and new messages reach a client of the new path', async () => {
    await server.start();
    const recreated = nextRecreate();
    fs.unlinkSync(`${dir}/out`);
    expect(await within(recreated, 1000, 'recreate')).to.deep.equal({ path: `${dir}/out`, role: 'out' });
    const reader = bash(`IFS= read -r line < "$OUT"; printf '%s' "$line"`, { OUT: `${dir}/out` });
    await server.send('hello again');
    expect((await reader.done).stdout).to.equal('hello again');
  });

  it('hears of a deletion at once through inotify, without waiting for the polling interval', async () => {
    await server.stop();
    server = new PipeIOServer(`${dir}/in`, `${dir}/out`, { watchInterval: 60_000 });
    await server.start();
    const recreated = nextRecreate();
    fs.unlinkSync(`${dir}/in`);
    await within(recreated, 1000, 'recreate long before the 60 s poll');
  });

  it('falls back to polling when its folder is deleted, and brings the pipes back when the folder returns', async () => {
    await server.stop();
    fs.mkdirSync(`${dir}/sub`);
    server = new PipeIOServer(`${dir}/sub/in`, `${dir}/sub/out`, { watchInterval: 50 });
    const warnings: string[] = [];
    server.on('warning', (error) => warnings.push(error.code));
    await server.start();
    fs.rmSync(`${dir}/sub`, { recursive: true });
    await waitFor(() => warnings.includes('ERR_PIPE_RECREATE'), 'a warning that the pipe cannot come back yet');
    const recreated = new Promise<void>((resolve) => server.on('recreate', () => server.listenerCount('recreate') && resolve()));
    fs.mkdirSync(`${dir}/sub`);
    await within(recreated, 2000, 'recreate after the folder returns');
    await waitFor(() => fs.existsSync(`${dir}/sub/in`) && fs.existsSync(`${dir}/sub/out`), 'both pipes back');
    const reader = bash(`IFS= read -r line < "$OUT"; printf '%s' "$line"`, { OUT: `${dir}/sub/out` });
    await server.send('back');
    expect((await reader.done).stdout).to.equal('back');
  });

  it('leaves a non-FIFO that replaced its pipe alone and warns', async () => {
    await server.start();
    const warned = new Promise((resolve) => server.once('warning', resolve));
    fs.unlinkSync(`${dir}/in`);
    fs.writeFileSync(`${dir}/in`, 'user data');
    const warning = (await within(warned, 2000, 'warning')) as Error & { code: string };
    expect(warning.code).to.equal('ERR_NOT_A_FIFO');
    await server.stop();
    expect(fs.readFileSync(`${dir}/in`, 'utf8')).to.equal('user data');
  });
});
