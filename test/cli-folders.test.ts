/**
 * The private folders `pipe-io echo` and `pipe-io bridge` make for their pipes: only their user
 * can enter them, other users cannot plant or swap anything into their use, and at exit they
 * remove their own folder and nothing else.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Running, run, tempDir, waitFor } from './helpers/fixtures.js';
import { RedisServer } from './helpers/redis.js';

const MAIN = fileURLToPath(new URL('../lib/cli/main.js', import.meta.url));
const isRoot = process.getuid?.() === 0;

describe('private folders of pipe-io echo and bridge', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  let children: Running[];
  let redis: RedisServer | undefined;

  before(async () => {
    redis = await RedisServer.start();
  });
  after(async () => {
    await redis?.stop();
  });
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    fs.chmodSync(dir, 0o755); // so that nobody can try the pipes
    children = [];
  });
  afterEach(async () => {
    for (const child of children) child.child.kill('SIGKILL');
    await Promise.all(children.map((child) => child.done));
    cleanup();
  });

  /** `pipe-io ARGS` under umask 000 (the mode must not depend on it), its temp folder `tmp`. */
  function cli(args: string[], tmp: string): Running {
    const child = run('bash', ['-c', 'umask 000 && exec "$NODE" "$MAIN" "$@"', 'pipe-io', ...args], {
      NODE: process.execPath,
      MAIN,
      TMPDIR: tmp,
    });
    children.push(child);
    return child;
  }

  const commands: [string, () => string[]][] = [
    ['echo', () => ['echo']],
    ['bridge', () => ['bridge', '--redis', redis!.url, '--topic', 'private-folder-test']],
  ];

  for (const [name, args] of commands) {
    it(`${name}: its folder is 0700, owned by its user, its pipes 0600; it goes at exit`, async () => {
      const child = cli(args(), dir);
      await waitFor(() => /^export /m.test(child.output.stdout), 'the banner', 15_000);
      const [folderName, ...others] = fs.readdirSync(dir);
      expect(others).to.deep.equal([]);
      expect(folderName).to.match(new RegExp(`^pipe-io-${name}-`));
      const folder = path.join(dir, folderName!);
      const stats = fs.lstatSync(folder);
      expect(stats.isDirectory(), 'a real folder, not a link').to.equal(true);
      expect(stats.mode & 0o7777).to.equal(0o700);
      expect(stats.uid).to.equal(process.geteuid!());
      for (const pipe of ['in', 'out']) {
        const pipeStats = fs.lstatSync(path.join(folder, pipe));
        expect(pipeStats.isFIFO()).to.equal(true);
        expect(pipeStats.mode & 0o777).to.equal(0o600);
        expect(pipeStats.uid).to.equal(process.geteuid!());
      }
      if (isRoot) {
        const nobody = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', 'echo x > "$P"'], {
          P: path.join(folder, 'in'),
        }).done;
        expect(nobody.code).to.not.equal(0);
        expect(nobody.stderr).to.contain('Permission denied');
      }
      child.child.kill('SIGTERM');
      expect((await child.done).code).to.equal(0);
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    });

    it(`${name}: at exit, removes only its own folder, not one put in its place`, async () => {
      const child = cli(args(), dir);
      await waitFor(() => /^export /m.test(child.output.stdout), 'the banner', 15_000);
      const folder = path.join(dir, fs.readdirSync(dir)[0]!);
      // Its folder is moved away and another one, with something precious in it, takes its name.
      fs.renameSync(folder, `${folder}.moved`);
      fs.mkdirSync(folder);
      fs.writeFileSync(`${folder}/precious`, 'keep me');
      child.child.kill('SIGTERM');
      await child.done;
      expect(fs.readFileSync(`${folder}/precious`, 'utf8')).to.equal('keep me');
    });

    it(`${name}: refuses a temp folder other users could swap its folder in, and makes nothing there`, async function () {
      if (!isRoot) this.skip();
      // TMPDIR names a folder nobody owns (through a link, even): nobody could rename the
      // private folder away and put its own, with its own pipes, in its place.
      const planted = path.join(dir, 'nobody-tmp');
      const link = path.join(dir, 'tmp');
      fs.mkdirSync(planted);
      fs.chownSync(planted, 65534, 65534);
      fs.symlinkSync(planted, link);
      const child = cli(args(), link);
      const result = await child.done;
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain(`'${link}' is unsafe`).and.contain('nobody');
      expect(fs.readdirSync(planted)).to.deep.equal([]);
      // Writable by all without the sticky bit: the same.
      fs.mkdirSync(path.join(dir, 'open'));
      fs.chmodSync(path.join(dir, 'open'), 0o777);
      const open = await cli(args(), path.join(dir, 'open')).done;
      expect(open.code).to.equal(1);
      expect(open.stderr).to.contain('every user can write it');
      expect(fs.readdirSync(path.join(dir, 'open'))).to.deep.equal([]);
    });
  }
});
