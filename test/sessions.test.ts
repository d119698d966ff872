/**
 * PipeSessionServer and PipeSession with real clients (bash, Python, C, Node) as real processes.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipeIOClient, PipeIOError, type PipeSession, PipeSessionServer, type PipeSessionServerOptions, RpcPeer } from '../lib/index.js';
import { bash, fdsInto, killGroup, run, sleep, tempDir, waitFor, within } from './helpers/fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLIENTS = path.join(ROOT, 'clients');
const isRoot = process.getuid?.() === 0;

/** A place any user can reach (the checkout may be in a 0700 folder): the clients, and the sessions folder's parent. */
interface World {
  base: string;
  dir: string;
  bashLib: string;
  pyDir: string;
  cleanup(): void;
}

function world(): World {
  const { dir: base, cleanup } = tempDir('pipe-io-sess-');
  fs.chmodSync(base, 0o755);
  const bashLib = path.join(base, 'pipe-io.sh');
  fs.copyFileSync(path.join(CLIENTS, 'bash', 'pipe-io.sh'), bashLib);
  const pyDir = path.join(base, 'py');
  fs.mkdirSync(pyDir, { mode: 0o755 });
  fs.copyFileSync(path.join(CLIENTS, 'python', 'pipe_io_client.py'), path.join(pyDir, 'pipe_io_client.py'));
  for (const file of [bashLib, path.join(pyDir, 'pipe_io_client.py')]) fs.chmodSync(file, 0o644);
  return { base, dir: path.join(base, 'sessions'), bashLib, pyDir, cleanup };
}

function echoServer(dir: string, options: PipeSessionServerOptions = {}): { server: PipeSessionServer; warnings: PipeIOError[]; seen: PipeSession[] } {
  const server = new PipeSessionServer(dir, options);
  const warnings: PipeIOError[] = [];
  const seen: PipeSession[] = [];
  server.on('warning', (error) => warnings.push(error));
  server.on('session', (session) => {
    seen.push(session);
    session.on('message', (m) => void session.send(`you said: ${m}`).catch(() => {}));
  });
  return { server, warnings, seen };
}

const asNobody = (command: string, args: string[]): [string, string[]] => ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', command, ...args]];

/**
 * The bash lines of docs/sessions.md, between its session-snippet markers (a doc-test directive
 * may stand between the opening marker and the fence). They name the sessions folder `sessions`,
 * relative: the caller runs them in the folder that holds it.
 */
function guideSnippet(): string {
  const guide = fs.readFileSync(path.join(ROOT, 'docs', 'sessions.md'), 'utf8');
  const block = /<!-- session-snippet -->\n(?:<!-- doc-test: [^\n]* -->\n)?```bash\n([\s\S]*?)```\n<!-- \/session-snippet -->/.exec(guide);
  if (block === null) throw new Error('docs/sessions.md: no session snippet between <!-- session-snippet --> markers');
  return block[1]!;
}

