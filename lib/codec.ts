/**
 * Codecs: how a value becomes one line on the wire, and back.
 *
 * The wire is always lines: bytes ended by `\n`, so a bash or C client can always take
 * part. A text {@link Codec} sees each line as UTF-8 text; a {@link BinaryCodec} (such as
 * `'buffer'`) sees its raw bytes, for data that is not UTF-8.
 * @module
 */
import { createRequire } from 'node:module';
import { messageOf } from './errors.js';

type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;
// Loaded on first use (synchronously: codecs are synchronous), so that those who never use YAML do not pay for it.
const yaml = (): YamlModule => (yamlModule ??= createRequire(import.meta.url)('yaml') as YamlModule);

/**
 * Turns values into single lines and lines back into values.
 *
 * `encode` must return text without a newline (`\n`): the line is checked before it is
 * written, and a newline rejects the send with a `TypeError`. `JSON.stringify` never
 * emits one, which is why JSON is the natural structured format here.
 * `decode` throws on input it cannot read; the caller reports the line through a
 * `'warning'` event (as a {@link CodecError}) and skips it, so a peer's bad line never
 * throws into the host.
 * @typeParam T - the values carried
 */
export interface Codec<T> {
  /** The line for `value`, without its newline. */
  encode(value: T): string;
  /** The value a line stands for; throws if the line is not valid for this codec. */
  decode(line: string): T;
}

/** Lines are the messages: what the servers do when no codec is given. */
export const textCodec: Codec<string> = {
  encode(value: string): string {
    if (typeof value !== 'string') {
      throw new TypeError(`A text message must be a string, not ${value === null ? 'null' : typeof value}; use the json codec for other values.`);
    }
    return value;
  },
  decode(line: string): string {
    return line;
  },
};

/**
 * One JSON value per line. Decoded values are not checked against any type: treat them
 * as untrusted input from another process.
 */
export const jsonCodec: Codec<unknown> = {
  encode(value: unknown): string {
    // JSON.stringify returns undefined (not a string) for these, which would send the word "undefined".
    const line = JSON.stringify(value) as string | undefined;
    if (line === undefined) {
      throw new TypeError(`${typeof value} cannot be sent as JSON.`);
    }
    return line;
  },
  decode(line: string): unknown {
    return JSON.parse(line);
  },
};

/**
 * One YAML value per line, in flow style (`{ name: ada, tags: [ a, b ] }`), for programs that
 * speak YAML. Strings holding a line break are written double-quoted with `\n` escapes, so a
 * value always fits on one line. Any JSON line is also a YAML flow value, so this codec reads
 * JSON peers too. Decoded values are untrusted input, as with {@link jsonCodec}; only plain
 * data comes out (no custom tags).
 */
export const yamlCodec: Codec<unknown> = {
  encode(value: unknown): string {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      throw new TypeError(`${typeof value} cannot be sent as YAML.`);
    }
    const { Document, visit } = yaml();
    const doc = new Document(value);
    visit(doc, {
      Scalar(_key, node) {
        if (typeof node.value === 'string' && /[\n\r]/.test(node.value)) node.type = 'QUOTE_DOUBLE';
      },
    });
    return doc.toString({ collectionStyle: 'flow', lineWidth: 0, minContentWidth: 0, doubleQuotedAsJSON: true }).replace(/\n$/, '');
  },
  decode(line: string): unknown {
    // Only the core schema: a line from another process must not build anything but plain data.
    // Its warnings (an unknown tag…) are errors here: the line is reported and skipped, and the
    // library prints nothing on the host's stderr.
    const doc = yaml().parseDocument(line, { schema: 'core', uniqueKeys: true, logLevel: 'silent' });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) throw new SyntaxError(problem.message);
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  },
};

/**
 * Turns values into lines of raw bytes and back: for data that is not UTF-8 text.
 *
 * `encode` must return bytes without `0x0A` (the newline): a line holding one rejects the
 * send with a `TypeError`. `decode` gets the bytes between two newlines as they arrived,
 * never decoded; it throws on input it cannot read, reported like a {@link Codec}'s. The
 * `Buffer` it gets may share memory with the chunk it was read in: copy what you keep.
 * @typeParam T - the values carried
 */
export interface BinaryCodec<T> {
  /** Marks the codec as one that works on bytes. */
  readonly binary: true;
  /** The line for `value`, without its newline. */
  encode(value: T): Uint8Array;
  /** The value a line stands for; throws if the line is not valid for this codec. */
  decode(line: Buffer): T;
}

/** A text or a binary codec: what {@link resolveCodec} returns. */
export type AnyCodec<T> = Codec<T> | BinaryCodec<T>;

