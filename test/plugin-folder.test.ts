/**
 * A plugin's private folder: 0700, the host's own, never a name someone planted; and stale
 * folders of dead hosts removed, never anything of another user. Other users are real:
 * `nobody` through setpriv (these tests need root and are skipped otherwise).
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PipeIOError, spawnPlugin } from '../lib/index.js';
import { makePrivateDir, sweepStale } from '../lib/plugin/folder.js';
import { within } from './helpers/fixtures.js';

const NOBODY = 65534;
const isRoot = process.geteuid?.() === 0;

/** Runs `script` in bash as nobody; fails the test if it fails. */
function asNobody(script: string): string {
  const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', script], { encoding: 'utf8', cwd: '/' });
  expect(result.status, `as nobody: ${script}\n${result.stderr}`).to.equal(0);
  return result.stdout;
}

/** The start time (field 22 of /proc/PID/stat) of `pid`. */
function startTime(pid: number | 'self'): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

const pidNs = (): string => /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))![1]!;

describe("a plugin's private folder", function () {
  this.timeout(20_000);
  let parent: string;

  beforeEach(function () {
    if (!isRoot) this.skip();
    // A shared folder like /tmp: anyone may create entries, nobody may rename another's.
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-folder-test-'));
    fs.chmodSync(parent, 0o1777);
  });

  afterEach(() => {
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
  });

  it('is 0700, owned by the host, named after it, and its FIFOs are out of reach of another user', async () => {
    const plugin = await spawnPlugin('bash', ['-c', 'exec sleep 100'], { tmpDir: parent, stdio: 'ignore', gracePeriod: 1000 });
    try {
      const stat = fs.lstatSync(plugin.dir);
      expect(stat.isDirectory()).to.equal(true);
      expect(stat.mode & 0o7777).to.equal(0o700);
      expect(stat.uid).to.equal(process.geteuid!());
      expect(path.basename(plugin.dir)).to.match(new RegExp(`^pipe-io-plugin-${pidNs()}-${process.pid}-${startTime('self')}-[a-z0-9]+$`));
      const reach = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', `exec 3>"$1"`, 'bash', plugin.sendPath], { encoding: 'utf8', timeout: 5000 });
      expect(reach.status, 'nobody opening the send FIFO').to.not.equal(0);
      expect(reach.stderr).to.match(/Permission denied/);
    } finally {
      await plugin.stop();
    }
  });

  it('never uses a folder or a symlink planted at its name by another user: it takes another name and leaves them untouched', async () => {
    const { pid } = process;
    const name = (suffix: string): string => path.join(parent, `pipe-io-plugin-${pidNs()}-${pid}-${startTime('self')}-${suffix}`);
    const target = path.join(parent, 'nobody-target');
    asNobody(`mkdir -m 777 "${name('planted0dir')}" && mkdir -m 777 "${target}" && ln -s "${target}" "${name('planted0link')}" && ln -s /nonexistent "${name('dangling0link')}"`);
    const suffixes = ['planted0dir', 'planted0link', 'dangling0link', 'fresh0name'];
    const made = await makePrivateDir(parent, () => suffixes.shift()!);
    expect(made).to.equal(name('fresh0name'));
    expect(fs.lstatSync(made).uid).to.equal(process.geteuid!());
    expect(fs.lstatSync(made).mode & 0o7777).to.equal(0o700);
    // The planted entries are as nobody left them: same owner, same mode, nothing added.
    expect(fs.lstatSync(name('planted0dir'))).to.deep.include({ uid: NOBODY });
    expect(fs.lstatSync(name('planted0dir')).mode & 0o777).to.equal(0o777);
    expect(fs.readdirSync(name('planted0dir'))).to.deep.equal([]);
    expect(fs.lstatSync(name('planted0link')).isSymbolicLink()).to.equal(true);
    expect(fs.readdirSync(target)).to.deep.equal([]);
    expect(fs.lstatSync(name('dangling0link')).isSymbolicLink()).to.equal(true);
    expect(fs.existsSync('/nonexistent')).to.equal(false);
  });

  it('refuses a parent folder that others can write without the sticky bit, or that another user owns', async () => {
    const open = path.join(parent, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const error = await spawnPlugin('true', [], { tmpDir: open }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_PIPE_UNSAFE');
    expect((error as Error).message).to.include(open).and.to.match(/sticky/);
    expect(fs.readdirSync(open)).to.deep.equal([]);

    const theirs = path.join(parent, 'theirs');
    asNobody(`mkdir -m 755 "${theirs}"`);
    const error2 = await spawnPlugin('true', [], { tmpDir: theirs }).catch((e: unknown) => e);
    expect(error2).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_PIPE_UNSAFE');
    expect((error2 as Error).message).to.include(theirs).and.to.include(`uid ${NOBODY}`);
    expect(fs.readdirSync(theirs)).to.deep.equal([]);
  });

  it('removes stale folders of dead hosts of this user, and nothing of a live host or of another user', async () => {
    const ns = pidNs();
    const live = spawn('sleep', ['100'], { stdio: 'ignore' });
    try {
      await within(new Promise((resolve) => live.once('spawn', resolve)), 5000, 'sleep starts');
      const gone = spawnSync('true');
      const livePid = live.pid!;
      const withFifos = (dir: string): string => {
        fs.mkdirSync(dir, { mode: 0o700 });
        spawnSync('mkfifo', [path.join(dir, 'send'), path.join(dir, 'recv')]);
        return dir;
      };
      const at = (name: string): string => path.join(parent, name);
      const old = new Date(Date.now() - 10 * 60_000);
      const dead = withFifos(at(`pipe-io-plugin-${ns}-${gone.pid}-12345-deadhost`));
      const reused = withFifos(at(`pipe-io-plugin-${ns}-${livePid}-1-reusedpid`)); // a live pid, but started at another time
      const alive = withFifos(at(`pipe-io-plugin-${ns}-${livePid}-${startTime(livePid)}-livehost`));
      const otherNs = withFifos(at(`pipe-io-plugin-1-${gone.pid}-12345-otherns`));
      const legacyStale = withFifos(at('pipe-io-plugin-Ab12Cd'));
      fs.utimesSync(legacyStale, old, old);
      const legacyYoung = withFifos(at('pipe-io-plugin-Yo12Ng'));
      const legacyHeld = withFifos(at('pipe-io-plugin-He1dXy'));
      fs.utimesSync(legacyHeld, old, old);
      const holder = spawn('bash', ['-c', `exec 3<>"${path.join(legacyHeld, 'recv')}"; exec sleep 100`], { stdio: 'ignore' });
      const nobodyDead = at(`pipe-io-plugin-${ns}-${gone.pid}-12345-nobodys`);
      const nobodyTarget = at('nobody-target');
      const nobodyLink = at(`pipe-io-plugin-${ns}-${gone.pid}-12345-nobodylink`);
      const nobodyLegacy = at('pipe-io-plugin-Nb12Xy');
      asNobody(`mkdir -m 700 "${nobodyDead}" "${nobodyTarget}" "${nobodyLegacy}" && mkfifo "${nobodyDead}/send" && echo keep > "${nobodyTarget}/file" && ln -s "${nobodyTarget}" "${nobodyLink}" && touch -d '10 minutes ago' "${nobodyLegacy}"`);
      try {
        // Wait until the holder has the FIFO open (its open() returns at once with O_RDWR).
        for (let i = 0; i < 200 && !fs.readdirSync(`/proc/${holder.pid}/fd`).some((fd) => safeReadlink(`/proc/${holder.pid}/fd/${fd}`).endsWith('recv')); i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const removed = await sweepStale(parent);
        expect(removed.sort()).to.deep.equal([dead, legacyStale, reused].sort());
        for (const kept of [alive, otherNs, legacyYoung, legacyHeld, nobodyDead, nobodyLegacy, nobodyTarget]) expect(fs.existsSync(kept), kept).to.equal(true);
        expect(fs.lstatSync(nobodyLink).isSymbolicLink()).to.equal(true);
        expect(fs.readFileSync(path.join(nobodyTarget, 'file'), 'utf8')).to.equal('keep\n');
        expect(fs.existsSync(path.join(nobodyDead, 'send'))).to.equal(true);
      } finally {
        holder.kill('SIGKILL');
      }
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('spawnPlugin sweeps its parent folder before making its own', async () => {
    const gone = spawnSync('true');
    const stale = path.join(parent, `pipe-io-plugin-${pidNs()}-${gone.pid}-777-stale`);
    fs.mkdirSync(stale, { mode: 0o700 });
    const plugin = await spawnPlugin('bash', ['-c', 'exec sleep 100'], { tmpDir: parent, stdio: 'ignore', gracePeriod: 1000 });
    await plugin.stop();
    expect(fs.existsSync(stale)).to.equal(false);
  });
});

function safeReadlink(link: string): string {
  try {
    return fs.readlinkSync(link);
  } catch {
    return '';
  }
}
