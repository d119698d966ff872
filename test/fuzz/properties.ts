/**
 * Property-based tests (fast-check) of everything that reads what clients send: the line
 * decoder, the JSON codec, a JSON server on a real FIFO, `pipe-io run --json`, and the Redis
 * bridge's entries. `npm test` runs each with a fixed seed and a few hundred cases
 * (test/fuzz.test.ts); `npm run fuzz` runs many more (test/fuzz/run.ts).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { BridgeError, PipeBridge } from '../../lib/bridge/index.js';
import { CodecError, decodeLine, jsonCodec } from '../../lib/codec.js';
import { PipeIOError } from '../../lib/errors.js';
import { LineDecoder } from '../../lib/framing.js';
import { PipeIOServer } from '../../lib/server.js';
import { run, tempDir, waitFor } from '../helpers/fixtures.js';
import { RedisServer } from '../helpers/redis.js';

/** One property and how many cases it gets. */
export interface FuzzProperty {
  readonly name: string;
  /** Cases in `npm test`, and in `npm run fuzz`. */
  readonly runs: { readonly test: number; readonly fuzz: number };
  /** Checks the property; rejects with fast-check's report (seed, shrunk counterexample) on failure. */
  check(params: fc.Parameters<unknown>): Promise<void>;
}

const NEWLINE = 0x0a;

/** What a decoder reports, in order. */
type DecoderEvent = { line: string } | { oversize: true };

/** The reference: split the whole stream at newlines, judge each line's length in bytes. */
function referenceSplit(sessions: Buffer[], max: number): DecoderEvent[] {
  const events: DecoderEvent[] = [];
  for (const bytes of sessions) {
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(NEWLINE, start);
      const last = end === -1;
      const line = bytes.subarray(start, last ? bytes.length : end);
      if (line.length > max) events.push({ oversize: true });
      else if (!last || line.length > 0) events.push({ line: line.toString('utf8') });
      if (last) break;
      start = end + 1;
    }
  }
  return events;
}

/** Bytes that matter to a UTF-8 line splitter: newline, CR, NUL, lead and continuation bytes, invalid ones. */
const trickyByte = fc.oneof(
  fc.constantFrom(0x0a, 0x0d, 0x00, 0x61, 0xc3, 0xa9, 0xe6, 0xbc, 0xa2, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0xfe, 0xed, 0xa0),
  fc.integer({ min: 0, max: 255 }),
);

/** A piece of a stream: tricky bytes, real text (multi-byte characters), or a line of exactly `max - 1`…`max + 1` bytes. */
function piece(max: number): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.array(trickyByte, { maxLength: 3 * max }).map((bytes) => Buffer.from(bytes)),
    fc.string({ unit: 'binary', maxLength: max }).map((text) => Buffer.from(text, 'utf8')),
    fc.tuple(fc.integer({ min: -1, max: 1 }), fc.constantFrom('x', 'é', '😀')).map(([delta, char]) => {
      const unit = Buffer.from(char);
      const body = Buffer.alloc(Math.max(0, max + delta), 0x78);
      // Ends in a multi-byte character when it fits, so the limit falls inside or right after one.
      if (body.length >= unit.length) unit.copy(body, body.length - unit.length);
      return Buffer.concat([body, Buffer.from('\n')]);
    }),
  );
}

/** Cuts `bytes` at `cuts` (positions taken modulo its length). */
function cut(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const position of [...at, bytes.length]) {
    chunks.push(bytes.subarray(from, position));
    from = position;
  }
  return chunks;
}

const lineDecoderMatchesReference: FuzzProperty = {
  name: 'LineDecoder yields what a reference split yields, however the stream is cut',
  runs: { test: 300, fuzz: 100_000 },
  async check(params) {
    const arbitrary = fc.integer({ min: 1, max: 12 }).chain((max) =>
      fc.record({
        max: fc.constant(max),
        // Several writers one after another: end() between them.
        sessions: fc.array(
          fc.record({ pieces: fc.array(piece(max), { maxLength: 8 }), cuts: fc.array(fc.nat(), { maxLength: 8 }) }),
          { minLength: 1, maxLength: 3 },
        ),
      }),
    );
    fc.assert(
      fc.property(arbitrary, ({ max, sessions }) => {
        const events: DecoderEvent[] = [];
        const decoder = new LineDecoder(max, { line: (line) => events.push({ line }), oversize: () => events.push({ oversize: true }) });
        const streams = sessions.map((session) => Buffer.concat(session.pieces));
        sessions.forEach((session, i) => {
          for (const chunk of cut(streams[i]!, session.cuts)) {
            decoder.push(chunk);
            expect(decoder.pendingBytes, 'bytes held').to.be.at.most(max);
          }
          decoder.end();
        });
        expect(events).to.deep.equal(referenceSplit(streams, max));
      }),
      params,
    );
  },
};

