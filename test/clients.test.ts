/**
 * The bash, Python and C clients in clients/ against the real PipeIOServer, as real processes.
 *
 * Each client runs a small driver (written to a temp dir below) that reads the expected
 * messages from a file and checks, on its side, every message the server sends it. The
 * server side checks what the client sent.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PipeIOServer } from '../lib/index.js';
import { holdsPipeAt, recreated, sleep } from './helpers/fixtures.js';
import { MovedPipeServer, type NextPipe } from './helpers/moved-pipe.js';

// This file runs from dist/test/.
const CLIENTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../clients');

/** 1,000 messages: the awkward ones first, then numbered variations of them. */
function makeMessages(): string[] {
  const awkward = [
    '',
    ' ',
    '  two spaces either side  ',
    '\t',
    'tab\tinside\t',
    '\\',
    'back\\slash \\n \\t \\\\ \\0',
    "\"double\" 'single' `back`",
    '-n',
    '-e',
    '--',
    '-',
    '%s %d %% %n %b',
    '$HOME $(echo no) `echo no` !!',
    '* ? [a] ~',
    'carriage\rreturn\r',
    'é',
    '漢字',
    '😀 👍🏽 🇫🇷',
    'mixed: é 漢字 😀, fin',
    'x'.repeat(4095), // with its newline, exactly PIPE_BUF
    'y'.repeat(65536), // a 64 KiB line
    '漢字😀é'.repeat(6554), // 64 KiB of multi-byte text: chunk boundaries fall inside characters
  ];
  const messages = [...awkward];
  for (let i = messages.length; i < 1000; i++) {
    const base = awkward[i % 20]!; // not the long ones again
    messages.push(i % 2 === 0 ? `${i} ${base}` : `${base} ${i}`);
  }
  return messages;
}

const MESSAGES = makeMessages();

/** Says where two message lists first differ, briefly: a 64 KiB string makes a useless diff. */
function expectSameMessages(actual: readonly string[], expected: readonly string[], what: string): void {
  const show = (s: string | undefined): string => (s === undefined ? 'nothing' : `${s.length} chars ${JSON.stringify(s.slice(0, 60))}`);
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    if (actual[i] !== expected[i]) {
      expect.fail(`${what}: message ${i} is ${show(actual[i])}, expected ${show(expected[i])} (${actual.length} of ${expected.length} messages)`);
    }
  }
}

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exit: Promise<number | string>;
}

function run(command: string, args: string[], env: Record<string, string> = {}): Run {
  // No __pycache__ left in clients/python by the test run.
  const child = spawn(command, args, { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const result: Run = {
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? String(signal)));
    }),
  };
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (result.stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (result.stderr += text));
  return result;
}

/** Settles with `promise`, or fails with `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when `condition()` holds; fails if the client exits first or after `ms`. */
function until(condition: () => boolean, client: Run, ms = 40_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (condition()) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(poll);
        reject(new Error(`client made no progress in ${ms / 1000} s; stderr: ${client.stderr}`));
      }
    }, 20);
    client.exit.then(
      (code) => {
        // Let the last output and messages arrive before judging.
        setTimeout(() => {
          clearInterval(poll);
          if (condition()) resolve();
          else reject(new Error(`client exited (${code}) too early; stderr: ${client.stderr}`));
        }, 200);
      },
      (error: unknown) => {
        clearInterval(poll);
        reject(error as Error);
      },
    );
  });
}


function haveCommand(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).error === undefined;
}

/**
 * Drivers: `SEND RECV MESSAGES_FILE MODE`; an empty path means "take it from the environment".
 * MODE `roundtrip`: send each message and check its echo. MODE `listen`: send "ready", check
 * every message the server sends, send "done N". Both then wait for end of stream and exit 0.
 * MODE `follow`: send "ready", print every message on stdout until end of stream, exit 0.
 * MODE `relay`: reply "echo: <message>" to every message until end of stream, exit 0.
 * MODE `connect`: connect with a 1 s timeout; if that fails, print why on stderr and exit 3.
 * They are String.raw templates, so backslashes reach the file as written; they must hold no
 * dollar-brace and no backtick.
 */
