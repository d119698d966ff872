import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { PipeIOError, PipeIOServer, type PipeIOServerOptions } from '../lib/index.js';
import { type Running, bash, run, sleep, tempDir, waitFor, within } from './helpers/fixtures.js';

const NOBODY = 65534;

/** What of a planted file must stay as its planter left it. */
function snapshot(path: string): { ino: number; uid: number; mode: number; link?: string } {
  const stats = fs.lstatSync(path);
  return { ino: stats.ino, uid: stats.uid, mode: stats.mode, ...(stats.isSymbolicLink() ? { link: fs.readlinkSync(path) } : {}) };
}

// Another user attacks a root server through the pipes' folder: real users, real processes.
describe('security: other users are adversaries', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  let shared: string;
  let planters: Running[];
  let servers: PipeIOServer[];

  before(function () {
    // Only root can act as another user; as anyone else there is no second user to attack with.
    if (process.getuid?.() !== 0) this.skip();
  });
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    fs.chmodSync(dir, 0o755);
    shared = `${dir}/shared`;
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777); // like /tmp: everyone may add files, only owners remove them
    planters = [];
    servers = [];
  });
  afterEach(async () => {
    for (const planter of planters) planter.child.kill('SIGKILL');
    await Promise.all(planters.map((planter) => planter.done));
    await Promise.all(servers.map((server) => server.stop()));
    cleanup();
  });

  /** Runs `script` in bash as nobody, with `env`. */
  function asNobody(script: string, env: Record<string, string> = {}): Running {
    const planter = run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'bash', '-c', script], env);
    planters.push(planter);
    return planter;
  }

  /** A nobody process that holds a FIFO of its own at `path` open for writing, with one line already in it. */
  async function plantInjector(path: string): Promise<Running> {
    const planter = asNobody(`mkfifo -m 666 "$P" && exec 3<>"$P" && printf 'injected\\n' >&3 && echo ready && exec sleep 60`, { P: path });
    await waitFor(() => planter.output.stdout.includes('ready'), 'the planter to hold its FIFO');
    return planter;
  }

  /** A nobody process waiting to read a FIFO of its own at `path`; whatever it gets is in its stdout. */
  async function plantListener(path: string): Promise<Running> {
    await asNobody(`mkfifo -m 666 "$P"`, { P: path }).done;
    return asNobody(`exec cat "$P"`, { P: path });
  }

  function newServer(inPath: string, outPath: string, options: PipeIOServerOptions = {}): PipeIOServer {
    const server = new PipeIOServer(inPath, outPath, options);
    servers.push(server);
    return server;
  }

  async function startError(server: PipeIOServer, onStarted: () => Promise<unknown> = async () => {}): Promise<PipeIOError> {
    const error = await server.start().then(
      async () => {
        await onStarted();
        return expect.fail('start() should have rejected');
      },
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(PipeIOError);
    return error as PipeIOError;
  }

  function nextWarning(server: PipeIOServer): Promise<PipeIOError> {
    return new Promise((resolve) => server.once('warning', (error) => resolve(error as PipeIOError)));
  }

  it('refuses an out FIFO another user planted before start, sends it nothing and leaves it as it was', async () => {
    const planter = await plantListener(`${shared}/out`);
    const planted = snapshot(`${shared}/out`);
    const server = newServer(`${shared}/in`, `${shared}/out`);
    const error = await startError(server, () => server.send('secret'));
    expect(error.code).to.equal('ERR_PIPE_UNSAFE');
    expect(error.path).to.equal(`${shared}/out`);
    expect(error.message).to.contain(`'${shared}/out'`).and.contain('nobody (uid 65534)').and.contain('remove it');
    await sleep(200);
    planter.child.kill();
    await planter.done;
    expect(planter.output.stdout, 'bytes the planter read').to.equal('');
    expect(snapshot(`${shared}/out`)).to.deep.equal(planted);
    expect(fs.readdirSync(shared), 'nothing of the server left').to.deep.equal(['out']);
  });

  it('refuses an in FIFO another user planted and holds open, and reads none of its lines', async () => {
    await plantInjector(`${shared}/in`);
    const planted = snapshot(`${shared}/in`);
    const server = newServer(`${shared}/in`, `${shared}/out`);
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    const error = await startError(server, () => sleep(300));
    expect(error.code).to.equal('ERR_PIPE_UNSAFE');
    expect(error.message).to.contain(`'${shared}/in'`).and.contain('nobody');
    expect(got).to.deep.equal([]);
    expect(snapshot(`${shared}/in`)).to.deep.equal(planted);
    expect(fs.readdirSync(shared), 'the out pipe it made is removed').to.deep.equal(['in']);
  });

  it('never adopts a FIFO another user put at its out path while serving: warns, and keeps serving the clients it has', async () => {
    const server = newServer(`${shared}/in`, `${shared}/out`);
    await server.start();
    const client = bash(`exec 3< "$OUT"; echo opened >&2; head -n1 <&3`, { OUT: `${shared}/out` });
    await waitFor(() => client.output.stderr.includes('opened'), 'the client to open the out pipe');
    const planter = await plantListener(`${shared}/planted`);
    const planted = snapshot(`${shared}/planted`);
    const warned = nextWarning(server);
    // The pipe is deleted and someone else's FIFO is there before the server looks: one atomic step.
    fs.renameSync(`${shared}/planted`, `${shared}/out`);
    const warning = await within(warned, 2000, 'the warning');
    expect(warning.code).to.equal('ERR_PIPE_UNSAFE');
    expect(warning.message).to.contain(`'${shared}/out'`).and.contain('nobody');
    await server.send('secret');
    expect((await within(client.done, 2000, 'the client')).stdout).to.equal('secret\n');
    await sleep(200);
    planter.child.kill();
    await planter.done;
    expect(planter.output.stdout, 'bytes the planter read').to.equal('');
    expect(snapshot(`${shared}/out`)).to.deep.equal(planted);
  });

  it('never reads a FIFO another user put at its in path while serving, and keeps reading the clients it has', async () => {
    const server = newServer(`${shared}/in`, `${shared}/out`);
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await server.start();
    const client = bash(`exec 3> "$IN"; echo opened >&2; while [ ! -e "$GO" ]; do sleep 0.01; done; printf 'still served\\n' >&3`, {
      IN: `${shared}/in`,
      GO: `${dir}/go`,
    });
    await waitFor(() => client.output.stderr.includes('opened'), 'the client to open the in pipe');
    await plantInjector(`${shared}/planted`);
    const planted = snapshot(`${shared}/planted`);
    const warned = nextWarning(server);
    fs.renameSync(`${shared}/planted`, `${shared}/in`);
    expect((await within(warned, 2000, 'the warning')).code).to.equal('ERR_PIPE_UNSAFE');
    fs.writeFileSync(`${dir}/go`, '');
    await within(client.done, 2000, 'the client');
    await waitFor(() => got.includes('still served'), 'the old client to be served');
    await sleep(300);
    expect(got).to.deep.equal(['still served']);
    expect(snapshot(`${shared}/in`)).to.deep.equal(planted);
  });

  it('never follows a symbolic link another user planted at a pipe path', async () => {
    const planter = await plantListener(`${shared}/target`);
    await asNobody(`ln -s target "$P"`, { P: `${shared}/out` }).done;
    const link = snapshot(`${shared}/out`);
    const target = snapshot(`${shared}/target`);
    const server = newServer(`${shared}/in`, `${shared}/out`);
    const error = await startError(server, () => server.send('secret'));
    expect(error.code).to.equal('ERR_NOT_A_FIFO');
    expect(error.message).to.contain('a symbolic link').and.contain('left untouched');
    await sleep(200);
    planter.child.kill();
    await planter.done;
    expect(planter.output.stdout).to.equal('');
    expect(snapshot(`${shared}/out`)).to.deep.equal(link);
    expect(snapshot(`${shared}/target`)).to.deep.equal(target);
    expect(fs.readdirSync(shared).sort()).to.deep.equal(['out', 'target']);
  });

  it('refuses a folder others can write without the sticky bit, unless allowUnsafeFolder; even then never adopts their FIFO', async () => {
    fs.chmodSync(shared, 0o777);
    const error = await startError(newServer(`${shared}/in`, `${shared}/out`));
    expect(error.code).to.equal('ERR_PIPE_UNSAFE');
    expect(error.message).to.contain(`'${shared}'`).and.contain('every user can write it (mode 0777)').and.contain('allowUnsafeFolder');
    expect(fs.readdirSync(shared), 'nothing made in it').to.deep.equal([]);
    // Group-writable: refused for a group others share (nogroup), accepted for root's own private group.
    fs.chownSync(shared, 0, NOBODY);
    fs.chmodSync(shared, 0o775);
    expect((await startError(newServer(`${shared}/in`, `${shared}/out`))).message).to.contain(`its group (gid ${NOBODY}) can write it`);
    fs.chownSync(shared, 0, 0);
    fs.chmodSync(shared, 0o775);
    const ownGroup = newServer(`${shared}/in`, `${shared}/out`);
    await ownGroup.start();
    await ownGroup.stop();

    fs.chmodSync(shared, 0o777);
    const server = newServer(`${shared}/in`, `${shared}/out`, { allowUnsafeFolder: true });
    await server.start();
    const warned = nextWarning(server);
    // Without the sticky bit, nobody may put its own FIFO in place of root's, in one rename.
    const planter = asNobody(`mkfifo -m 666 "$P.new" && mv -f "$P.new" "$P" && exec cat "$P"`, { P: `${shared}/out` });
    expect((await within(warned, 2000, 'the warning')).code).to.equal('ERR_PIPE_UNSAFE');
    const planted = snapshot(`${shared}/out`);
    expect(planted.uid).to.equal(NOBODY);
    void server.send('secret').catch(() => {});
    await sleep(300);
    planter.child.kill();
    await planter.done;
    expect(planter.output.stdout).to.equal('');
    expect(snapshot(`${shared}/out`)).to.deep.equal(planted);
  });

  it('replaces, rather than takes over, a stale FIFO of its own whose old mode let others in (they may still hold it)', async () => {
    execMkfifo(`${shared}/in`, 0o666);
    const stale = snapshot(`${shared}/in`);
    // nobody opened it while its mode allowed, and keeps it open with a line in it.
    const planter = asNobody(`exec 3<>"$P" && printf 'injected\\n' >&3 && echo ready && exec sleep 60`, { P: `${shared}/in` });
    await waitFor(() => planter.output.stdout.includes('ready'), 'the planter to hold the FIFO');
    const server = newServer(`${shared}/in`, `${shared}/out`);
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await server.start();
    const now = snapshot(`${shared}/in`);
    expect(now.ino, 'a new FIFO').to.not.equal(stale.ino);
    expect(now.mode & 0o777).to.equal(0o600);
    await bash(`printf 'hello\\n' > "$IN"`, { IN: `${shared}/in` }).done;
    await waitFor(() => got.length > 0, 'the message');
    await sleep(200);
    expect(got).to.deep.equal(['hello']);
  });

  it('with managePipes: false, uses FIFOs another user made on purpose, and leaves them', async () => {
    await asNobody(`mkfifo -m 666 "$D/in" "$D/out"`, { D: shared }).done;
    const server = newServer(`${shared}/in`, `${shared}/out`, { managePipes: false });
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await server.start();
    await asNobody(`printf 'hi\\n' > "$P"`, { P: `${shared}/in` }).done;
    await waitFor(() => got.length === 1, 'the message');
    await server.stop();
    expect(snapshot(`${shared}/in`).uid).to.equal(NOBODY);
  });
});

/** mkfifo(1) as this process's user, with exactly `mode`. */
function execMkfifo(path: string, mode: number): void {
  expect(spawnSync('mkfifo', ['-m', mode.toString(8), path], { stdio: 'inherit' }).status).to.equal(0);
}