const lineDecoderBounded: FuzzProperty = {
  name: 'LineDecoder holds at most maxMessageBytes of a stream with no newline, and reports it once',
  runs: { test: 300, fuzz: 100_000 },
  async check(params) {
    const chunk = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes.map((b) => (b === NEWLINE ? 0x0b : b))));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(chunk, { maxLength: 30 }), (max, chunks) => {
        let oversize = 0;
        const lines: string[] = [];
        const decoder = new LineDecoder(max, { line: (line) => lines.push(line), oversize: () => oversize++ });
        for (const c of chunks) {
          decoder.push(c);
          expect(decoder.pendingBytes).to.be.at.most(max);
        }
        decoder.end();
        const total = chunks.reduce((sum, c) => sum + c.length, 0);
        expect(oversize).to.equal(total > max ? 1 : 0);
        expect(lines).to.deep.equal(total > 0 && total <= max ? [Buffer.concat(chunks).toString('utf8')] : []);
      }),
      params,
    );
  },
};

/** Lines a client might send a JSON server: JSON, JSON cut or spliced, text, and bytes that are not UTF-8. */
const clientLine: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.json().map((text) => Buffer.from(text)),
    fc.tuple(fc.json(), fc.nat(), fc.string({ unit: 'binary', maxLength: 3 })).map(([text, at, junk]) => {
      const i = at % (text.length + 1);
      return Buffer.from(text.slice(0, i) + junk + text.slice(i + (at % 2)));
    }),
    fc.string({ unit: 'binary', maxLength: 40 }).map((text) => Buffer.from(text)),
    fc.array(trickyByte, { maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom('', '\r', '"\uFEFF"', '{"a":1}\r', ' 1 ', 'null', '"\\ud800"', '1e999', '[', '\u0000').map((text) => Buffer.from(text)),
  )
  .map((bytes) => Buffer.from(bytes.filter((b) => b !== NEWLINE)));

/** What a JSON reader of `line` should get: the value, or undefined for a line to report and skip. */
function expectedJson(line: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(line.toString('utf8')) };
  } catch {
    return undefined;
  }
}

const jsonCodecNeverThrows: FuzzProperty = {
  name: 'the JSON codec decodes or reports any line, never throws',
  runs: { test: 300, fuzz: 100_000 },
  async check(params) {
    fc.assert(
      fc.property(clientLine, (bytes) => {
        const line = bytes.toString('utf8');
        const decoded = decodeLine(jsonCodec, line);
        const expected = expectedJson(bytes);
        if (expected === undefined) {
          expect(decoded.ok).to.equal(false);
          if (decoded.ok) return;
          expect(decoded.error).to.be.instanceOf(CodecError);
          expect(decoded.error.code).to.equal('ERR_DECODE');
          expect(decoded.error.line.length).to.be.at.most(201);
        } else {
          expect(decoded).to.deep.equal({ ok: true, value: expected.value });
        }
      }),
      params,
    );
  },
};

/** Writes all of `bytes` into the FIFO `fd` opened non-blocking, waiting while the pipe is full. */
async function writeAll(fd: number, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

const jsonServerKeepsGoing: FuzzProperty = {
  name: 'a JSON server on a real FIFO delivers every good line, reports each bad one once, keeps serving',
  runs: { test: 100, fuzz: 5_000 },
  async check(params) {
    const { dir, cleanup } = tempDir();
    const server = new PipeIOServer<unknown>(`${dir}/in`, `${dir}/out`, { codec: 'json' });
    const got: unknown[] = [];
    const warnings: PipeIOError[] = [];
    server.on('message', (message) => got.push(message));
    server.on('warning', (error) => warnings.push(error));
    await server.start();
    const fd = fs.openSync(`${dir}/in`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    let round = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(clientLine, { maxLength: 20 }), async (lines) => {
          got.length = 0;
          warnings.length = 0;
          const sentinel = { sentinel: ++round };
          await writeAll(fd, Buffer.concat([...lines.flatMap((line) => [line, Buffer.from('\n')]), Buffer.from(`${JSON.stringify(sentinel)}\n`)]));
          await waitFor(() => got.length > 0 && JSON.stringify(got.at(-1)) === JSON.stringify(sentinel), 'the sentinel', 5000);
          const expected = lines.map(expectedJson);
          expect(got.slice(0, -1)).to.deep.equal(expected.filter((e) => e !== undefined).map((e) => e.value));
          expect(warnings.map((w) => w.code)).to.deep.equal(expected.filter((e) => e === undefined).map(() => 'ERR_DECODE'));
          expect(server.state).to.equal('running');
        }),
        params,
      );
    } finally {
      fs.closeSync(fd);
      await server.stop();
      cleanup();
    }
  },
};

const MAIN = fileURLToPath(new URL('../../lib/cli/main.js', import.meta.url));