/**
 * Each message is a `Buffer` holding exactly the bytes of its line: nothing is decoded or
 * copied. `send()` takes a `Buffer` or any `Uint8Array`.
 */
export const bufferCodec: BinaryCodec<Buffer> = {
  binary: true,
  encode(value: Buffer): Buffer {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`A buffer message must be a Buffer or Uint8Array, not ${value === null ? 'null' : typeof value}.`);
    }
    return value;
  },
  decode(line: Buffer): Buffer {
    return line;
  },
};

/**
 * A codec by name, or a codec object. A name is only accepted where the messages it yields
 * fit the message type `T`: `'text'` where a string is a `T`, `'buffer'` where a `Buffer` is
 * (`new PipeIOServer<Buffer>(…, { codec: 'buffer' })`); `'json'` (or {@link jsonCodec})
 * and `'yaml'` ({@link yamlCodec}) anywhere (its values are not checked: say what you expect).
 * @typeParam T - the message type; by default any
 */
export type CodecOption<T = any> =
  | 'json'
  | 'yaml'
  | typeof jsonCodec
  | ([string] extends [T] ? 'text' : never)
  | ([Buffer] extends [T] ? 'buffer' : never)
  | Codec<T>
  | BinaryCodec<T>;

/**
 * What `send()` takes for messages of type `T`: a channel of `Buffer`s also takes any
 * `Uint8Array` (it is sent as it is).
 * @typeParam T - the message type
 */
export type Outgoing<T> = T extends Buffer ? T | Uint8Array : T;

/** The codec an option names; `undefined` means `'text'`. Throws a `TypeError` for anything else. */
export function resolveCodec(option: CodecOption | undefined): AnyCodec<any> {
  if (option === undefined || option === 'text') return textCodec;
  if (option === 'json') return jsonCodec;
  if (option === 'yaml') return yamlCodec;
  if (option === 'buffer') return bufferCodec;
  if (typeof option === 'object' && option !== null && typeof option.encode === 'function' && typeof option.decode === 'function') {
    return option;
  }
  throw new TypeError(`Option codec must be 'text', 'json', 'yaml', 'buffer' or an object with encode() and decode(), got ${String(option)}.`);
}

/**
 * @internal The bytes a binary codec makes of `value`, as a Buffer: a view of them, not a
 * copy. Throws the `TypeError` that `send()` rejects with for anything but a Uint8Array.
 */
export function encodeBytes<T>(codec: BinaryCodec<T>, value: T): Buffer {
  const bytes = codec.encode(value);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`A binary codec must encode to a Buffer or Uint8Array, not ${bytes === null ? 'null' : typeof bytes}.`);
  }
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** @internal Whether a codec works on bytes (its lines are `Buffer`s). */
export function isBinary<T>(codec: AnyCodec<T>): codec is BinaryCodec<T> {
  return (codec as BinaryCodec<T>).binary === true;
}

/**
 * A received line its codec could not decode. Reported through `'warning'`; the line is
 * skipped and the channel goes on.
 */
export class CodecError extends Error {
  /** Stable reason, like {@link PipeIOError.code}. */
  readonly code = 'ERR_DECODE' as const;
  /**
   * The line as received (cut to its first 200 characters, so a huge bad line does not flood
   * logs); a binary codec's line is shown as hex of its first 100 bytes.
   */
  readonly line: string;

  /**
   * @param line - the line that could not be decoded
   * @param cause - what the codec threw
   */
  constructor(line: string | Buffer, cause: unknown) {
    const shown =
      typeof line !== 'string'
        ? `${line.toString('hex', 0, 100)}${line.length > 100 ? '…' : ''}`
        : line.length > 200
          ? `${line.slice(0, 200)}…`
          : line;
    super(`A received line could not be decoded and was skipped (${messageOf(cause)}): ${JSON.stringify(shown)}`, {
      cause,
    });
    this.name = 'CodecError';
    this.line = shown;
  }
}

/** @internal Decodes a line; a failure becomes a {@link CodecError} for the caller to report. */
export function decodeLine<T>(codec: AnyCodec<T>, line: string | Buffer): { ok: true; value: T } | { ok: false; error: CodecError } {
  // textCodec and bufferCodec cannot fail: skip the try for the common cases.
  if (codec === (textCodec as Codec<unknown>) || codec === (bufferCodec as BinaryCodec<unknown>)) return { ok: true, value: line as T };
  try {
    return { ok: true, value: (codec.decode as (line: string | Buffer) => T)(line) };
  } catch (error) {
    return { ok: false, error: new CodecError(line, error) };
  }
}