const BASH_DRIVER = String.raw`
. "$PIPE_IO_LIB" || exit 1
if [[ $4 == connect ]]; then
    pipe_io_connect "$1" "$2" 1 && { echo "connected with no server" >&2; exit 1; }
    exit 3
fi
pipe_io_connect "$1" "$2" || exit 1
if [[ $4 == follow ]]; then
    pipe_io_send ready
    while pipe_io_recv got; do printf '%s\n' "$got"; done
    exit 0
fi
if [[ $4 == relay ]]; then
    while pipe_io_recv got; do pipe_io_send "echo: $got" || exit 1; done
    exit 0
fi
exec {expected}<"$3"
fail() { printf '%s\n' "$1" >&2; exit 1; }
if pipe_io_send $'two\nlines' 2>/dev/null; then fail "a message with a newline was sent"; fi
[[ $4 == roundtrip ]] || pipe_io_send ready
n=0
while IFS= read -r -u "$expected" want; do
    if [[ $4 == roundtrip ]]; then pipe_io_send "$want" || fail "send $n failed"; fi
    pipe_io_recv got || fail "end of stream after $n messages"
    [[ $got == "$want" ]] || fail "$(printf 'message %d differs: got [%.60s], expected [%.60s]' "$n" "$got" "$want")"
    n=$((n + 1))
done
if [[ $4 == roundtrip ]]; then echo "roundtrips ok $n"; else pipe_io_send "done $n"; fi
if pipe_io_recv got; then fail "unexpected message after the last one"; fi
pipe_io_close
`;

const PYTHON_DRIVER = String.raw`
import os, sys
sys.path.insert(0, os.environ["PIPE_IO_LIB"])
from pipe_io_client import PipeIOClient

send, recv, messages_file, mode = sys.argv[1:5]
with open(messages_file, encoding="utf-8", newline="") as f:
    expected = f.read().split("\n")[:-1]

def check(i, got):
    if got != expected[i]:
        sys.exit("message %d differs: got %d chars %r, expected %d %r"
                 % (i, len(got), got[:60], len(expected[i]), expected[i][:60]))

if mode == "connect":
    try:
        PipeIOClient(send or None, recv or None, timeout=1)
    except TimeoutError as error:
        print(error, file=sys.stderr)
        sys.exit(3)
    sys.exit("connected with no server")

if mode == "follow":
    with PipeIOClient(send or None, recv or None, timeout=30) as client:
        client.send("ready")
        for message in client:
            print(message, flush=True)
    sys.exit(0)

if mode == "relay":
    with PipeIOClient(send or None, recv or None, timeout=30) as client:
        for message in client:
            client.send("echo: " + message)
    sys.exit(0)

with PipeIOClient(send or None, recv or None, timeout=30) as client:
    try:
        client.send("two\nlines")
        sys.exit("a message with a newline was sent")
    except ValueError:
        pass
    if mode == "roundtrip":
        for i, message in enumerate(expected):
            client.send(message)
            check(i, client.recv())
        print("roundtrips ok", len(expected), flush=True)
    else:
        client.send("ready")
        for i in range(len(expected)):
            check(i, client.recv())
        client.send("done %d" % len(expected))
    for extra in client:
        sys.exit("unexpected message %r" % extra[:60])
`;

