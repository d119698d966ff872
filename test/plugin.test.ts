/**
 * spawnPlugin with real plugins in bash, Python and Node: real processes, real FIFOs.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodecError, PipeIOError, type PluginExit, type PluginHandle, type PluginOptions, spawnPlugin } from '../lib/index.js';
import { procState, sleep, within } from './helpers/fixtures.js';

// This file runs from dist/test/; the fixtures are compiled beside it.
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');


/**
 * Our own child must be gone entirely: not running, and reaped (no zombie).
 * A grandchild re-parented to init may stay a zombie here, because this sandbox's pid 1
 * does not reap; dead is all we can ask of it.
 */
function expectReaped(pid: number, what: string): void {
  expect(procState(pid), `${what} (pid ${pid})`).to.equal(null);
}
function expectDead(pid: number, what: string): void {
  expect(procState(pid), `${what} (pid ${pid})`).to.be.oneOf([null, 'Z', 'X']);
}

/** Waits for `count` messages (or fails, saying how many came). */
async function collect<T>(plugin: PluginHandle<T>, count: number, ms = 10_000): Promise<T[]> {
  const got: T[] = [];
  const it = plugin.messages();
  const deadline = Date.now() + ms;
  while (got.length < count) {
    const next = await within(it.next(), Math.max(1, deadline - Date.now()), `message ${got.length + 1} of ${count}`);
    if (next.done) break;
    got.push(next.value);
  }
  return got;
}

/** Bash: every line back, unchanged; exits 0 at end of stream. `read -r` with IFS= keeps every byte but NUL. */
const BASH_ECHO = `exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
while IFS= read -r line <&3; do printf '%s\\n' "$line" >&4; done
echo bye >&4`;

const PY_ECHO = `
import json, os
recv = open(os.environ["PIPE_IO_RECV"], "r", encoding="utf-8", newline="\\n")
send = open(os.environ["PIPE_IO_SEND"], "w", encoding="utf-8", newline="\\n")
for line in recv:
    reply = {"echo": json.loads(line), "pid": os.getpid(), "id": os.environ["PIPE_IO_PLUGIN_ID"], "host": int(os.environ["PIPE_IO_HOST_PID"])}
    send.write(json.dumps(reply, ensure_ascii=False) + "\\n")
    send.flush()
`;

const AWKWARD = ['', ' ', '\t', 'tab\tinside\t', '\\', 'back\\slash \\n \\t', '"double" \'single\'', '%s %d', '-n', '-e', 'é', '漢字', '😀 👍🏽 🇫🇷', 'x'.repeat(4095), 'y'.repeat(64 * 1024)];

let dir: string;
let handles: PluginHandle<any>[];

async function plugin<T = string>(command: string, args: string[], options: PluginOptions<T> = {}): Promise<PluginHandle<T>> {
  const handle = await spawnPlugin<T>(command, args, { tmpDir: dir, stdio: 'ignore', gracePeriod: 2000, ...options });
  handles.push(handle);
  return handle;
}

