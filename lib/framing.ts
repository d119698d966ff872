/**
 * Lines in, lines out: the wire format is UTF-8 text with `\n` after every message.
 * @module
 */

const NEWLINE = 0x0a;

/** What a {@link LineDecoder} reports. */
export interface LineDecoderHooks {
  /** One complete message, without its newline. */
  line(message: string): void;
  /** A line grew past the limit; its bytes are being dropped up to the next newline. */
  oversize(): void;
}

/**
 * Splits a byte stream into messages.
 *
 * Memory stays bounded by `maxMessageBytes` whatever arrives: a line that outgrows it is
 * dropped (reported once) and the decoder skips to the next newline. A `\n` byte is
 * never part of a multi-byte UTF-8 sequence, so decoding up to a newline never cuts a
 * character; invalid UTF-8 becomes U+FFFD.
 */
export class LineDecoder {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipping = false;

  /**
   * @param maxMessageBytes - the longest line accepted, in bytes, without its newline
   * @param hooks - where lines and oversize reports go
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly hooks: LineDecoderHooks,
  ) {}

  /** Feeds bytes; calls `hooks.line` for every line they complete. */
  push(chunk: Buffer): void {
    let start = 0;
    const first = chunk.indexOf(NEWLINE);
    if (first === -1) {
      this.#keep(chunk, 0);
      return;
    }
    if (this.#pendingBytes > 0 || this.#skipping) {
      // The first newline ends a line that began in an earlier chunk.
      if (this.#skipping) {
        this.#skipping = false;
      } else if (this.#pendingBytes + first > this.maxMessageBytes) {
        this.hooks.oversize();
      } else {
        this.#pending.push(chunk.subarray(0, first));
        this.hooks.line(Buffer.concat(this.#pending, this.#pendingBytes + first).toString('utf8'));
      }
      this.#pending = [];
      this.#pendingBytes = 0;
      start = first + 1;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    if (last >= start) {
      if (last - start <= this.maxMessageBytes) {
        // Fast path: no line here can be too long, so decode once and split the string.
        const lines = chunk.toString('utf8', start, last).split('\n');
        for (let i = 0; i < lines.length; i++) this.hooks.line(lines[i]!);
      } else {
        this.#splitChecked(chunk, start, last);
      }
    }
    if (last + 1 < chunk.length) this.#keep(chunk, last + 1);
  }

  #splitChecked(chunk: Buffer, start: number, last: number): void {
    while (start <= last) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end - start > this.maxMessageBytes) this.hooks.oversize();
      else this.hooks.line(chunk.toString('utf8', start, end));
      start = end + 1;
    }
  }

  /** Holds the start of an unfinished line; copies it so the chunk can be freed. */
  #keep(chunk: Buffer, from: number): void {
    if (this.#skipping) return;
    const bytes = chunk.length - from;
    if (this.#pendingBytes + bytes > this.maxMessageBytes) {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#skipping = true;
      this.hooks.oversize();
      return;
    }
    this.#pending.push(Buffer.from(chunk.subarray(from)));
    this.#pendingBytes += bytes;
  }

  /**
   * End of stream: a last line without its newline is delivered on its own, so it is
   * never glued to what the next writer sends.
   */
  end(): void {
    if (this.#pendingBytes > 0) {
      this.hooks.line(Buffer.concat(this.#pending, this.#pendingBytes).toString('utf8'));
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#skipping = false;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }
}

/** Throws the `TypeError` that `send()` rejects with when a message cannot be one line. */
export function assertMessage(message: unknown): asserts message is string {
  if (typeof message !== 'string') {
    throw new TypeError(`A message must be a string, not ${message === null ? 'null' : typeof message}.`);
  }
  if (message.includes('\n')) {
    throw new TypeError(
      'A message must not contain a newline (\\n): newlines separate messages. Send each line on its own, or encode the text (e.g. JSON).',
    );
  }
}

/**
 * The wire text of `lines`: each followed by `\n`. The array is spent: an empty string is
 * appended so that one `join` yields the final newline too, without copying the text again.
 */
export function joinLines(lines: string[]): string {
  lines.push('');
  return lines.join('\n');
}
