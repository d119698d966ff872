import { expect } from 'chai';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PipeIOError, PipeIOServer } from '../lib/index.js';
import { coreForOthers, run, tempDir } from './helpers/fixtures.js';

const lib = fileURLToPath(new URL('../lib/index.js', import.meta.url));

async function startError(server: PipeIOServer): Promise<PipeIOError> {
  const error = await server.start().then(
    () => expect.fail('start() should have rejected'),
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(PipeIOError);
  expect(server.state).to.equal('stopped');
  return error as PipeIOError;
}

describe('bad paths', function () {
  this.timeout(20_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('rejects a path whose folder does not exist, naming the path and the cause, and removes the pipe it already made', async () => {
    const error = await startError(new PipeIOServer(`${dir}/in`, `${dir}/nowhere/out`));
    expect(error.code).to.equal('ERR_PIPE_OPEN');
    expect(error.message).to.contain(`${dir}/nowhere/out`).and.contain('folder does not exist');
    expect(fs.readdirSync(dir), 'nothing left behind').to.deep.equal([]);
  });

  it('rejects a regular file and a folder at the path and leaves them untouched', async () => {
    fs.writeFileSync(`${dir}/file`, 'precious');
    fs.mkdirSync(`${dir}/folder`);
    fs.writeFileSync(`${dir}/folder/inside`, 'also precious');
    const fileError = await startError(new PipeIOServer(`${dir}/file`, `${dir}/out`));
    expect(fileError.code).to.equal('ERR_NOT_A_FIFO');
    expect(fileError.message).to.contain(`${dir}/file`).and.contain('a regular file');
    const folderError = await startError(new PipeIOServer(`${dir}/in`, `${dir}/folder`));
    expect(folderError.code).to.equal('ERR_NOT_A_FIFO');
    expect(folderError.message).to.contain('a folder');
    expect(fs.readFileSync(`${dir}/file`, 'utf8')).to.equal('precious');
    expect(fs.readFileSync(`${dir}/folder/inside`, 'utf8')).to.equal('also precious');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['file', 'folder']);
  });

  it('rejects a missing pipe when managePipes is false, saying how to fix it', async () => {
    const error = await startError(new PipeIOServer(`${dir}/in`, `${dir}/out`, { managePipes: false }));
    expect(error.code).to.equal('ERR_PIPE_MISSING');
    expect(error.message).to.contain(`${dir}/out`).and.contain('mkfifo');
  });

  it('rejects a folder without write permission, naming the path and the cause', async () => {
    fs.mkdirSync(`${dir}/locked`, { mode: 0o555 });
    fs.chmodSync(`${dir}/locked`, 0o555);
    fs.chmodSync(dir, 0o755);
    // nobody may not be able to enter the checkout's folder: it loads a copy it can read.
    const copy = coreForOthers();
    const script = `
      import { PipeIOServer } from ${JSON.stringify(copy.server)};
      const server = new PipeIOServer(process.argv[1] + '/locked/in', process.argv[1] + '/locked/out');
      server.start().then(() => console.log('started'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));
    `;
    // Root ignores permissions, so as root the check runs as nobody.
    const asNobody = process.getuid?.() === 0 ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath]] : null;
    const [command, prefix] = asNobody ? [asNobody[0] as string, asNobody[1] as string[]] : [process.execPath, []];
    const result = await run(command, [...prefix, '--input-type=module', '-e', script, dir]).done.finally(copy.cleanup);
    expect(result.stderr).to.equal('');
    const error = JSON.parse(result.stdout) as { code: string; message: string };
    expect(error.code).to.equal('ERR_PIPE_OPEN');
    expect(error.message).to.contain(`${dir}/locked/`).and.contain('permission denied');
    expect(fs.readdirSync(`${dir}/locked`)).to.deep.equal([]);
  });

  describe('a failed start() removes what it made, whichever step failed', () => {
    it('the folder: the in pipe has no folder, so the out pipe it made first goes', async () => {
      const error = await startError(new PipeIOServer(`${dir}/nowhere/in`, `${dir}/out`));
      expect(error.message).to.contain(`${dir}/nowhere/in`);
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    });

    it('mkfifo: the system refuses to make the in pipe', async () => {
      // /sys lets anyone look a name up (ENOENT) but nobody, root included, make a FIFO there.
      const inPath = `/sys/pipe-io-test-${process.pid}`;
      const error = await startError(new PipeIOServer(inPath, `${dir}/out`));
      expect(error.code).to.equal('ERR_PIPE_OPEN');
      expect(error.message).to.contain(`Cannot create the FIFO '${inPath}'`);
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    });

    it('the lock: another server holds the in pipe', async () => {
      const holder = new PipeIOServer(`${dir}/held.in`, `${dir}/held.out`);
      await holder.start();
      try {
        const error = await startError(new PipeIOServer(`${dir}/held.in`, `${dir}/out`));
        expect(error.code).to.equal('ERR_PIPE_IN_USE');
        expect(fs.readdirSync(dir).sort()).to.deep.equal(['held.in', 'held.out']);
      } finally {
        await holder.stop();
      }
    });

    it('every step after mkfifo: out of descriptors (EMFILE), a failed start leaves nothing behind', async () => {
      // The child takes every descriptor it may have, then gives back 0, 1, 2, … before each start(),
      // so the limit bites at each step in turn: the out pipe's mkfifo, its open, the in pipe's, the reader's.
      const script = `
        import fs from 'node:fs';
        import { PipeIOServer } from ${JSON.stringify(lib)};
        const dir = process.argv[1];
        const started = [], failed = [];
        for (let free = 0; free < 12; free++) {
          const fillers = [];
          try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); } catch {}
          for (let k = 0; k < free; k++) fs.closeSync(fillers.pop());
          const server = new PipeIOServer(dir + '/p' + free + '.in', dir + '/p' + free + '.out');
          const outcome = await server.start().then(() => 'started', (e) => e);
          for (const fd of fillers) fs.closeSync(fd);
          if (outcome === 'started') started.push(server.inPipe, server.outPipe);
          else failed.push({ name: outcome.name, code: outcome.code, message: outcome.message });
        }
        // Exits without stop(): the running servers' pipes stay, to be told from leftovers.
        console.log(JSON.stringify({ started, failed }));
        process.exit(0);
      `;
      const result = await run('bash', ['-c', 'ulimit -n 200 && exec "$NODE" --input-type=module -e "$SCRIPT" "$DIR"'], {
        NODE: process.execPath,
        SCRIPT: script,
        DIR: dir,
      }).done;
      expect(result.stderr).to.equal('');
      const report = JSON.parse(result.stdout) as { started: string[]; failed: { name: string; code: string; message: string }[] };
      expect(report.started.length, 'servers that started').to.be.greaterThan(0);
      expect(report.failed.map((failure) => failure.message).join('\n'), 'the open step was met').to.contain('Cannot open the pipe');
      for (const failure of report.failed) {
        expect(failure).to.include({ name: 'PipeIOError', code: 'ERR_PIPE_OPEN' });
        expect(failure.message).to.contain('EMFILE');
      }
      const left = fs.readdirSync(dir).map((name) => `${dir}/${name}`);
      expect(left.sort(), 'exactly the pipes of the running servers').to.deep.equal(report.started.sort());
    });
  });

  it('rejects bad options early with the option name', () => {
    expect(() => new PipeIOServer('a', 'b', { maxMessageBytes: 0 })).to.throw(RangeError, /maxMessageBytes/);
    expect(() => new PipeIOServer('a', 'b', { permissions: 0o10000 })).to.throw(RangeError, /permissions/);
  });
});