describe('spawnPlugin', function () {
  this.timeout(30_000);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-plugin-test-'));
    handles = [];
  });

  afterEach(async () => {
    await Promise.all(handles.map((h) => h.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a bash plugin: round trips of awkward text in order, then end of input lets it exit 0', async () => {
    const p = await plugin('bash', ['-c', BASH_ECHO]);
    expect(p.pid).to.be.a('number');
    const pid = p.pid!;
    const folder = p.dir;
    expect(fs.statSync(folder).mode & 0o777).to.equal(0o700);
    expect(fs.statSync(p.sendPath).isFIFO()).to.equal(true);
    const sent = [...AWKWARD, ...Array.from({ length: 100 }, (_, i) => `line ${i}`)];
    const replies = collect(p, sent.length + 1);
    await Promise.all(sent.map((m) => p.send(m)));
    await p.end();
    expect(await replies).to.deep.equal([...sent, 'bye']);
    const exit = await within(p.exited, 5000, 'exit after end()');
    expect(exit).to.deep.include({ code: 0, signal: null, restarts: 0 });
    expectReaped(pid, 'the plugin');
    expect(fs.existsSync(folder)).to.equal(false);
    const error = await p.send('too late').catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_SERVER_STOPPED');
  });

  it('runs a Python plugin with the json codec and gives it the four PIPE_IO_ variables', async () => {
    const p = await plugin<any>('python3', ['-c', PY_ECHO], { codec: 'json', id: 'py-test' });
    const sent: unknown[] = [...AWKWARD, { nested: [1, null, true, 'é 漢字 😀'] }, 3.25];
    const replies = collect(p, sent.length);
    for (const m of sent) await p.send(m);
    const got = await replies;
    expect(got.map((r) => r.echo)).to.deep.equal(sent);
    expect(got[0]).to.deep.include({ pid: p.pid, id: 'py-test', host: process.pid });
    const pid = p.pid!;
    const exit = await p.stop();
    expect(exit.signal).to.equal('SIGTERM');
    expectReaped(pid, 'the plugin');
  });

  it('runs a Node plugin built on PipeIOClient; end of input ends its for-await loop and it exits 0', async () => {
    const p = await plugin<any>(process.execPath, [path.join(FIXTURES, 'node-plugin.js')], { codec: 'json' });
    const sent: unknown[] = [...AWKWARD, { a: { b: ['c'] } }];
    const replies = collect(p, sent.length);
    for (const m of sent) await p.send(m);
    const got = await replies;
    expect(got.map((r) => r.echo)).to.deep.equal(sent);
    expect(got[0]).to.deep.include({ pid: p.pid, id: p.id, host: process.pid });
    await p.end();
    expect(await within(p.exited, 5000, 'exit')).to.deep.include({ code: 0, signal: null });
  });

  it('runs the example clients shipped in clients/ as plugins, through the environment alone', async () => {
    const clients = path.resolve(FIXTURES, '../../../clients');
    for (const [command, script] of [
      ['python3', path.join(clients, 'python/example_client.py')],
      ['bash', path.join(clients, 'bash/example-client.sh')],
    ] as const) {
      const p = await plugin(command, [script]);
      const replies = collect(p, 2);
      await p.send('hello é 漢字 😀');
      await p.send('\tsecond\\');
      expect(await replies, script).to.deep.equal(['echo: hello é 漢字 😀', 'echo: \tsecond\\']);
      await p.end();
      expect(await within(p.exited, 5000, `${script} exit`), script).to.deep.include({ code: 0, signal: null });
    }
  });

  it('restarts a plugin that crashes mid-stream and loses no message, including those sent while it was down', async () => {
    const marker = path.join(dir, 'crashed-once');
    // Replies, then crashes on "crash here" the first time. bash reads one byte at a time, so
    // it holds nothing it has not handled when it dies.
    const script = `exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
      while IFS= read -r line <&3; do
        printf '%s\\n' "$line" >&4
        if [[ $line == "crash here" && ! -e "$MARKER" ]]; then : > "$MARKER"; exit 1; fi
      done`;
    const p = await plugin('bash', ['-c', script], { restart: 'on-failure', restartDelay: 300, env: { MARKER: marker } });
    const pids: number[] = [p.pid!];
    const exits: PluginExit[] = [];
    p.on('spawn', (pid) => pids.push(pid));
    p.on('exit', (exit) => exits.push(exit));
    const restarted = new Promise<void>((resolve) => p.once('restart', () => resolve()));
    const first = [...Array.from({ length: 20 }, (_, i) => `before ${i}`), 'crash here', ...Array.from({ length: 200 }, (_, i) => `queued ${i}`)];
    const replies = collect(p, first.length + 50, 20_000);
    // All at once: most of them are still in the pipe when the first instance dies.
    await Promise.all(first.map((m) => p.send(m)));
    await within(restarted, 10_000, 'restart');
    expect(p.pid).to.equal(undefined); // down for restartDelay
    const during = Array.from({ length: 50 }, (_, i) => `while down ${i}`);
    await Promise.all(during.map((m) => p.send(m)));
    expect(await replies).to.deep.equal([...first, ...during]);
    expect(p.restarts).to.equal(1);
    expect(pids).to.have.length(2);
    expect(pids[1]).to.not.equal(pids[0]);
    expect(exits[0]).to.deep.include({ code: 1, signal: null });
    expectReaped(pids[0]!, 'the crashed instance');
  });

  it('does not glue a line cut by a crash to the next instance\'s first line', async () => {
    const marker = path.join(dir, 'once');
    const script = `if [[ ! -e "$MARKER" ]]; then : > "$MARKER"; printf 'cut off' > "$PIPE_IO_SEND"; exit 1; fi
      echo whole > "$PIPE_IO_SEND"; exec sleep 100`;
    const p = await plugin('bash', ['-c', script], { restart: 'on-failure', restartDelay: 10, env: { MARKER: marker } });
    expect(await collect(p, 2)).to.deep.equal(['cut off', 'whole']);
  });

  it('after end(), a plugin that crashes is restarted and still gets the unread lines, then end of stream', async () => {
    const marker = path.join(dir, 'crashed-once');
    const go = path.join(dir, 'go');
    // Crashes on "crash" the first time, but only once the test says so: after end() has
    // closed the host's writer. The new instance opens its pipe with a blocking open().
    const script = `exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
      while IFS= read -r line <&3; do
        printf '%s\\n' "$line" >&4
        if [[ $line == crash && ! -e "$MARKER" ]]; then
          : > "$MARKER"
          while [[ ! -e "$GO" ]]; do sleep 0.02; done
          exit 1
        fi
      done
      echo bye >&4`;
    const p = await plugin('bash', ['-c', script], { restart: 'on-failure', restartDelay: 10, env: { MARKER: marker, GO: go } });
    const replies = collect(p, 5);
    for (const m of ['a', 'crash', 'b', 'c']) await p.send(m);
    await within(p.end(), 5000, 'end()');
    fs.writeFileSync(go, '');
    expect(await replies).to.deep.equal(['a', 'crash', 'b', 'c', 'bye']);
    expect(await within(p.exited, 5000, 'exit')).to.deep.include({ code: 0, restarts: 1 });
  });

  it('gives up after maxRestarts failures in a row, with the last exit status', async () => {
    const restarts: number[] = [];
    const p = await plugin('bash', ['-c', 'exit 7'], { restart: 'on-failure', maxRestarts: 2, restartDelay: 10 });
    p.on('restart', (info) => restarts.push(info.attempt));
    const exit = await within(p.exited, 10_000, 'give up');
    expect(exit).to.deep.include({ code: 7, signal: null, restarts: 2 });
    expect(restarts).to.deep.equal([1, 2]);
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });

  it("with restart: 'never', a crash ends it: exited resolves, the folder and any child it left are gone", async () => {
    const p = await plugin('bash', ['-c', 'sleep 1000 & echo "$!" > "$PIPE_IO_SEND"; exec 3<"$PIPE_IO_RECV"; read -r line <&3; exit 3']);
    const [grandchild] = await collect(p, 1);
    const folder = p.dir;
    await p.send('die');
    const exit = await within(p.exited, 5000, 'exit');
    expect(exit).to.deep.include({ code: 3, signal: null, restarts: 0 });
    expect(fs.existsSync(folder)).to.equal(false);
    // The leader died on its own; its background child must not live on as an orphan.
    expectDead(Number(grandchild), 'the plugin\'s child');
  });

  it('stops a plugin that ignores SIGTERM with SIGKILL after the grace period, with its children', async () => {
    const p = await plugin('bash', ['-c', `trap '' TERM; sleep 1000 & echo "$!" > "$PIPE_IO_SEND"; while :; do sleep 0.05; done`], { gracePeriod: 500 });
    const [grandchild] = await collect(p, 1);
    const pid = p.pid!;
    const folder = p.dir;
    const started = Date.now();
    const exit = await within(p.stop(), 5000, 'stop');
    expect(Date.now() - started).to.be.at.least(450);
    expect(exit.signal).to.equal('SIGKILL');
    expectReaped(pid, 'the plugin');
    expectDead(Number(grandchild), 'the plugin\'s child (it ignored SIGTERM too)');
    expect(fs.existsSync(folder)).to.equal(false);
  });

  it('stops a well-behaved plugin with SIGTERM, without waiting for the grace period', async () => {
    const p = await plugin('bash', ['-c', 'sleep 1000 & echo "$!" > "$PIPE_IO_SEND"; wait'], { gracePeriod: 10_000 });
    const [grandchild] = await collect(p, 1);
    const pid = p.pid!;
    const exit = await within(p.stop(), 5000, 'stop');
    expect(exit.signal).to.equal('SIGTERM');
    expectReaped(pid, 'the plugin');
    expectDead(Number(grandchild), 'the plugin\'s child');
    expect(await p.stop()).to.deep.equal(exit); // idempotent
  });

  it('reports malformed JSON lines from the plugin as warnings and keeps the good ones', async () => {
    const p = await plugin<unknown>('bash', ['-c', `printf '%s\\n' '{bad' '{"ok":1}' 'also bad' '[2]' > "$PIPE_IO_SEND"; exec sleep 100`], { codec: 'json' });
    const warnings: unknown[] = [];
    p.on('warning', (w) => warnings.push(w));
    expect(await collect(p, 2)).to.deep.equal([{ ok: 1 }, [2]]);
    expect(warnings.map((w) => ((w as Error).cause as CodecError).line)).to.deep.equal(['{bad', 'also bad']);
    expect(warnings[0]).to.be.instanceOf(PipeIOError).with.property('code', 'ERR_DECODE');
    expect((warnings[0] as Error).cause).to.be.instanceOf(CodecError);
  });

  it('end() waits for a slow-starting plugin to open its pipe, so nothing sent is lost', async () => {
    const p = await plugin('bash', ['-c', `sleep 0.5; ${BASH_ECHO}`]);
    await p.send('early 1');
    await p.send('early 2');
    const ended = p.end();
    expect(await collect(p, 3)).to.deep.equal(['early 1', 'early 2', 'bye']);
    await ended;
    expect(await within(p.exited, 5000, 'exit')).to.deep.include({ code: 0 });
  });

  it('fails to start a missing command with ENOENT and leaves nothing behind', async () => {
    const error = await spawnPlugin('no-such-command-pipe-io', [], { tmpDir: dir }).catch((e: unknown) => e);
    expect(error).to.have.property('code', 'ENOENT');
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });

  it("collects the plugin's stdout and stderr over restarts with stdio: 'pipe'", async () => {
    const marker = path.join(dir, 'once');
    const script = `echo "out $$"; echo "err $$" >&2; if [[ ! -e "$MARKER" ]]; then : > "$MARKER"; exit 1; fi; exit 0`;
    const p = await plugin('bash', ['-c', script], { stdio: 'pipe', restart: 'on-failure', restartDelay: 10, env: { MARKER: marker } });
    let out = '';
    let err = '';
    p.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    const ended = Promise.all([new Promise((r) => p.stdout!.on('end', r)), new Promise((r) => p.stderr!.on('end', r))]);
    await within(p.exited, 5000, 'exit');
    await within(ended, 2000, 'streams end');
    expect(out.match(/^out \d+$/gm)).to.have.length(2);
    expect(err.match(/^err \d+$/gm)).to.have.length(2);
  });

  it('ends its iterators once the plugin is done, and stops when its AbortSignal aborts', async () => {
    const controller = new AbortController();
    const p = await plugin('bash', ['-c', 'echo hi > "$PIPE_IO_SEND"; exec sleep 100'], { signal: controller.signal });
    const got: string[] = [];
    const loop = (async () => {
      for await (const m of p) got.push(m);
    })();
    await sleep(200);
    controller.abort();
    await within(loop, 5000, 'iterator end');
    expect(got).to.deep.equal(['hi']);
    expect((await p.exited).signal).to.equal('SIGTERM');
  });
});
