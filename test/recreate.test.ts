import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
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

  it('hears at once through inotify when its pipe is renamed away, and when another FIFO is renamed over it', async () => {
    await server.stop();
    server = new PipeIOServer(`${dir}/in`, `${dir}/out`, { watchInterval: 60_000 });
    await server.start();
    let recreated = nextRecreate();
    fs.renameSync(`${dir}/in`, `${dir}/moved`);
    await within(recreated, 1000, 'recreate after a rename away, long before the 60 s poll');
    recreated = nextRecreate();
    execFileSync('mkfifo', ['-m', '600', `${dir}/spare`]);
    fs.renameSync(`${dir}/spare`, `${dir}/out`);
    expect(await within(recreated, 1000, 'recreate after a rename over it')).to.deep.equal({ path: `${dir}/out`, role: 'out' });
  });

  it('hears at once through inotify when its folder is moved away', async () => {
    await server.stop();
    fs.mkdirSync(`${dir}/sub`);
    server = new PipeIOServer(`${dir}/sub/in`, `${dir}/sub/out`, { watchInterval: 60_000 });
    const warned = new Promise<string>((resolve) => server.on('warning', (error) => resolve(error.code)));
    await server.start();
    fs.renameSync(`${dir}/sub`, `${dir}/elsewhere`);
    expect(await within(warned, 1000, 'a warning long before the 60 s poll')).to.equal('ERR_PIPE_RECREATE');
  });

  it("asks inotify for no event of a client's open, read or write, and watches its folder only for the folder's own end", async () => {
    // A folder watched for its entries' events (what fs.watch does) costs every write() into a
    // FIFO in it a lookup of the folder that writers contend on: 12% of 16 writers' throughput.
    await server.start();
    const inodes = new Map([fs.statSync(dir), fs.statSync(`${dir}/in`), fs.statSync(`${dir}/out`)].map((s, i) => [s.ino, i === 0 ? 'folder' : 'pipe']));
    const masks = new Map<string, number>();
    for (const fd of fs.readdirSync('/proc/self/fd')) {
      let info: string;
      try {
        if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:inotify') continue;
        info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      } catch {
        continue;
      }
      for (const [, ino, mask] of info.matchAll(/^inotify wd:\d+ ino:([0-9a-f]+) .*?mask:([0-9a-f]+)/gm)) {
        const what = inodes.get(parseInt(ino!, 16));
        if (what !== undefined) masks.set(`${what} ${ino}`, (masks.get(`${what} ${ino}`) ?? 0) | parseInt(mask!, 16));
      }
    }
    expect([...masks.keys()].sort().map((k) => k.split(' ')[0])).to.deep.equal(['folder', 'pipe', 'pipe']);
    const IN_ACCESS_MODIFY_OPEN_CLOSE = 0x1 | 0x2 | 0x8 | 0x10 | 0x20;
    const FOLDER_SELF = 0x400 | 0x800; // IN_DELETE_SELF | IN_MOVE_SELF
    for (const [what, mask] of masks) {
      expect(mask & IN_ACCESS_MODIFY_OPEN_CLOSE, `${what}: mask 0x${mask.toString(16)}`).to.equal(0);
      if (what.startsWith('folder')) expect(mask & 0xfff & ~FOLDER_SELF, `${what}: mask 0x${mask.toString(16)}`).to.equal(0);
    }
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
