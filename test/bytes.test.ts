/**
 * The `'buffer'` codec: any bytes but the newline survive the round trip, through the
 * server, the Node client, a plugin, and the Python (binary=True) and C clients as real
 * processes. The shape of the Python original's binary suite: 2,222 random messages of
 * 1–1,024 bytes, and single messages of 1 KiB, 1 MiB and 16 MiB.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BinaryCodec,
  PipeIOClient,
  PipeIOServer,
  PipeReaderServer,
  PipeWriterServer,
  type PluginHandle,
  bufferCodec,
  jsonCodec,
  spawnPlugin,
} from '../lib/index.js';
import { ByteLineDecoder } from '../lib/framing.js';
import { type Running, run, tempDir, waitFor, within } from './helpers/fixtures.js';

const CLIENTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../clients');
const MiB = 1024 * 1024;

/** mulberry32: a small seeded generator, so a failure shows the same bytes on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `length` random bytes, none of them a newline (a newline is drawn again, so the length holds). */
function randomBytes(next: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    let byte: number;
    do byte = Math.floor(next() * 256);
    while (byte === 0x0a);
    bytes[i] = byte;
  }
  return bytes;
}

const SEED = 0x19b17e5;

/** The original suite's bulk test: 2,222 messages of 1 to 1,024 random bytes. */
function randomMessages(): Buffer[] {
  const next = random(SEED);
  return Array.from({ length: 2222 }, () => randomBytes(next, 1 + Math.floor(next() * 1024)));
}

/** Its single-message tests: 1 KiB, 1 MiB and 16 MiB. */
function bigMessages(): Buffer[] {
  const next = random(SEED + 1);
  return [1024, MiB, 16 * MiB].map((length) => randomBytes(next, length));
}

/** The bytes text would mangle or a C string would cut: NUL, CR, invalid UTF-8, every byte but the newline. */
const AWKWARD: Buffer[] = [
  Buffer.alloc(0),
  Buffer.from([0]),
  Buffer.from([0, 0, 0]),
  Buffer.from('a\0b'),
  Buffer.from('\0leading and trailing\0'),
  Buffer.from('\r'),
  Buffer.from('\r\r'),
  Buffer.from('crlf-like\r'),
  Buffer.from('mid\rdle'),
  Buffer.from('\0\r\0\r'),
  Buffer.from([0xff, 0xfe, 0xfd]), // never valid UTF-8
  Buffer.from([0x80]), // a lone continuation byte
  Buffer.from([0xc0, 0xaf]), // an overlong '/'
  Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate in UTF-8
  Buffer.from([0xe6, 0xbc]), // a character cut short
  Buffer.from('caf\xe9', 'latin1'), // Latin-1 text from an old tool
  Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((i) => i !== 0x0a)),
];

/** Says where two lists of byte messages first differ, briefly. */
function expectSameBytes(actual: readonly Buffer[], expected: readonly Buffer[], what: string): void {
  const show = (b: Buffer | undefined): string => (b === undefined ? 'nothing' : `${b.length} bytes ${b.toString('hex', 0, 24)}`);
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === undefined || e === undefined || !a.equals(e)) {
      expect.fail(`${what}: message ${i} is ${show(a)}, expected ${show(e)} (${actual.length} of ${expected.length} messages)`);
    }
  }
}