/** A long-running `pipe-io run --json` with an echo plugin; its output as it comes. */
function runJson(): { child: ChildProcessWithoutNullStreams; out: string[]; err: string[] } {
  const plugin = 'exec cat "$PIPE_IO_RECV" > "$PIPE_IO_SEND"';
  const child = spawn(process.execPath, [MAIN, 'run', '--json', '--', 'bash', '-c', plugin], { stdio: 'pipe' });
  const collect = (stream: NodeJS.ReadableStream, into: string[]): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop()!;
      into.push(...parts);
    });
  };
  const out: string[] = [];
  const err: string[] = [];
  collect(child.stdout, out);
  collect(child.stderr, err);
  return { child, out, err };
}

const runJsonKeepsGoing: FuzzProperty = {
  name: 'pipe-io run --json passes every good stdin line, names each bad one once, keeps going',
  runs: { test: 100, fuzz: 5_000 },
  async check(params) {
    const { child, out, err } = runJson();
    let lineNumber = 0;
    let round = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(clientLine, { maxLength: 20 }), async (lines) => {
          out.length = 0;
          err.length = 0;
          const sentinel = JSON.stringify({ sentinel: ++round });
          child.stdin.write(Buffer.concat([...lines.flatMap((line) => [line, Buffer.from('\n')]), Buffer.from(`${sentinel}\n`)]));
          const expected = lines.map(expectedJson);
          const bad = expected.flatMap((e, i) => (e === undefined ? [lineNumber + i + 1] : []));
          lineNumber += lines.length + 1;
          await waitFor(() => out.at(-1) === sentinel, `the sentinel; stderr: ${err.join('\n')}`, 5000);
          await waitFor(() => err.length >= bad.length, 'the warnings', 5000);
          expect(out.slice(0, -1)).to.deep.equal(expected.filter((e) => e !== undefined).map((e) => JSON.stringify(e.value)));
          expect(err.map((line) => /stdin line (\d+) is not JSON/.exec(line)?.[1] ?? line)).to.deep.equal(bad.map(String));
          expect(child.exitCode).to.equal(null);
        }),
        params,
      );
      child.stdin.end();
      const code = await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(child.exitCode)));
      expect(code, 'exit status at the end of stdin').to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  },
};

/** A Redis stream entry as a producer might write it: the message field or not, any bytes. */
const entry = fc.record({
  field: fc.constantFrom('message', 'message', 'message', 'other'),
  payload: fc.oneof(clientLine, fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)), fc.constant(Buffer.from('a\nb'))),
});

const bridgeEntriesKeepGoing: FuzzProperty = {
  name: 'the bridge delivers every good Redis entry, reports each bad one once, keeps going',
  runs: { test: 100, fuzz: 5_000 },
  async check(params) {
    const MAX = 64;
    const redis = await RedisServer.start();
    const { dir, cleanup } = tempDir();
    const topic = 'fuzz';
    const bridge = new PipeBridge({ topic, redis: redis.url, outPipe: `${dir}/out`, maxMessageBytes: MAX });
    const warnings: unknown[] = [];
    bridge.on('warning', (error) => warnings.push(error));
    const client = createClient({ url: redis.url, RESP: 2 });
    let reader: ReturnType<typeof run> | undefined;
    try {
      await bridge.start();
      await client.connect();
      reader = run('bash', ['-c', 'exec cat "$1"', 'reader', `${dir}/out`]);
      let seen = 0;
      let round = 0;
      const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      await fc.assert(
        fc.asyncProperty(fc.array(entry, { maxLength: 12 }), async (entries) => {
          warnings.length = 0;
          for (const e of entries) await client.sendCommand(['XADD', topic, '*', e.field, e.payload]);
          const sentinel = `sentinel ${++round}`;
          await client.sendCommand(['XADD', topic, '*', 'message', sentinel]);
          const lines = (): string[] => reader!.output.stdout.split('\n').slice(seen, -1);
          await waitFor(() => lines().at(-1) === sentinel, 'the sentinel', 5000);
          const good = entries.flatMap((e) => {
            if (e.field !== 'message' || e.payload.length > MAX || e.payload.includes(NEWLINE)) return [];
            try {
              return [fatal.decode(e.payload)];
            } catch {
              return [];
            }
          });
          expect(lines().slice(0, -1)).to.deep.equal(good);
          seen += good.length + 1;
          const malformed = warnings.filter((w) => w instanceof BridgeError && w.code === 'ERR_BRIDGE_MALFORMED');
          expect(malformed.length, 'one report per bad entry').to.equal(entries.length - good.length);
          expect(warnings.length, 'nothing else to report').to.equal(malformed.length);
          expect(bridge.state).to.equal('running');
        }),
        params,
      );
    } finally {
      reader?.child.kill();
      await client.close().catch(() => {});
      await bridge.stop();
      await redis.stop();
      cleanup();
    }
  },
};

/** Every property, cheapest first. */
export const properties: readonly FuzzProperty[] = [
  lineDecoderMatchesReference,
  lineDecoderBounded,
  jsonCodecNeverThrows,
  jsonServerKeepsGoing,
  runJsonKeepsGoing,
  bridgeEntriesKeepGoing,
];