describe('sessions', function () {
  this.timeout(60_000);
  let w: World;
  let server: PipeSessionServer | undefined;
  beforeEach(() => {
    w = world();
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    w.cleanup();
  });

  it("opens a session with the guide's five bash lines; peer is the folder's owner, as the kernel says", async () => {
    const echo = echoServer(w.dir);
    server = echo.server;
    await server.start();
    const snippet = guideSnippet();
    expect(snippet.trim().split('\n')).to.have.length.of.at.most(5);
    expect(path.basename(w.dir)).to.equal('sessions');
    const result = await within(bash(`cd '${w.base}'\n${snippet}\necho "$status $version $id|$reply"`).done, 10_000, 'the snippet');
    expect(result.stderr).to.equal('');
    expect(result.stdout.trim()).to.equal(`ok 1 ${echo.seen[0]!.id}|you said: hello`);
    expect(echo.seen[0]!.peer).to.deep.equal({ uid: process.getuid!(), gid: process.getgid!() });
    await waitFor(() => server!.sessions.size === 0, 'the session to end with the script');
    expect(fs.readdirSync(w.dir)).to.deep.equal(['connect']);
  });

  it('no cross-talk: 200 clients, bash and Python, connect at once; each gets a distinct session and only its own replies', async function () {
    this.timeout(200_000);
    const echo = echoServer(w.dir);
    server = echo.server;
    await server.start();
    const bashClient = (token: string): string =>
      `. ${w.bashLib}; pipe_io_session ${w.dir} 30 || exit 1
       for i in $(seq 20); do pipe_io_send "${token} $i"; done
       for i in $(seq 20); do pipe_io_recv r || exit 2; [ "$r" = "you said: ${token} $i" ] || { echo "got '$r'"; exit 3; }; done
       echo "$pipe_io_session_id"; pipe_io_close`;
    const pyClient = (token: string): string =>
      [
        'import sys; sys.path.insert(0, sys.argv[1])',
        'from pipe_io_client import PipeIOClient',
        `c = PipeIOClient.session(sys.argv[2], timeout=30)`,
        `for i in range(1, 21): c.send("${token} %d" % i)`,
        `for i in range(1, 21):`,
        `    r = c.recv()`,
        `    assert r == "you said: ${token} %d" % i, r`,
        'print(c.session_id); c.close()',
      ].join('\n');
    // One bash launcher starts the 200 clients, not this process: a spawn() blocks the event loop
    // until the child has exec'd, and with a hundred clients already competing for 2 CPUs each
    // took a scheduling round, so spawning them from here held the server's loop for over a
    // minute (the clients' 30 s waits ran out). Real clients are not the server's children either.
    const run200 = path.join(w.base, 'run200');
    fs.mkdirSync(run200);
    for (let i = 0; i < 200; i++) {
      const token = `client-${i}-${Math.random().toString(36).slice(2)}`;
      if (i % 2 === 0) fs.writeFileSync(path.join(run200, `${i}.sh`), bashClient(token));
      else fs.writeFileSync(path.join(run200, `${i}.py`), pyClient(token));
    }
    // Its own process group, so that a run that fails leaves no client behind for the next test.
    const launcher = spawn(
      'bash',
      [
        '-c',
        `for i in $(seq 0 199); do
           if [ -e $i.sh ]; then bash $i.sh; else python3 $i.py ${w.pyDir} ${w.dir}; fi > $i.out 2> $i.err; echo $? > $i.code &
         done
         wait`,
      ],
      { cwd: run200, detached: true, stdio: 'ignore' },
    );
    try {
      // The bound is not the claim: 20 s on a quiet 2-CPU machine, over 50 s beside 4 busy loops.
      await within(new Promise((resolve) => launcher.on('exit', resolve)), 150_000, '200 clients');
    } finally {
      killGroup(launcher.pid!);
    }
    const results = Array.from({ length: 200 }, (_, i) => {
      const read = (ext: string): string => fs.readFileSync(path.join(run200, `${i}.${ext}`), 'utf8');
      return { code: Number(read('code')), stdout: read('out'), stderr: read('err') };
    });
    const failed = results.filter((r) => r.code !== 0);
    expect(failed.map((r) => r.stdout + r.stderr)).to.deep.equal([]);
    const ids = results.map((r) => Number(r.stdout.trim()));
    expect(new Set(ids).size).to.equal(200);
    expect(echo.seen).to.have.length(200);
    expect(new Set(echo.seen.map((s) => s.id))).to.deep.equal(new Set(ids));
    expect(echo.warnings).to.deep.equal([]);
  });

  for (const how of ['is SIGKILLed', 'closes normally'] as const) {
    it(`a client that ${how} ends its session within 1 s: FIFOs and folder removed, no descriptor left`, async () => {
      const echo = echoServer(w.dir);
      server = echo.server;
      await server.start();
      // Closing without pipe_io_close (which removes the folder itself): the server must clean up.
      const trigger = path.join(w.base, 'close-now');
      const client = bash(
        `. ${w.bashLib}; pipe_io_session ${w.dir} || exit 1; pipe_io_send hi; pipe_io_recv r; echo "$r"; ` +
          (how === 'is SIGKILLed' ? 'sleep 60' : `while [ ! -e ${trigger} ]; do sleep 0.01; done; exec {pipe_io_send_fd}>&- {pipe_io_recv_fd}<&-; sleep 60`),
      );
      await waitFor(() => client.output.stdout.includes('you said: hi'), 'the reply');
      const session = echo.seen[0]!;
      const folder = session.path;
      expect(fs.existsSync(folder)).to.equal(true);
      const closed = new Promise<number>((resolve) => session.once('close', () => resolve(Date.now())));
      const t0 = Date.now();
      if (how === 'is SIGKILLed') client.child.kill('SIGKILL');
      else fs.writeFileSync(trigger, '');
      const at = await within(closed, 1500, 'the session to close');
      expect(at - t0).to.be.below(1000);
      expect(fs.existsSync(folder)).to.equal(false);
      expect(fdsInto(folder)).to.deep.equal([]);
      expect(server.sessions.size).to.equal(0);
      client.child.kill('SIGKILL');
      await client.done;
    });
  }

  it("delivers a dying client's unfinished line alone, never glued to anything", async () => {
    const server_ = new PipeSessionServer(w.dir);
    server = server_;
    const got = new Map<number, string[]>();
    server.on('session', (session) => {
      got.set(session.id, []);
      session.on('message', (m) => got.get(session.id)!.push(m));
    });
    await server.start();
    const other = bash(`. ${w.bashLib}; pipe_io_session ${w.dir} || exit 1; for i in 1 2 3; do pipe_io_send "other $i"; sleep 0.1; done; pipe_io_close`);
    const dying = bash(`. ${w.bashLib}; pipe_io_session ${w.dir} || exit 1; pipe_io_send whole; printf 'unfinished' >&$pipe_io_send_fd; sleep 0.1; kill -9 $$`);
    await Promise.all([other.done, dying.done]);
    await waitFor(() => server_.sessions.size === 0, 'both sessions to end');
    const lists = [...got.values()].sort((a, b) => a[0]!.localeCompare(b[0]!));
    expect(lists).to.deep.equal([['other 1', 'other 2', 'other 3'], ['whole', 'unfinished']]);
  });

  it('refuses past maxSessions with a reason every client reports; a client that never reads meets backpressure', async () => {
    const echo = echoServer(w.dir, { maxSessions: 2, highWaterMark: 64 * 1024 });
    server = echo.server;
    await server.start();
    const silent = bash(`. ${w.bashLib}; pipe_io_session ${w.dir} || exit 1; echo open; sleep 60`);
    await waitFor(() => silent.output.stdout.includes('open'), 'the silent client');
    const node = await PipeIOClient.session(w.dir);
    expect(node.sessionId).to.be.a('number');
    const reason = 'too many sessions (maxSessions 2)';
    const refusedBash = await bash(`. ${w.bashLib}; pipe_io_session ${w.dir} 5`).done;
    expect(refusedBash.code).to.equal(1);
    expect(refusedBash.stderr).to.include(`refused the session: ${reason}`);
    const refusedPy = await run('python3', ['-c', 'import sys; sys.path.insert(0, sys.argv[1])\nfrom pipe_io_client import PipeIOClient\ntry:\n    PipeIOClient.session(sys.argv[2], timeout=5)\nexcept ConnectionRefusedError as e:\n    print(e); sys.exit(1)', w.pyDir, w.dir]).done;
    expect(refusedPy.code).to.equal(1);
    expect(refusedPy.stdout).to.include(reason);
    const refusedNode = await PipeIOClient.session(w.dir).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusedNode).to.be.instanceOf(PipeIOError);
    expect((refusedNode as PipeIOError).code).to.equal('ERR_SESSION_REFUSED');
    expect((refusedNode as PipeIOError).message).to.include(reason);
    expect(echo.warnings.filter((e) => e.code === 'ERR_SESSION_REFUSED')).to.have.length(3);
    expect(fs.readdirSync(w.dir).length).to.equal(3); // connect and the two sessions' folders: the refused ones are gone
    // The silent client never reads: its session's queue grows past the high-water mark and stays there.
    const silentSession = echo.seen.find((s) => s.id !== node.sessionId)!;
    const line = 'x'.repeat(1000);
    let sent = 0;
    while (!silentSession.needsDrain && sent < 10_000) {
      void silentSession.send(line).catch(() => {});
      sent++;
      if (sent % 100 === 0) await sleep(1);
    }
    expect(silentSession.needsDrain).to.equal(true);
    expect(sent).to.be.below(200); // 64 KiB in the pipe, 64 KiB queued: bounded
    await node.close();
    silent.child.kill('SIGKILL');
    await silent.done;
  });

  it('stop() under 1,000 open sessions returns within 2 s and releases every client', async function () {
    const { server: s } = echoServer(w.dir, { maxSessions: 1000 });
    server = s;
    await server.start();
    // One Python process holds 1,000 sessions, then waits for end of stream on all of them.
    const holder = run('python3', [
      '-c',
      [
        'import sys, select; sys.path.insert(0, sys.argv[1])',
        'from pipe_io_client import PipeIOClient',
        'clients = [PipeIOClient.session(sys.argv[2], timeout=30) for _ in range(1000)]',
        'print("open", flush=True)',
        'p = select.poll(); [p.register(c._recv_fd, select.POLLIN) for c in clients]',
        'left = {c._recv_fd for c in clients}',
        'import os',
        'while left:',
        '    for fd, ev in p.poll(10000):',
        '        if fd in left and os.read(fd, 65536) == b"": left.discard(fd); p.unregister(fd)',
        'print("released", flush=True)',
      ].join('\n'),
      w.pyDir,
      w.dir,
    ]);
    await waitFor(() => holder.output.stdout.includes('open'), '1,000 sessions', 50_000);
    expect(server.sessions.size).to.equal(1000);
    const t0 = Date.now();
    await server.stop();
    const elapsed = Date.now() - t0;
    expect(elapsed).to.be.below(2000);
    const result = await within(holder.done, 10_000, 'the holder to see end of stream on every session');
    expect(result.stdout).to.include('released');
    expect(result.code).to.equal(0);
    expect(fdsInto(w.dir)).to.deep.equal([]);
    expect(fs.existsSync(w.dir)).to.equal(false);
  });

  it('fair queuing: one client writing flat out does not starve 10 request/response clients', async () => {
    server = new PipeSessionServer(w.dir);
    let flood = 0;
    server.on('session', (session) => {
      session.on('message', (m) => {
        if (m.startsWith('ping')) void session.send(`pong${m.slice(4)}`).catch(() => {});
        else flood++;
      });
    });
    await server.start();
    const flooder = bash(`. ${w.bashLib}; pipe_io_session ${w.dir} || exit 1; echo open; exec yes "flood flood flood flood flood flood flood flood flood flood" >&$pipe_io_send_fd`);
    await waitFor(() => flood > 100_000, 'the flood to be under way');
    const light = Array.from({ length: 10 }, () =>
      run('python3', [
        '-c',
        [
          'import sys, time; sys.path.insert(0, sys.argv[1])',
          'from pipe_io_client import PipeIOClient',
          'c = PipeIOClient.session(sys.argv[2], timeout=10)',
          'worst = 0',
          'for i in range(100):',
          '    t = time.monotonic(); c.send("ping %d" % i); assert c.recv() == "pong %d" % i',
          '    worst = max(worst, time.monotonic() - t)',
          'print(worst)',
        ].join('\n'),
        w.pyDir,
        w.dir,
      ]),
    );
    const results = await within(Promise.all(light.map((l) => l.done)), 30_000, 'the light clients');
    const floodAtEnd = flood;
    expect(results.map((r) => r.code)).to.deep.equal(Array(10).fill(0));
    // Loose on purpose (a shared 2-core machine): the figure itself is in the benchmark.
    const worst = Math.max(...results.map((r) => Number(r.stdout.trim())));
    expect(worst).to.be.below(1);
    expect(floodAtEnd).to.be.above(200_000); // the flooder was served meanwhile too
    flooder.child.kill('SIGKILL');
    await flooder.done;
  });

  it('serves the C and Node clients; RpcPeer runs over a PipeSession and a session client', async () => {
    server = new PipeSessionServer(w.dir);
    server.on('session', (session) => {
      new RpcPeer(session).method('whoami', () => ({ id: session.id, uid: session.peer.uid }));
    });
    await server.start();
    const client = await PipeIOClient.session(w.dir);
    const rpc = new RpcPeer(client);
    expect(await rpc.request('whoami')).to.deep.equal({ id: client.sessionId, uid: process.getuid!() });
    await client.close();

    const binary = path.join(w.base, 'sess_c');
    const source = path.join(w.base, 'sess_c.c');
    fs.writeFileSync(
      source,
      `#include <errno.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include "pipe_io_client.h"\n
int main(int argc, char **argv) {
  (void)argc;
  pipe_io_client *c = pipe_io_session_open(argv[1], 5000);
  char *line = NULL; size_t cap = 0;
  if (c == NULL) { if (errno == ECONNREFUSED) printf("refused: %s\\n", pipe_io_refusal()); else perror("open"); return 1; }
  const char *call = "{\\"jsonrpc\\":\\"2.0\\",\\"method\\":\\"whoami\\",\\"id\\":1}";
  if (pipe_io_send(c, call, strlen(call)) < 0 || pipe_io_recv(c, &line, &cap) < 0) { perror("io"); return 1; }
  printf("%ld %s\\n", pipe_io_session_id(c), line);
  free(line);
  return pipe_io_close(c) == 0 ? 0 : 1;
}\n`,
    );
    const cc = spawnSync('cc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-D_POSIX_C_SOURCE=200809L', '-I', path.join(CLIENTS, 'c'), '-o', binary, source, path.join(CLIENTS, 'c', 'pipe_io_client.c')], {
      encoding: 'utf8',
    });
    expect(cc.stderr).to.equal('');
    const result = await run(binary, [w.dir]).done;
    expect(result.code, result.stderr).to.equal(0);
    const [id, reply] = [result.stdout.split(' ')[0], result.stdout.slice(result.stdout.indexOf(' ') + 1)];
    expect(JSON.parse(reply!)).to.deep.equal({ jsonrpc: '2.0', result: { id: Number(id), uid: process.getuid!() }, id: 1 });

    // A refusal reaches C with its reason.
    await server.stop();
    server = new PipeSessionServer(w.dir, { maxSessions: 1 });
    server.on('warning', () => {}); // the refusal below
    await server.start();
    const holder = await PipeIOClient.session(w.dir);
    const refused = await run(binary, [w.dir]).done;
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.equal('refused: too many sessions (maxSessions 1); try again later\n');
    await holder.close();
  });

  it('yields sessions to for await, ends a session from the server side (the client sees end of stream)', async () => {
    server = new PipeSessionServer(w.dir);
    await server.start();
    const client = bash(`. ${w.bashLib}; pipe_io_session ${w.dir} || exit 1; pipe_io_send one; while pipe_io_recv r; do echo "$r"; done; echo end`);
    for await (const session of server) {
      for await (const message of session) {
        expect(message).to.equal('one');
        await session.send('bye');
        await session.close();
      }
      break;
    }
    const result = await within(client.done, 5000, 'the client to see end of stream');
    expect(result.stdout).to.equal('bye\nend\n');
    expect(result.code).to.equal(0);
  });

  it('pipe-io echo --sessions and pipe-io connect: lines both ways, exit 0 when the server ends the session, 1 with the reason when refused', async () => {
    const cli = path.join(ROOT, 'dist/lib/cli/main.js');
    const echo = run(process.execPath, [cli, 'echo', '--sessions', w.dir]);
    await waitFor(() => echo.output.stdout.includes('sessions:'), 'pipe-io echo to start');
    const once = await within(bash(`printf 'a\\nb\\n' | ${process.execPath} ${cli} connect ${w.dir}`).done, 10_000, 'pipe-io connect');
    expect(once.stdout).to.equal('a\nb\n');
    expect(once.code).to.equal(0);
    // A connect whose stdin stays open ends when the server does.
    const held = spawn(process.execPath, [cli, 'connect', w.dir], { stdio: ['pipe', 'pipe', 'pipe'] });
    let heldOut = '';
    held.stdout.setEncoding('utf8').on('data', (s: string) => (heldOut += s));
    held.stdin.write('held\n');
    await waitFor(() => heldOut === 'held\n', 'the held session to echo');
    const heldExit = new Promise<number | null>((resolve) => held.on('close', (code) => resolve(code)));
    echo.child.kill('SIGTERM');
    expect(await within(heldExit, 5000, 'pipe-io connect to exit')).to.equal(0);
    held.stdin.destroy();
    await echo.done;
    expect(fs.existsSync(w.dir)).to.equal(false);

    server = new PipeSessionServer(w.dir, { maxSessions: 1 });
    server.on('warning', () => {}); // the refusal below
    await server.start();
    const holder = await PipeIOClient.session(w.dir);
    const refused = await bash(`${process.execPath} ${cli} connect ${w.dir} </dev/null`).done;
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('refused the session: too many sessions (maxSessions 1)');
    await holder.close();
  });

  it('refuses another protocol version with a reason naming its own, and reports a line that is no request', async () => {
    const echo = echoServer(w.dir);
    server = echo.server;
    await server.start();
    const v2 = guideSnippet().replace('pipe-io-session 1', 'pipe-io-session 2');
    const result = await within(bash(`cd '${w.base}'\n${v2.split('\n').slice(0, 4).join('\n')}\necho "$status $version $id"; read -r more <&4 || echo EOF`).done, 10_000, 'the v2 client');
    expect(result.stdout).to.equal('refused version 2 is not spoken here; this server speaks version 1\nEOF\n');
    spawnSync('bash', ['-c', `echo 'hello there' > ${w.dir}/connect`]);
    await waitFor(() => echo.warnings.some((e) => e.message.includes('bad connect request')), 'the warning');
    expect(echo.seen).to.deep.equal([]);
    await waitFor(() => fs.readdirSync(w.dir).length === 1, 'the refused folder to be removed');
  });

  it("speaks the server's codec on every session (json here); the handshake lines stay plain text", async () => {
    const json = new PipeSessionServer<{ n: number }>(w.dir, { codec: 'json' });
    server = json as unknown as PipeSessionServer;
    json.on('session', (session) => session.on('message', (m) => void session.send({ n: m.n + 1 })));
    await json.start();
    const client = await PipeIOClient.session<{ n: number }>(w.dir, { codec: 'json' });
    await client.send({ n: 41 });
    const [reply] = await Promise.all([new Promise((resolve) => client.once('message', resolve))]);
    expect(reply).to.deep.equal({ n: 42 });
    await client.close();
  });

  it('stops on its AbortSignal and with await using; sessions lists the open ones', async () => {
    const controller = new AbortController();
    const aborted = new PipeSessionServer(w.dir, { signal: controller.signal });
    await aborted.start();
    const client = await PipeIOClient.session(w.dir);
    await waitFor(() => aborted.sessions.size === 1, 'the session');
    controller.abort();
    await aborted.closed;
    await within(client.closed, 2000, 'the client to see the end');
    expect(fs.existsSync(w.dir)).to.equal(false);
    {
      await using scoped = new PipeSessionServer(w.dir);
      await scoped.start();
      expect(fs.existsSync(`${w.dir}/connect`)).to.equal(true);
    }
    expect(fs.existsSync(w.dir)).to.equal(false);
  });

  describe('what a client cannot make the server do', () => {
    for (const [what, setup] of [
      ['a symbolic link to a folder elsewhere', (dir: string, target: string) => fs.symlinkSync(target, path.join(dir, 'evil'))],
      ['a folder other users can write', (dir: string) => {
        fs.mkdirSync(path.join(dir, 'evil'));
        spawnSync('mkfifo', [path.join(dir, 'evil/in'), path.join(dir, 'evil/out')]);
        fs.chmodSync(path.join(dir, 'evil'), 0o777);
      }],
      ['a folder whose FIFOs are symbolic links', (dir: string, target: string) => {
        fs.mkdirSync(path.join(dir, 'evil'), { mode: 0o700 });
        fs.symlinkSync(path.join(target, 'in'), path.join(dir, 'evil/in'));
        fs.symlinkSync(path.join(target, 'out'), path.join(dir, 'evil/out'));
      }],
    ] as const) {
      it(`ignores a request naming ${what}, touching nothing`, async () => {
        const echo = echoServer(w.dir);
        server = echo.server;
        await server.start();
        // Somewhere else, FIFOs the client would like the server to open and remove.
        const target = path.join(w.base, 'target');
        fs.mkdirSync(target);
        spawnSync('mkfifo', [path.join(target, 'in'), path.join(target, 'out')]);
        setup(w.dir, target);
        for (const name of ['evil', '..', '../target', '.hidden', 'connect']) {
          spawnSync('bash', ['-c', `echo "pipe-io-session 1 ${name}" > ${w.dir}/connect`]);
        }
        await waitFor(() => echo.warnings.length === 5, 'five warnings');
        expect(echo.warnings.map((e) => e.code)).to.deep.equal(Array(5).fill('ERR_SESSION_REQUEST'));
        expect(fs.readdirSync(target).sort()).to.deep.equal(['in', 'out']);
        expect(fs.existsSync(path.join(w.dir, 'evil'))).to.equal(true);
        if (fs.lstatSync(path.join(w.dir, 'evil')).isDirectory()) expect(fs.readdirSync(path.join(w.dir, 'evil')).sort()).to.deep.equal(['in', 'out']);
        expect(echo.seen).to.deep.equal([]);
        // Nothing was opened: not the target, not the folder.
        expect(fdsInto(target)).to.deep.equal([]);
        expect(fdsInto(path.join(w.dir, 'evil'))).to.deep.equal([]);
      });
    }
  });

  (isRoot ? describe : describe.skip)('other users (as nobody, through setpriv; needs root)', () => {
    it('cannot connect unless permissions allow it; then peer.uid says who it is', async () => {
      let echo = echoServer(w.dir);
      server = echo.server;
      await server.start();
      const denied = await run(...asNobody('bash', ['-c', `. ${w.bashLib}; pipe_io_session ${w.dir} 2`])).done;
      expect(denied.code).to.equal(1);
      expect(denied.stderr).to.match(/cannot make a session folder in '.*' \(Permission denied\).*does not let this user connect/);
      expect(echo.seen).to.deep.equal([]);
      await server.stop();

      echo = echoServer(w.dir, { permissions: 0o622 });
      server = echo.server;
      await server.start();
      expect(fs.statSync(w.dir).mode & 0o7777).to.equal(0o1733);
      const allowed = await run(...asNobody('bash', ['-c', `. ${w.bashLib}; pipe_io_session ${w.dir} 5 || exit 1; pipe_io_send hi; pipe_io_recv r; echo "$r"`])).done;
      expect(allowed.stdout, allowed.stderr).to.equal('you said: hi\n');
      expect(echo.seen[0]!.peer).to.deep.equal({ uid: 65534, gid: 65534 });
      // The system's Python: a per-user one (pyenv in root's home) is out of nobody's reach.
      const py = await run(...asNobody('/usr/bin/python3', ['-c', 'import sys; sys.path.insert(0, sys.argv[1])\nfrom pipe_io_client import PipeIOClient\nc = PipeIOClient.session(sys.argv[2], timeout=5); c.send("py"); print(c.recv())', w.pyDir, w.dir])).done;
      expect(py.stdout, py.stderr).to.equal('you said: py\n');
    });

    it("cannot read, inject into, close or hijack another user's session", async () => {
      const server_ = new PipeSessionServer(w.dir, { permissions: 0o622 });
      server = server_;
      const got: string[] = [];
      const warnings: PipeIOError[] = [];
      server.on('warning', (e) => warnings.push(e));
      server.on('session', (session) => session.on('message', (m) => void got.push(m)));
      await server.start();
      const owner = await PipeIOClient.session(w.dir);
      await waitFor(() => server_.sessions.size === 1, 'the session');
      const folder = [...server_.sessions][0]!.path;
      const name = path.basename(folder);
      const attack = await run(...asNobody('bash', [
        '-c',
        `ls ${w.dir} && echo LISTED
         timeout 2 cat ${folder}/out && echo READ
         timeout 2 bash -c 'echo injected > ${folder}/in' && echo INJECTED
         rm -rf ${folder} && echo REMOVED
         echo "pipe-io-session 1 ${name}" > ${w.dir}/connect && echo ASKED
         exit 0`,
      ])).done;
      expect(attack.stdout).to.equal('ASKED\n');
      await owner.send('mine');
      await waitFor(() => got.length === 1, 'the owner message');
      await sleep(200);
      expect(got).to.deep.equal(['mine']);
      expect(server_.sessions.size).to.equal(1);
      expect(warnings.map((e) => e.message)).to.satisfy((m: string[]) => m.some((x) => x.includes('second request')));
      await owner.close();
    });
  });
});
