/**
 * Lines in, lines out: the wire format is bytes with `\n` after every message; what a
 * line is (UTF-8 text, or raw bytes) depends on the codec.
 * @module
 */

import { isAscii } from 'node:buffer';

/** The byte that ends every message. */
export const NEWLINE = 0x0a;

/** What a line decoder reports. */
export interface LineDecoderHooks<L extends string | Buffer = string> {
  /** One complete message, without its newline. */
  line(message: L): void;
  /**
   * When present, the lines that lie wholly within one chunk come here, in one array, instead
   * of one `line()` call each: whoever handles them pays its per-call costs once per chunk. A
   * line joined from several chunks still goes to `line()`; the calls keep the stream's order.
   * The array is the receiver's to keep.
   */
  lines?(messages: L[]): void;
  /** A line grew past the limit; its bytes are being dropped up to the next newline. */
  oversize(): void;
}

/**
 * Splits a byte stream into lines; subclasses say what a line is handed out as.
 *
 * Memory stays bounded by `maxMessageBytes` whatever arrives: a line that outgrows it is
 * dropped (reported once) and the decoder skips to the next newline.
 */
abstract class LineSplitter<L extends string | Buffer> {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipping = false;

  /**
   * @param maxMessageBytes - the longest line accepted, in bytes, without its newline
   * @param hooks - where lines and oversize reports go
   */
  constructor(
    protected readonly maxMessageBytes: number,
    protected readonly hooks: LineDecoderHooks<L>,
  ) {}

  /** The line `chunk[start, end)`. */
  protected abstract slice(chunk: Buffer, start: number, end: number): L;
  /** The line made of `parts`, `bytes` long in all. */
  protected abstract joined(parts: Buffer[], bytes: number): L;
  /** Every line in `chunk[start, last]`, none longer than the limit; `chunk[last]` is a newline. */
  protected abstract lines(chunk: Buffer, start: number, last: number): void;
  /** The start of an unfinished line, as it is to be held until the line is complete. */
  protected abstract hold(part: Buffer): Buffer;