const C_DRIVER = String.raw`
#define _POSIX_C_SOURCE 200809L
#include "pipe_io_client.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what, size_t i)
{
    fprintf(stderr, "%s (message %zu): %s\n", what, i, errno ? strerror(errno) : "");
    exit(1);
}

static void check(size_t i, const char *got, ssize_t len, char **expected, size_t *lens)
{
    if (len < 0)
        fail("end of stream or error before the last message", i);
    if ((size_t)len != lens[i] || memcmp(got, expected[i], lens[i]) != 0) {
        fprintf(stderr, "message %zu differs: got %zd bytes [%.60s], expected %zu [%.60s]\n", i, len, got, lens[i], expected[i]);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    char **expected = NULL, *line = NULL;
    size_t *lens = NULL, n = 0, cap = 0, i;
    ssize_t len;
    FILE *f;
    pipe_io_client *client;
    char done[64];

    if (argc != 5)
        return 2;
    f = fopen(argv[3], "r");
    if (f == NULL)
        fail("fopen", 0);
    while ((len = getline(&line, &cap, f)) > 0) {
        expected = realloc(expected, (n + 1) * sizeof *expected);
        lens = realloc(lens, (n + 1) * sizeof *lens);
        if (expected == NULL || lens == NULL || (expected[n] = malloc((size_t)len)) == NULL)
            fail("out of memory", n);
        lens[n] = (size_t)len - 1;
        memcpy(expected[n], line, lens[n]);
        expected[n][lens[n]] = '\0';
        n++;
    }
    fclose(f);

    if (strcmp(argv[4], "connect") == 0) {
        client = pipe_io_open(argv[1][0] ? argv[1] : NULL, argv[2][0] ? argv[2] : NULL, 1000);
        if (client != NULL)
            fail("connected with no server", 0);
        fprintf(stderr, "pipe_io_open: %s\n", errno == ENOENT ? "ENOENT" : errno == ENXIO ? "ENXIO" : strerror(errno));
        return 3;
    }
    client = pipe_io_open(argv[1][0] ? argv[1] : NULL, argv[2][0] ? argv[2] : NULL, 30000);
    if (client == NULL)
        fail("pipe_io_open", 0);
    if (strcmp(argv[4], "follow") == 0) {
        if (pipe_io_send(client, "ready", 5) < 0)
            fail("pipe_io_send", 0);
        while ((len = pipe_io_recv(client, &line, &cap)) >= 0) {
            printf("%s\n", line);
            fflush(stdout);
        }
        if (len != PIPE_IO_EOF)
            fail("pipe_io_recv", 0);
        return pipe_io_close(client) == 0 ? 0 : 1;
    }
    if (strcmp(argv[4], "relay") == 0) {
        while ((len = pipe_io_recv(client, &line, &cap)) >= 0) {
            char reply[128];
            int n = snprintf(reply, sizeof reply, "echo: %.100s", line);
            if (pipe_io_send(client, reply, (size_t)n) < 0)
                fail("pipe_io_send", 0);
        }
        if (len != PIPE_IO_EOF)
            fail("pipe_io_recv", 0);
        return pipe_io_close(client) == 0 ? 0 : 1;
    }
    if (pipe_io_send(client, "two\nlines", 9) == 0 || errno != EINVAL)
        fail("a message with a newline was not refused", 0);
    if (strcmp(argv[4], "roundtrip") == 0) {
        for (i = 0; i < n; i++) {
            if (pipe_io_send(client, expected[i], lens[i]) < 0)
                fail("pipe_io_send", i);
            len = pipe_io_recv(client, &line, &cap);
            check(i, line, len, expected, lens);
        }
        printf("roundtrips ok %zu\n", n);
        fflush(stdout);
    } else {
        if (pipe_io_send(client, "ready", 5) < 0)
            fail("pipe_io_send", 0);
        for (i = 0; i < n; i++) {
            len = pipe_io_recv(client, &line, &cap);
            check(i, line, len, expected, lens);
        }
        if (pipe_io_send(client, done, (size_t)sprintf(done, "done %zu", n)) < 0)
            fail("pipe_io_send", n);
    }
    errno = 0;
    len = pipe_io_recv(client, &line, &cap);
    if (len != PIPE_IO_EOF)
        fail(len >= 0 ? "unexpected message after the last one" : "pipe_io_recv", n);
    for (i = 0; i < n; i++)
        free(expected[i]);
    free(expected);
    free(lens);
    free(line);
    return pipe_io_close(client) == 0 ? 0 : 1;
}
`;

interface ClientKind {
  readonly name: string;
  /** Tool that must exist, else the suite is skipped. */
  readonly tool: string;
  /** Writes the driver into `dir` (compiling it if need be); returns the command line. */
  prepare(dir: string): { command: string; args: string[]; env: Record<string, string> };
  /** The example client's command line. */
  example(dir: string): { command: string; args: string[] };
}

