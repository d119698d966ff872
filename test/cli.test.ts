/**
 * The `pipe-io` command, driven as a user would: `node dist/lib/cli/main.js` in a child
 * process, through its stdin, stdout, stderr, exit status and signals.
 */
import { expect } from 'chai';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// This file runs from dist/test/.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(HERE, '../lib/cli/main.js');
const VERSION = (JSON.parse(fs.readFileSync(path.resolve(HERE, '../../package.json'), 'utf8')) as { version: string }).version;

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcessWithoutNullStreams;
  done: Promise<Result>;
  /** Output so far. */
  readonly stdout: string;
  readonly stderr: string;
}

let dir: string;
let running: Running[];

/** Starts the CLI. With `input`, writes it to stdin and closes stdin; without, stdin stays open. */
function cli(args: string[], input?: string): Running {
  // TMPDIR: the folders the CLI makes land in the test's folder, where the test can see them go.
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, TMPDIR: dir }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  if (input !== undefined) child.stdin.end(input);
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const run: Running = {
    child,
    done,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
  running.push(run);
  return run;
}

async function finished(run: Running, ms = 15_000): Promise<Result> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run.done,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`pipe-io did not exit within ${ms} ms; stderr: ${run.stderr}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function isDead(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return true;
  }
}

/** A bash plugin: answers "got: LINE" to each line, then exits with $1 at end of stream. */
const BASH_PLUGIN = `exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
while IFS= read -r line <&3; do printf 'got: %s\\n' "$line" >&4; done
exit "$1"`;

describe('pipe-io command line', function () {
  this.timeout(30_000);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-cli-test-'));
    running = [];
  });

  afterEach(async () => {
    for (const run of running) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await Promise.all(running.map((run) => run.done.catch(() => {})));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await finished(cli([flag]));
      expect(result).to.deep.include({ code: 0, stdout: `pipe-io ${VERSION}\n`, stderr: '' });
    }
  });

  it('--help lists the commands; every command has its own --help', async () => {
    const main = await finished(cli(['--help']));
    expect(main.code).to.equal(0);
    expect(main.stdout).to.match(/^Usage: pipe-io COMMAND/).and.match(/^\s+echo\s/m).and.match(/^\s+run\s/m);
    for (const args of [['run', '--help'], ['run', '-h'], ['help', 'run'], ['run', '--json', '--help', '--', 'x']]) {
      const result = await finished(cli(args));
      expect(result.code, args.join(' ')).to.equal(0);
      expect(result.stdout, args.join(' ')).to.match(/^Usage: pipe-io run /).and.include('--restart');
    }
    const echo = await finished(cli(['echo', '--help']));
    expect(echo.code).to.equal(0);
    expect(echo.stdout).to.match(/^Usage: pipe-io echo /).and.include('--in PATH');
  });

  it('rejects bad usage on stderr with status 2 and a pointer to --help', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['run', '--bogus', '--', 'true'], /--bogus/],
      [['run', '--restart', 'sometimes', '--', 'true'], /--restart must be/],
      [['run', '--max-restarts', 'many', '--', 'true'], /--max-restarts needs a whole number/],
      [['run', '--json'], /no command to run/],
      [['echo', '--in', path.join(dir, 'only-in')], /both --in and --out/],
      [['echo', 'extra'], /unexpected argument 'extra'/],
      // A bad Redis URL names the option, the value and the form expected, before anything is made.
      [['bridge', '--redis', 'notaurl', '--topic', 't'], /--redis 'notaurl' is not a URL; expected redis\[s\]:\/\/\[user:password@\]host\[:port\]\[\/db\]/],
      [['push', '--redis', 'http://h:1', 't', 'm'], /--redis 'http:\/\/h:1\/' has the scheme 'http:'/],
      [['pull', '--redis', 'redis://h/x', 't'], /not a database number/],
      [['ls', '--redis', 'notaurl'], /--redis 'notaurl' is not a URL/],
      [['work', '--redis', 'notaurl', '--from', 'a', '--group', 'g', '--', 'cat'], /--redis 'notaurl' is not a URL/],
    ];
    for (const [args, message] of cases) {
      const result = await finished(cli(args));
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stdout, args.join(' ')).to.equal('');
      expect(result.stderr, args.join(' ')).to.match(message).and.include(`pipe-io ${args[0]} --help`);
    }
    expect(fs.readdirSync(dir), 'nothing made by a refused command').to.deep.equal([]);
    for (const args of [['frobnicate'], ['--frobnicate'], []]) {
      const result = await finished(cli(args));
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr, args.join(' ')).to.not.equal('');
    }
  });

  it('run: stdin lines go to a bash plugin, its messages come out on stdout, and its exit status is returned', async () => {
    const lines = ['a', '\tb\\c', '', 'é 漢字 😀', '"quoted" $HOME'];
    const result = await finished(cli(['run', '--', 'bash', '-c', BASH_PLUGIN, 'plugin', '3'], lines.join('\n') + '\nno newline at the end'));
    expect(result.stdout).to.equal([...lines, 'no newline at the end'].map((l) => `got: ${l}\n`).join(''));
    expect(result.code).to.equal(3);
    expect(result.stderr).to.equal('');
    expect(fs.readdirSync(dir)).to.deep.equal([]); // the plugin's private folder is gone
  });

  it('run: what follows -- belongs to the plugin, --help included', async () => {
    const result = await finished(cli(['run', '--', 'bash', '-c', 'echo "$1 $2" > "$PIPE_IO_SEND"', 'plugin', '--help', '-x'], ''));
    expect(result).to.deep.include({ code: 0, stdout: '--help -x\n' });
  });

  it('run --json: JSON in and out, bad lines on either side reported on stderr and skipped', async () => {
    const plugin = `exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
      echo '{oops' >&4
      while IFS= read -r line <&3; do printf '{"got": %s}\\n' "$line" >&4; done`;
    const input = ['{"a": [1, 2]}', 'not json', '"é\\t漢字"', '  42  '].join('\n') + '\n';
    const result = await finished(cli(['run', '--json', '--', 'bash', '-c', plugin], input));
    expect(result.code).to.equal(0);
    expect(result.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).to.deep.equal([{ got: { a: [1, 2] } }, { got: 'é\t漢字' }, { got: 42 }]);
    expect(result.stdout).to.include('{"got":{"a":[1,2]}}'); // compact, one line each
    expect(result.stderr).to.match(/stdin line 2 is not JSON/).and.match(/could not be decoded.*\{oops/);
  });

  it('run --restart on-failure: a plugin that crashes once still answers every line', async () => {
    const marker = path.join(dir, 'crashed');
    const plugin = `exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
      while IFS= read -r line <&3; do
        printf 'got: %s\\n' "$line" >&4
        if [[ $line == 3 && ! -e ${marker} ]]; then : > ${marker}; exit 9; fi
      done`;
    const input = Array.from({ length: 10 }, (_, i) => String(i)).join('\n') + '\n';
    const result = await finished(cli(['run', '--restart', 'on-failure', '--max-restarts', '2', '--', 'bash', '-c', plugin], input));
    expect(result.stdout).to.equal(Array.from({ length: 10 }, (_, i) => `got: ${i}\n`).join(''));
    expect(result.stderr).to.match(/exited with status 9; restarting it/);
    expect(result.code).to.equal(0);
  });

  it('run: SIGTERM stops the plugin and its process group, removes the folder, and exits 143', async () => {
    const run = cli(['run', '--', 'bash', '-c', 'sleep 1000 & echo "$$ $!" > "$PIPE_IO_SEND"; wait']);
    await until(() => run.stdout.includes('\n'), 'the plugin pids');
    const [pid, grandchild] = run.stdout.trim().split(' ').map(Number);
    expect(fs.readdirSync(dir)).to.have.length(1);
    run.child.kill('SIGTERM');
    const result = await finished(run);
    expect(result.code).to.equal(143);
    expect(isDead(pid!), 'plugin').to.equal(true);
    expect(isDead(grandchild!), "plugin's child").to.equal(true);
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });

  it('run: SIGINT stops a plugin that ignores SIGTERM after --grace, and exits 130', async () => {
    const run = cli(['run', '--grace', '300', '--', 'bash', '-c', `trap '' TERM INT; echo "$$" > "$PIPE_IO_SEND"; while :; do sleep 0.05; done`]);
    await until(() => run.stdout.includes('\n'), 'the plugin pid');
    const pid = Number(run.stdout.trim());
    run.child.kill('SIGINT');
    const result = await finished(run);
    expect(result.code).to.equal(130);
    expect(isDead(pid)).to.equal(true);
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });

  it('run: a missing command exits 127 with a message', async () => {
    const result = await finished(cli(['run', '--', 'no-such-command-pipe-io'], ''));
    expect(result.code).to.equal(127);
    expect(result.stderr).to.include("cannot run 'no-such-command-pipe-io': command not found");
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });

  it('echo: prints its paths, answers a bash client, and removes everything on SIGTERM', async () => {
    const run = cli(['echo']);
    await until(() => /^try: .*\n/m.test(run.stdout), 'the echo banner');
    const inPath = /^in: +(.*)$/m.exec(run.stdout)![1]!;
    const outPath = /^out: +(.*)$/m.exec(run.stdout)![1]!;
    expect(path.dirname(inPath).startsWith(dir)).to.equal(true);
    expect(run.stdout).to.include(`export PIPE_IO_SEND=${inPath} PIPE_IO_RECV=${outPath}`);
    const client = spawn('bash', ['-c', 'exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"; for m in "hello é" "two	tabs"; do echo "$m" >&4; IFS= read -r line <&3; echo "$line"; done'], {
      env: { ...process.env, PIPE_IO_SEND: inPath, PIPE_IO_RECV: outPath },
    });
    let answer = '';
    client.stdout.setEncoding('utf8').on('data', (s: string) => (answer += s));
    const code = await new Promise((resolve) => client.on('close', resolve));
    expect(code).to.equal(0);
    expect(answer).to.equal('hello é\ntwo\ttabs\n');
    // The printed one-liner works as printed.
    const tryLine = /^try: (.*)$/m.exec(run.stdout)![1]!;
    const oneLiner = spawn('bash', ['-c', tryLine]);
    let oneLinerOut = '';
    oneLiner.stdout.setEncoding('utf8').on('data', (s: string) => (oneLinerOut += s));
    await new Promise((resolve) => oneLiner.on('close', resolve));
    expect(oneLinerOut).to.equal('hello\n');
    run.child.kill('SIGTERM');
    const result = await finished(run);
    expect(result.code).to.equal(0);
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });

  it('echo --in/--out: serves the given paths and removes the FIFOs on SIGINT', async () => {
    const inPath = path.join(dir, 'in');
    const outPath = path.join(dir, 'out');
    const run = cli(['echo', '--in', inPath, '--out', outPath]);
    await until(() => run.stdout.includes('try:'), 'the echo banner');
    expect(fs.statSync(inPath).isFIFO()).to.equal(true);
    run.child.kill('SIGINT');
    expect((await finished(run)).code).to.equal(0);
    expect(fs.existsSync(inPath) || fs.existsSync(outPath)).to.equal(false);
  });
});