  /** Feeds bytes; calls `hooks.line` for every line they complete. */
  push(chunk: Buffer): void {
    let start = 0;
    const first = chunk.indexOf(NEWLINE);
    if (first === -1) {
      this.#keep(chunk, 0);
      return;
    }
    if (first === chunk.length - 1 && this.#pendingBytes === 0 && !this.#skipping) {
      // One whole line, the request-reply pattern: no search for the last newline, no split.
      if (first <= this.maxMessageBytes) this.hooks.line(this.slice(chunk, 0, first));
      else this.hooks.oversize();
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
        this.hooks.line(this.joined(this.#pending, this.#pendingBytes + first));
      }
      this.#pending = [];
      this.#pendingBytes = 0;
      start = first + 1;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    if (last >= start) {
      // No line here can be too long: the fast path, with no check per line.
      if (last - start <= this.maxMessageBytes) this.lines(chunk, start, last);
      else this.#splitChecked(chunk, start, last);
    }
    if (last + 1 < chunk.length) this.#keep(chunk, last + 1);
  }

  #splitChecked(chunk: Buffer, start: number, last: number): void {
    while (start <= last) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end - start > this.maxMessageBytes) this.hooks.oversize();
      else this.hooks.line(this.slice(chunk, start, end));
      start = end + 1;
    }
  }

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
    this.#pending.push(this.hold(chunk.subarray(from)));
    this.#pendingBytes += bytes;
  }

  /**
   * End of stream: a last line without its newline is delivered on its own, so it is
   * never glued to what the next writer sends.
   */
  end(): void {
    if (this.#pendingBytes > 0) this.hooks.line(this.joined(this.#pending, this.#pendingBytes));
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#skipping = false;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }
}

/**
 * Splits a byte stream into lines of text. A `\n` byte is never part of a multi-byte
 * UTF-8 sequence, so decoding up to a newline never cuts a character; invalid UTF-8
 * becomes U+FFFD.
 */
export class LineDecoder extends LineSplitter<string> {
  protected slice(chunk: Buffer, start: number, end: number): string {
    return chunk.toString('utf8', start, end);
  }

  protected joined(parts: Buffer[], bytes: number): string {
    return Buffer.concat(parts, bytes).toString('utf8');
  }

  protected lines(chunk: Buffer, start: number, last: number): void {
    // Decode once and split the string: cheaper than decoding line by line. ASCII (checked
    // with SIMD) is decoded as Latin-1, a plain copy: a third less than UTF-8's decoder on the
    // bench's 64 KiB chunks.
    // The whole chunk is checked, not a subarray: one allocation less, a few bytes more to scan.
    const text = isAscii(chunk) ? chunk.toString('latin1', start, last) : chunk.toString('utf8', start, last);
    const lines = text.split('\n');
    if (this.hooks.lines !== undefined) this.hooks.lines(lines);
    else for (let i = 0; i < lines.length; i++) this.hooks.line(lines[i]!);
  }

  protected hold(part: Buffer): Buffer {
    // A copy, so the chunk can be freed while a slow writer finishes its line.
    return Buffer.from(part);
  }
}

/**
 * The class Node makes its Buffers with. `new FastBuffer(arrayBuffer, offset, length)` is a
 * plain Buffer view; `Buffer.from()` with the same arguments checks them first, which made
 * a line cost twice what a text line costs (the bench's 64-byte lines: ~55 ns against ~30).
 * `Buffer[Symbol.species]` is how Node's own `subarray()` finds it.
 */
const FastBuffer: new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer = (() => {
  const species = (Buffer as unknown as { [Symbol.species]?: unknown })[Symbol.species];
  if (typeof species === 'function' && species.prototype === Buffer.prototype) {
    return species as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
  }
  return function (buffer: ArrayBufferLike, byteOffset: number, length: number) {
    return Buffer.from(buffer, byteOffset, length);
  } as unknown as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
})();

/**
 * Splits a byte stream into lines of raw bytes: each line is a `Buffer` of exactly the bytes
 * between two newlines, never decoded. A line that lies within one read chunk is a view of
 * that chunk (no copy); one that spans chunks is joined into a Buffer of its own.
 */
export class ByteLineDecoder extends LineSplitter<Buffer> {
  protected slice(chunk: Buffer, start: number, end: number): Buffer {
    return new FastBuffer(chunk.buffer, chunk.byteOffset + start, end - start);
  }

  protected joined(parts: Buffer[], bytes: number): Buffer {
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
  }

  protected lines(chunk: Buffer, start: number, last: number): void {
    // The newlines are found in a Latin-1 copy of the lines (one character per byte, so the
    // positions agree) by V8's own string search: one call into Node per chunk rather than a
    // Buffer.indexOf() per line, which cost ~10% more CPU than text on the bench's 64-byte lines.
    const text = chunk.toString('latin1', start, last + 1);
    const memory = chunk.buffer;
    const offset = chunk.byteOffset + start;
    const batch = this.hooks.lines !== undefined ? ([] as Buffer[]) : undefined;
    for (let from = 0; from < text.length; ) {
      const end = text.indexOf('\n', from);
      const line = new FastBuffer(memory, offset + from, end - from);
      if (batch !== undefined) batch.push(line);
      else this.hooks.line(line);
      from = end + 1;
    }
    if (batch !== undefined) this.hooks.lines!(batch);
  }

  protected hold(part: Buffer): Buffer {
    // No copy: the line is copied once, when it is joined.
    return part;
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

/** Throws the `TypeError` that `send()` rejects with when bytes cannot be one line. */
export function assertBytesMessage(message: Uint8Array): void {
  if (message.indexOf(NEWLINE) !== -1) {
    throw new TypeError(
      'A message must not contain a newline byte (0x0A): newlines separate messages. Send each line on its own, or encode the bytes (e.g. base64).',
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