const CC_FLAGS = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-D_POSIX_C_SOURCE=200809L', '-pthread', '-O2'];

function compile(output: string, sources: string[]): void {
  const result = spawnSync('cc', [...CC_FLAGS, '-I', path.join(CLIENTS, 'c'), '-o', output, ...sources], { encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`cc failed:\n${result.stderr}`);
}

const KINDS: ClientKind[] = [
  {
    name: 'bash',
    tool: 'bash',
    prepare(dir) {
      fs.writeFileSync(path.join(dir, 'driver.sh'), BASH_DRIVER);
      return { command: 'bash', args: [path.join(dir, 'driver.sh')], env: { PIPE_IO_LIB: path.join(CLIENTS, 'bash', 'pipe-io.sh') } };
    },
    example: () => ({ command: 'bash', args: [path.join(CLIENTS, 'bash', 'example-client.sh')] }),
  },
  {
    name: 'Python',
    tool: 'python3',
    prepare(dir) {
      fs.writeFileSync(path.join(dir, 'driver.py'), PYTHON_DRIVER);
      return { command: 'python3', args: [path.join(dir, 'driver.py')], env: { PIPE_IO_LIB: path.join(CLIENTS, 'python') } };
    },
    example: () => ({ command: 'python3', args: [path.join(CLIENTS, 'python', 'example_client.py')] }),
  },
  {
    name: 'C',
    tool: 'cc',
    prepare(dir) {
      fs.writeFileSync(path.join(dir, 'driver.c'), C_DRIVER);
      compile(path.join(dir, 'driver'), [path.join(dir, 'driver.c'), path.join(CLIENTS, 'c', 'pipe_io_client.c')]);
      compile(path.join(dir, 'example'), [path.join(CLIENTS, 'c', 'example.c'), path.join(CLIENTS, 'c', 'pipe_io_client.c')]);
      return { command: path.join(dir, 'driver'), args: [], env: {} };
    },
    example: (dir) => ({ command: path.join(dir, 'example'), args: [] }),
  },
];

for (const kind of KINDS) {
  describe(`${kind.name} client`, function () {
    this.timeout(60_000);
    let buildDir: string;
    let driver: ReturnType<ClientKind['prepare']>;
    let dir: string;
    let messagesFile: string;
    let inPath: string;
    let outPath: string;
    let server: PipeIOServer;
    let warnings: Error[];
    let client: Run | undefined;

    before(function () {
      if (!haveCommand(kind.tool)) this.skip();
      buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-clients-build-'));
      driver = kind.prepare(buildDir);
    });

    after(() => {
      if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
    });

    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-clients-'));
      messagesFile = path.join(dir, 'messages.txt');
      fs.writeFileSync(messagesFile, MESSAGES.map((m) => m + '\n').join(''));
      inPath = path.join(dir, 'in');
      outPath = path.join(dir, 'out');
      server = new PipeIOServer(inPath, outPath, { permissions: 0o600, managePipes: true });
      warnings = [];
      server.on('warning', (error) => warnings.push(error));
      client = undefined;
    });

    afterEach(async () => {
      if (client && client.child.exitCode === null && client.child.signalCode === null) client.child.kill('SIGKILL');
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Stops the server; the client must then see end of stream and exit 0 on its own. */
    async function stopAndExpectCleanExit(running: Run): Promise<void> {
      await server.stop();
      const code = await within(running.exit, 10_000, () => `client still running 10 s after the server stopped; stderr: ${running.stderr}`);
      expect(code, `client exit status; stderr: ${running.stderr}`).to.equal(0);
      expect(warnings.map(String)).to.deep.equal([]);
    }

    it('makes 1,000 round trips with every kind of message intact and in order, then exits at end of stream', async () => {
      const received: string[] = [];
      const sendErrors: unknown[] = [];
      server.on('message', (message) => {
        received.push(message);
        server.send(message).catch((error: unknown) => sendErrors.push(error));
      });
      await server.start();
      // Paths as arguments.
      const running = (client = run(driver.command, [...driver.args, inPath, outPath, messagesFile, 'roundtrip'], driver.env));
      await until(() => running.stdout.includes(`roundtrips ok ${MESSAGES.length}`), running);
      expectSameMessages(received, MESSAGES, 'what the server received');
      expect(sendErrors).to.deep.equal([]);
      await stopAndExpectCleanExit(running);
    });

    it('receives everything sent from the moment it starts, then exits at end of stream', async () => {
      const received: string[] = [];
      server.on('message', (message) => received.push(message));
      await server.start();
      // Paths from the environment, as the plugin host passes them.
      const running = (client = run(driver.command, [...driver.args, '', '', messagesFile, 'listen'], {
        ...driver.env,
        PIPE_IO_SEND: inPath,
        PIPE_IO_RECV: outPath,
      }));
      // Half before the client has had time to open its pipes, half once it says it is ready.
      const half = MESSAGES.length / 2;
      const sent = MESSAGES.slice(0, half).map((message) => server.send(message));
      await until(() => received.includes('ready'), running);
      sent.push(...MESSAGES.slice(half).map((message) => server.send(message)));
      await until(() => received.includes(`done ${MESSAGES.length}`), running);
      await Promise.all(sent);
      expect(received).to.deep.equal(['ready', `done ${MESSAGES.length}`]);
      await stopAndExpectCleanExit(running);
    });

    it('waits for a server started 300 ms after it, then talks to it', async () => {
      const received: string[] = [];
      server.on('message', (message) => received.push(message));
      // No pipes yet: the folder is empty until start() makes them.
      const running = (client = run(driver.command, [...driver.args, inPath, outPath, messagesFile, 'listen'], driver.env));
      await sleep(300);
      expect(running.child.exitCode, `the client gave up before the server started; stderr: ${running.stderr}`).to.equal(null);
      await server.start();
      await until(() => received.includes('ready'), running);
      const sent = MESSAGES.map((message) => server.send(message));
      await until(() => received.includes(`done ${MESSAGES.length}`), running);
      await Promise.all(sent);
      await stopAndExpectCleanExit(running);
    });

    it('with no server, fails after its 1 s timeout saying what was missing', async () => {
      const cases = [
        // No pipes at all: the out pipe, opened first, is reported.
        { stale: false, expected: kind.name === 'C' ? 'ENOENT' : `there is no pipe at '${outPath}'` },
        // FIFOs left by a server that is gone: nobody reads the in pipe.
        { stale: true, expected: kind.name === 'C' ? 'ENXIO' : `no server is reading '${inPath}'` },
      ];
      for (const { stale, expected } of cases) {
        if (stale) {
          const made = spawnSync('mkfifo', ['-m', '600', inPath, outPath]);
          expect(made.status, String(made.stderr)).to.equal(0);
        }
        const started = Date.now();
        const running = (client = run(driver.command, [...driver.args, inPath, outPath, messagesFile, 'connect'], driver.env));
        const code = await within(running.exit, 8000, () => `client still waiting 8 s into a 1 s timeout; stderr: ${running.stderr}`);
        const took = Date.now() - started;
        expect(code, `exit status; stderr: ${running.stderr}`).to.equal(3);
        expect(running.stderr).to.include(expected);
        expect(took, 'it gave up before its timeout').to.be.at.least(1000);
      }
    });

    it('follows its out pipe deleted 10 times under traffic: every line once, in order, then exits at the stop', async () => {
      const received: string[] = [];
      server.on('message', (message) => received.push(message));
      await server.start();
      const running = (client = run(driver.command, [...driver.args, inPath, outPath, messagesFile, 'follow'], driver.env));
      await until(() => received.includes('ready'), running);
      let count = 0;
      const sends: Promise<void>[] = [];
      const ticker = setInterval(() => sends.push(server.send(`line ${count++}`)), 10);
      try {
        for (let i = 0; i < 10; i++) {
          await sleep(40 + 10 * (i % 3));
          const back = recreated(server, 'out');
          fs.unlinkSync(outPath);
          await within(back, 5000, () => `out pipe ${i + 1} not made again in 5 s`);
          // A client finds the new pipe when it reaches end of stream on the old one; deleted
          // again before that (a slow machine), the path is empty and the client rightly takes
          // the server for stopped (client rule 3). So each deletion waits for the client.
          await until(() => holdsPipeAt(running.child.pid!, outPath), running, 10_000);
        }
        await sleep(50);
      } finally {
        clearInterval(ticker);
      }
      await Promise.all(sends);
      const expected = Array.from({ length: count }, (_, i) => `line ${i}`);
      const printed = (): string[] => running.stdout.split('\n').slice(0, -1);
      await until(() => printed().length >= count, running, 10_000);
      expectSameMessages(printed(), expected, 'what the client printed');
      await stopAndExpectCleanExit(running);
    });

    it('keeps sending into a deleted in pipe and reading a recreated out pipe, then exits at the stop', async () => {
      const replies: string[] = [];
      server.on('message', (message) => replies.push(message));
      await server.start();
      const running = (client = run(driver.command, [...driver.args, inPath, outPath, messagesFile, 'relay'], driver.env));
      const roundTrip = async (message: string): Promise<void> => {
        await server.send(message);
        await until(() => replies.includes(`echo: ${message}`), running, 10_000);
      };
      await roundTrip('before');
      // The client still holds the old in pipe; the server goes on reading it.
      let back = recreated(server, 'in');
      fs.unlinkSync(inPath);
      await within(back, 5000, () => 'in pipe not made again in 5 s');
      await roundTrip('after the in pipe was deleted');
      back = recreated(server, 'out');
      fs.unlinkSync(outPath);
      await within(back, 5000, () => 'out pipe not made again in 5 s');
      await roundTrip('after the out pipe was deleted');
      expect(replies).to.deep.equal(['echo: before', 'echo: after the in pipe was deleted', 'echo: after the out pipe was deleted']);
      await stopAndExpectCleanExit(running);
    });

    const nextPipes: NextPipe[] = ['own FIFO', 'symlink to own FIFO', "another user's FIFO", 'nothing'];
    for (const next of nextPipes) {
      const follows = next === 'own FIFO';
      it(`at end of stream, ${follows ? 'follows a new FIFO of the same owner at the out path, keeping the unfinished line' : `ends when the out path holds ${next}`}`, async function () {
        const moved = new MovedPipeServer(dir);
        try {
          await moved.start();
          const running = (client = run(driver.command, [...driver.args, moved.sendPath, moved.recvPath, messagesFile, 'follow'], driver.env));
          await moved.waitForLine('ready');
          moved.write('line 0\npar');
          await until(() => running.stdout === 'line 0\n', running);
          if (!(await moved.move(next, 'tial\nline 1\n'))) this.skip(); // another user's FIFO needs root
          const expected = follows ? 'line 0\npartial\nline 1\n' : 'line 0\n';
          if (follows) {
            await until(() => running.stdout === expected, running);
            moved.stop(); // end of stream on the followed pipe, same inode at the path: the end
          }
          const code = await within(running.exit, 10_000, () => `client still running 10 s after end of stream; stderr: ${running.stderr}`);
          expect(code, `exit status; stderr: ${running.stderr}`).to.equal(0);
          expect(running.stdout).to.equal(expected);
        } finally {
          moved.stop();
        }
      });
    }

    it('example client replies "echo: <message>" and exits at end of stream', async () => {
      const replies: string[] = [];
      server.on('message', (message) => replies.push(message));
      await server.start();
      const example = kind.example(buildDir);
      const running = (client = run(example.command, example.args, { PIPE_IO_SEND: inPath, PIPE_IO_RECV: outPath }));
      const messages = ['hello', '', ' spaced  \\ "quoted" -n %s ', '漢字 😀 é', 'z'.repeat(5000)];
      await Promise.all(messages.map((message) => server.send(message)));
      await until(() => replies.length >= messages.length, running);
      expectSameMessages(
        replies,
        messages.map((message) => `echo: ${message}`),
        'replies',
      );
      await stopAndExpectCleanExit(running);
    });
  });
}
