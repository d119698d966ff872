/**
 * Codecs: how a value becomes one line on the wire, and back.
 *
 * The wire stays line-based UTF-8 text whatever the codec, so a bash or C client can
 * always take part; a codec only decides what the text of each line means.
 * @module
 */

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

/** A codec by name (`'text'`, `'json'`), or a codec object. */
export type CodecOption = 'text' | 'json' | Codec<any>;

/** The codec an option names; `undefined` means `'text'`. Throws a `TypeError` for anything else. */
export function resolveCodec(option: CodecOption | undefined): Codec<any> {
  if (option === undefined || option === 'text') return textCodec;
  if (option === 'json') return jsonCodec;
  if (typeof option === 'object' && option !== null && typeof option.encode === 'function' && typeof option.decode === 'function') {
    return option;
  }
  throw new TypeError(`Option codec must be 'text', 'json' or an object with encode() and decode(), got ${String(option)}.`);
}

/**
 * A received line its codec could not decode. Reported through `'warning'`; the line is
 * skipped and the channel goes on.
 */
export class CodecError extends Error {
  /** Stable reason, like {@link PipeIOError.code}. */
  readonly code = 'ERR_DECODE' as const;
  /** The line as received (cut to its first 200 characters, so a huge bad line does not flood logs). */
  readonly line: string;

  /**
   * @param line - the line that could not be decoded
   * @param cause - what the codec threw
   */
  constructor(line: string, cause: unknown) {
    const shown = line.length > 200 ? `${line.slice(0, 200)}…` : line;
    super(`A received line could not be decoded and was skipped (${cause instanceof Error ? cause.message : String(cause)}): ${JSON.stringify(shown)}`, {
      cause,
    });
    this.name = 'CodecError';
    this.line = shown;
  }
}

/** @internal Decodes a line; a failure becomes a {@link CodecError} for the caller to report. */
export function decodeLine<T>(codec: Codec<T>, line: string): { ok: true; value: T } | { ok: false; error: CodecError } {
  // textCodec cannot fail: skip the try for the common case.
  if (codec === (textCodec as Codec<unknown>)) return { ok: true, value: line as T };
  try {
    return { ok: true, value: codec.decode(line) };
  } catch (error) {
    return { ok: false, error: new CodecError(line, error) };
  }
}