/** Each message as a 4-byte big-endian length and its bytes: a file any byte can be in. */
function writeMessagesFile(file: string, messages: readonly Buffer[]): void {
  const parts: Buffer[] = [];
  for (const message of messages) {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(message.length);
    parts.push(length, message);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

/**
 * Drivers: `SEND RECV MESSAGES_FILE`. Each sends every message of the file and checks its echo
 * byte for byte, prints "roundtrips ok N", checks that a message with a newline is refused,
 * then waits for end of stream and exits 0.
 */
const PYTHON_DRIVER = String.raw`
import os, struct, sys
sys.path.insert(0, os.environ["PIPE_IO_LIB"])
from pipe_io_client import PipeIOClient

send, recv, messages_file = sys.argv[1:4]
with open(messages_file, "rb") as f:
    data = f.read()
expected, at = [], 0
while at < len(data):
    (n,) = struct.unpack(">I", data[at:at + 4])
    expected.append(data[at + 4:at + 4 + n])
    at += 4 + n

with PipeIOClient(send, recv, timeout=60, binary=True) as client:
    for bad in (b"two\nlines", bytearray(b"\n")):
        try:
            client.send(bad)
            sys.exit("a message with a newline was sent")
        except ValueError:
            pass
    try:
        client.send("text")
        sys.exit("a str was sent in binary mode")
    except TypeError:
        pass
    for i, message in enumerate(expected):
        client.send(message if i % 2 else memoryview(bytearray(message)))
        got = client.recv()
        if type(got) is not bytes or got != message:
            sys.exit("message %d differs: got %r %d bytes %s, expected %d bytes %s"
                     % (i, type(got), len(got), got[:24].hex(), len(message), message[:24].hex()))
    print("roundtrips ok", len(expected), flush=True)
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

int main(int argc, char **argv)
{
    unsigned char *data, *line = NULL;
    size_t size = 0, at = 0, cap = 0, i = 0;
    long end;
    ssize_t len;
    FILE *f;
    pipe_io_client *client;

    if (argc != 4)
        return 2;
    f = fopen(argv[3], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        fail("reading the messages", 0);
    size = (size_t)end;
    data = malloc(size ? size : 1);
    if (data == NULL || fread(data, 1, size, f) != size)
        fail("reading the messages", 0);
    fclose(f);

    client = pipe_io_open(argv[1], argv[2], 60000);
    if (client == NULL)
        fail("pipe_io_open", 0);
    if (pipe_io_send(client, "a\0b\nc", 5) == 0 || errno != EINVAL)
        fail("a message with a newline after a NUL was not refused", 0);
    for (i = 0; at < size; i++) {
        size_t n = (size_t)data[at] << 24 | (size_t)data[at + 1] << 16 | (size_t)data[at + 2] << 8 | data[at + 3];
        const unsigned char *message = data + at + 4;
        at += 4 + n;
        if (pipe_io_send(client, (const char *)message, n) < 0)
            fail("pipe_io_send", i);
        len = pipe_io_recv(client, (char **)&line, &cap);
        if (len < 0)
            fail("end of stream or error before the last message", i);
        if ((size_t)len != n || memcmp(line, message, n) != 0 || line[n] != '\0') {
            fprintf(stderr, "message %zu differs: got %zd bytes, expected %zu\n", i, len, n);
            return 1;
        }
    }
    printf("roundtrips ok %zu\n", i);
    fflush(stdout);
    errno = 0;
    len = pipe_io_recv(client, (char **)&line, &cap);
    if (len != PIPE_IO_EOF)
        fail(len >= 0 ? "unexpected message after the last one" : "pipe_io_recv", i);
    free(data);
    free(line);
    return pipe_io_close(client) == 0 ? 0 : 1;
}
`;

function haveCommand(command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** What a test starts and afterEach stops: a server, a plugin or a client. */
type Closable = { stop(): Promise<unknown> } | { close(): Promise<unknown> };

/** Echoes every message back, and keeps what it received. */
class Echo extends PipeIOServer<Buffer> {
  readonly received: Buffer[] = [];
  override handleMessage(message: Buffer): Promise<void> {
    this.received.push(message);
    return this.send(message);
  }
}

describe("codec: 'buffer'", function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;
  let inPath: string;
  let outPath: string;
  let servers: Closable[];

  beforeEach(() => {
    ({ dir, cleanup } = tempDir('pipe-io-bytes-'));
    inPath = path.join(dir, 'in');
    outPath = path.join(dir, 'out');
    servers = [];
  });

  afterEach(async () => {
    await Promise.all(servers.map((s) => ('stop' in s ? s.stop() : s.close())));
    cleanup();
  });

  function track<S extends Closable>(server: S): S {
    servers.push(server);
    return server;
  }

  it('ByteLineDecoder hands out the exact bytes of every line however the stream is cut, and drops what is too long', () => {
    const lines = [Buffer.from([0xff, 0x00, 0x0d]), Buffer.alloc(0), Buffer.from('caf\xe9\r', 'latin1'), Buffer.alloc(9, 0x80), Buffer.from([0])];
    const stream = Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\n')]), Buffer.alloc(11, 0xfe), Buffer.from('\n\0tail')]);
    // Every cut into two chunks, then one byte at a time: a line within a chunk, across chunks, at its edges.
    const cuts = [...Array.from({ length: stream.length + 1 }, (_, i) => [i]), Array.from({ length: stream.length }, (_, i) => i)];
    // A limit of 10 drops the 11-byte line (and checks each line); 1000 takes the fast path.
    for (const max of [10, 1000]) {
      for (const cut of cuts) {
        const what = `limit ${max}, cut at ${cut.length > 1 ? 'every byte' : cut[0]}`;
        const got: Buffer[] = [];
        let oversize = 0;
        const decoder = new ByteLineDecoder(max, { line: (l) => got.push(Buffer.from(l)), oversize: () => oversize++ });
        let from = 0;
        for (const at of [...cut, stream.length]) {
          decoder.push(stream.subarray(from, at));
          from = at;
        }
        decoder.end();
        expectSameBytes(got, [...lines, ...(max === 10 ? [] : [Buffer.alloc(11, 0xfe)]), Buffer.from('\0tail')], what);
        expect(oversize, what).to.equal(max === 10 ? 1 : 0);
      }
    }
  });

  it('types follow the codec: Buffer messages in, Buffer or Uint8Array out, and a mismatch does not compile', () => {
    const server = new PipeIOServer<Buffer>(inPath, outPath, { codec: 'buffer' });
    server.on('message', (message) => {
      const bytes: Buffer = message;
      void bytes;
    });
    const reader = new PipeReaderServer<Buffer>(inPath, { codec: 'buffer' });
    const writer = new PipeWriterServer<Buffer>(outPath, { codec: bufferCodec });
    const client = new PipeIOClient<Buffer>({ send: inPath, recv: outPath, codec: 'buffer' });
    // Not started: these only have to type-check (and reject, since nothing runs).
    for (const sent of [server.send(new Uint8Array([1])), writer.send(Buffer.from([2])), client.send(new Uint8Array([3]))]) sent.catch(() => {});
    const iterator: AsyncIterableIterator<Buffer> = reader.messages();
    void iterator;
    // @ts-expect-error a server of strings cannot take the buffer codec: its messages would be Buffers
    void new PipeIOServer(inPath, outPath, { codec: 'buffer' });
    // @ts-expect-error nor a server of Buffers the text codec
    void new PipeIOServer<Buffer>(inPath, outPath, { codec: 'text' });
    // @ts-expect-error a string is not a message of a Buffer server
    server.send('text').catch(() => {});
    // JSON, by name or as the object, fits any message type: its values are the caller's to trust.
    void new PipeIOServer<{ op: string }>(inPath, outPath, { codec: jsonCodec });
    void new PipeIOServer<{ op: string }>(inPath, outPath, { codec: 'json' });
    // A binary codec of your own: Latin-1 text, with the message type inferred from it.
    const latin1: BinaryCodec<string> = { binary: true, encode: (s) => Buffer.from(s, 'latin1'), decode: (b) => b.toString('latin1') };
    const typed = new PipeIOServer(inPath, outPath, { codec: latin1 });
    typed.on('message', (message) => {
      const text: string = message;
      void text;
    });
  });

  it('echoes every byte but the newline, NUL and CR included, through the Node client; views are plain Buffers', async () => {
    const server = track(new Echo(inPath, outPath, { codec: 'buffer' }));
    await server.start();
    const client = track(new PipeIOClient<Buffer>({ send: inPath, recv: outPath, codec: 'buffer' }));
    await client.connect();
    const got: Buffer[] = [];
    client.on('message', (message) => got.push(message));
    const messages = [...AWKWARD, ...randomMessages().slice(0, 200)];
    for (const message of messages) await client.send(message);
    await waitFor(() => got.length >= messages.length, `${messages.length} echoes (got ${got.length})`);
    expectSameBytes(server.received, messages, 'what the server received');
    expectSameBytes(got, messages, 'what the client received');
    for (const message of [...server.received, ...got]) {
      expect(Buffer.isBuffer(message)).to.equal(true);
      expect(Object.getPrototypeOf(message)).to.equal(Buffer.prototype);
    }
  });

  it('a message that spans reads is joined whole; a last line without newline is a message at end of stream', async () => {
    const received: Buffer[] = [];
    const reader = track(new PipeReaderServer<Buffer>(inPath, { codec: 'buffer', maxMessageBytes: 2 * MiB }));
    reader.on('message', (message) => received.push(message));
    await reader.start();
    const big = randomBytes(random(SEED + 2), MiB + 7);
    const file = path.join(dir, 'input');
    // Written by a real process, in pieces that cut lines: ends with a line that has no newline.
    fs.writeFileSync(file, Buffer.concat([Buffer.from('\0a\r\n'), big, Buffer.from('\n\xff\xfe', 'latin1')]));
    const writer = run('bash', ['-c', 'dd if="$1" of="$2" bs=4093 status=none', 'writer', file, inPath]);
    expect((await writer.done).code).to.equal(0);
    await waitFor(() => received.length === 3, `3 messages (got ${received.length})`);
    expectSameBytes(received, [Buffer.from('\0a\r'), big, Buffer.from([0xff, 0xfe])], 'received');
  });

  it('copies a sent Buffer at once: the caller may reuse it before the write', async () => {
    const got: Buffer[] = [];
    const server = track(new PipeIOServer<Buffer>(inPath, outPath, { codec: 'buffer' }));
    await server.start();
    const client = track(new PipeIOClient<Buffer>({ send: inPath, recv: outPath, codec: 'buffer' }));
    await client.connect();
    client.on('message', (message) => got.push(message));
    const scratch = Buffer.alloc(3);
    const sent: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      scratch.fill(0x30 + i);
      sent.push(server.send(scratch));
    }
    scratch.fill(0x0a); // newlines, after the checks: must not reach the pipe
    // A Uint8Array that is a window on a larger buffer: exactly its bytes go.
    const memory = new Uint8Array([0x0a, 0x0a, 0x61, 0x00, 0x62, 0x0a]);
    sent.push(server.send(new Uint8Array(memory.buffer, 2, 3)));
    await Promise.all(sent);
    await waitFor(() => got.length >= 6, '6 messages');
    expect(got.map(String)).to.deep.equal(['000', '111', '222', '333', '444', 'a\0b']);
  });

  it('keeps every byte in order when many sends fill the pipe and share batches (a reader process slower than the sender)', async function () {
    if (!haveCommand('python3')) this.skip();
    const writer = track(new PipeWriterServer<Buffer>(outPath, { codec: 'buffer', highWaterMark: 256 * 1024 }));
    await writer.start();
    const file = path.join(dir, 'received');
    // A reader that sips: the pipe fills, writes go through libuv, batches are reused.
    const sip = 'import os, sys, time\nfd = os.open(sys.argv[1], os.O_RDONLY)\nwith open(sys.argv[2], "wb") as out:\n    n = 0\n    while True:\n        chunk = os.read(fd, 7919)\n        if not chunk:\n            break\n        out.write(chunk)\n        n += 1\n        if n % 64 == 0:\n            time.sleep(0.002)\n';
    const reader = run('python3', ['-c', sip, outPath, file]);
    const next = random(SEED + 3);
    const messages = Array.from({ length: 20_000 }, (_, i) => randomBytes(next, i % 100 === 0 ? 70_000 : 1 + Math.floor(next() * 200)));
    let last: Promise<void> | undefined;
    for (const message of messages) {
      last = writer.send(message);
      if (writer.needsDrain) await new Promise<void>((resolve) => writer.once('drain', () => resolve()));
    }
    await last;
    await writer.stop();
    const result = await within(reader.done, 20_000, 'the reader to see end of stream');
    expect(result.code, result.stderr).to.equal(0);
    const received = fs.readFileSync(file);
    const expected = Buffer.concat(messages.flatMap((m) => [m, Buffer.from('\n')]));
    expect(received.length).to.equal(expected.length);
    expect(received.equals(expected), `first difference at byte ${received.findIndex((b, i) => b !== expected[i])}`).to.equal(true);
  });

  it('rejects a Buffer with a newline with a TypeError and writes nothing, from the server, the writer and the client', async () => {
    const server = track(new PipeIOServer<Buffer>(inPath, outPath, { codec: 'buffer' }));
    const fromClient: Buffer[] = [];
    server.on('message', (message) => fromClient.push(message));
    await server.start();
    const client = track(new PipeIOClient<Buffer>({ send: inPath, recv: outPath, codec: 'buffer' }));
    await client.connect();
    const fromServer: Buffer[] = [];
    client.on('message', (message) => fromServer.push(message));
    for (const bad of [Buffer.from('\n'), Buffer.from('a\nb'), new Uint8Array([0, 10, 0]), Buffer.from('ends\n')]) {
      const fromServerSend = server.send(bad);
      expect(server.queuedBytes).to.equal(0);
      await expectTypeError(fromServerSend, /newline/);
      await expectTypeError(client.send(bad), /newline/);
    }
    await expectTypeError(server.send('text' as unknown as Buffer), /Buffer or Uint8Array/);
    await expectTypeError(client.send(null as unknown as Buffer), /Buffer or Uint8Array/);
    await server.send(Buffer.from('after'));
    await client.send(Buffer.from('after'));
    await waitFor(() => fromServer.length >= 1 && fromClient.length >= 1, 'the good messages');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fromServer.map(String)).to.deep.equal(['after']);
    expect(fromClient.map(String)).to.deep.equal(['after']);

    const writerPath = path.join(dir, 'w');
    const writer = track(new PipeWriterServer<Buffer>(writerPath, { codec: 'buffer' }));
    await writer.start();
    await expectTypeError(writer.send(Buffer.from('x\ny')), /newline/);
    expect(writer.queuedBytes).to.equal(0);
  });

  it('reports a line longer than maxMessageBytes and goes on', async () => {
    const received: Buffer[] = [];
    const oversize: number[] = [];
    const reader = track(new PipeReaderServer<Buffer>(inPath, { codec: 'buffer', maxMessageBytes: 1000 }));
    reader.on('message', (message) => received.push(message));
    reader.on('oversize', (info) => oversize.push(info.limit));
    await reader.start();
    const fd = fs.openSync(inPath, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, Buffer.concat([Buffer.alloc(1000, 0), Buffer.from('\n'), Buffer.alloc(1001, 0xff), Buffer.from('\n\0\n')]));
    fs.closeSync(fd);
    await waitFor(() => received.length === 2, '2 messages');
    expectSameBytes(received, [Buffer.alloc(1000, 0), Buffer.from([0])], 'received');
    expect(oversize).to.deep.equal([1000]);
  });

  it('a binary codec that cannot decode a line reports it (as hex) through warning, skips it and goes on', async () => {
    const even: BinaryCodec<number> = {
      binary: true,
      encode: (n) => Buffer.from([n]),
      decode: (b) => {
        if (b.length !== 1 || b[0]! % 2 !== 0) throw new Error('not one even byte');
        return b[0]!;
      },
    };
    const reader = track(new PipeReaderServer<number>(inPath, { codec: even }));
    const got: number[] = [];
    const warnings: Error[] = [];
    reader.on('message', (n) => got.push(n));
    reader.on('warning', (error) => warnings.push(error));
    await reader.start();
    const fd = fs.openSync(inPath, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, Buffer.from([2, 0x0a, 0xff, 0x00, 0x0a, 4, 0x0a]));
    fs.closeSync(fd);
    await waitFor(() => got.length === 2 && warnings.length === 1, 'two messages and a warning');
    expect(got).to.deep.equal([2, 4]);
    expect((warnings[0] as { code?: string }).code).to.equal('ERR_DECODE');
    expect(warnings[0]!.message).to.include('not one even byte').and.include('"ff00"');
  });

  it('a binary codec of your own gets the raw line: Latin-1 text both ways', async () => {
    const latin1: BinaryCodec<string> = { binary: true, encode: (s) => Buffer.from(s, 'latin1'), decode: (b) => b.toString('latin1') };
    const server = track(new PipeIOServer<string>(inPath, outPath, { codec: latin1 }));
    server.on('message', (message) => void server.send(`echo ${message}`));
    await server.start();
    const client = track(new PipeIOClient<Buffer>({ send: inPath, recv: outPath, codec: 'buffer' }));
    await client.connect();
    const got: Buffer[] = [];
    client.on('message', (message) => got.push(message));
    await client.send(Buffer.from('caf\xe9 \xff', 'latin1'));
    await waitFor(() => got.length === 1, 'the echo');
    expect(got[0]!.toString('hex')).to.equal(Buffer.from('echo caf\xe9 \xff', 'latin1').toString('hex'));
  });

  it('a plugin with the buffer codec: Python in binary mode echoes every byte but the newline', async function () {
    if (!haveCommand('python3')) this.skip();
    const script = path.join(dir, 'plugin.py');
    fs.writeFileSync(
      script,
      String.raw`
import os, sys
sys.path.insert(0, os.environ["PIPE_IO_LIB"])
from pipe_io_client import PipeIOClient
with PipeIOClient(binary=True) as client:
    for message in client:
        client.send(b"\0echo\r" + message)
`,
    );
    const plugin: PluginHandle<Buffer> = await spawnPlugin<Buffer>('python3', [script], {
      codec: 'buffer',
      tmpDir: dir,
      stdio: 'ignore',
      env: { PIPE_IO_LIB: path.join(CLIENTS, 'python'), PYTHONDONTWRITEBYTECODE: '1' },
    });
    track(plugin);
    const got: Buffer[] = [];
    plugin.on('message', (message) => got.push(message));
    for (const message of AWKWARD) await plugin.send(message);
    await waitFor(() => got.length >= AWKWARD.length, `${AWKWARD.length} echoes (got ${got.length})`);
    expectSameBytes(
      got,
      AWKWARD.map((m) => Buffer.concat([Buffer.from('\0echo\r'), m])),
      'echoes',
    );
  });

  interface Kind {
    readonly name: string;
    readonly tool: string;
    prepare(buildDir: string): { command: string; args: string[]; env: Record<string, string> };
  }

  const KINDS: Kind[] = [
    {
      name: 'Python client (binary=True)',
      tool: 'python3',
      prepare(buildDir) {
        fs.writeFileSync(path.join(buildDir, 'driver.py'), PYTHON_DRIVER);
        return {
          command: 'python3',
          args: [path.join(buildDir, 'driver.py')],
          env: { PIPE_IO_LIB: path.join(CLIENTS, 'python'), PYTHONDONTWRITEBYTECODE: '1' },
        };
      },
    },
    {
      name: 'C client',
      tool: 'cc',
      prepare(buildDir) {
        fs.writeFileSync(path.join(buildDir, 'driver.c'), C_DRIVER);
        const flags = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-D_POSIX_C_SOURCE=200809L', '-pthread', '-O2'];
        const output = path.join(buildDir, 'driver');
        const sources = [path.join(buildDir, 'driver.c'), path.join(CLIENTS, 'c', 'pipe_io_client.c')];
        const result = spawnSync('cc', [...flags, '-I', path.join(CLIENTS, 'c'), '-o', output, ...sources], { encoding: 'utf8' });
        if (result.error) throw result.error;
        if (result.status !== 0) throw new Error(`cc failed:\n${result.stderr}`);
        return { command: output, args: [], env: {} };
      },
    },
  ];

  for (const kind of KINDS) {
    describe(`echoed byte-exact to the ${kind.name}`, function () {
      let build: { dir: string; cleanup: () => void } | undefined;
      let driver: ReturnType<Kind['prepare']>;

      before(function () {
        if (!haveCommand(kind.tool)) this.skip();
        build = tempDir('pipe-io-bytes-build-');
        driver = kind.prepare(build.dir);
      });

      after(() => build?.cleanup());

      /** Runs the driver over `messages` against an echo server; checks both sides byte for byte. */
      async function roundTrips(messages: Buffer[], maxMessageBytes?: number): Promise<void> {
        const file = path.join(dir, 'messages.bin');
        writeMessagesFile(file, messages);
        const server = track(new Echo(inPath, outPath, { codec: 'buffer', ...(maxMessageBytes ? { maxMessageBytes } : {}) }));
        const warnings: Error[] = [];
        server.on('warning', (error) => warnings.push(error));
        server.on('oversize', () => warnings.push(new Error('oversize')));
        await server.start();
        const client: Running = run(driver.command, [...driver.args, inPath, outPath, file], driver.env);
        try {
          await within(
            (async () => {
              while (!client.output.stdout.includes(`roundtrips ok ${messages.length}`)) {
                if (client.child.exitCode !== null) throw new Error(`client exited ${client.child.exitCode}: ${client.output.stderr}`);
                await new Promise((resolve) => setTimeout(resolve, 20));
              }
            })(),
            50_000,
            'the round trips',
          );
          expectSameBytes(server.received, messages, 'what the server received');
          await server.stop();
          const result = await within(client.done, 10_000, 'the client to exit at end of stream');
          expect(result.code, result.stderr).to.equal(0);
          expect(warnings.map(String)).to.deep.equal([]);
        } finally {
          if (client.child.exitCode === null) client.child.kill('SIGKILL');
        }
      }

      it('2,222 random messages of 1 to 1,024 bytes (fixed seed)', async () => {
        await roundTrips(randomMessages());
      });

      it('single messages of 1 KiB, 1 MiB and 16 MiB (maxMessageBytes raised to 16 MiB)', async () => {
        await roundTrips(bigMessages(), 16 * MiB);
      });

      it('NUL, CR, invalid UTF-8, an empty message and every byte but the newline', async () => {
        await roundTrips(AWKWARD);
      });
    });
  }
});

async function expectTypeError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(TypeError);
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail('expected a TypeError');
}
