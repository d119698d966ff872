/**
 * Where read messages go: the `handleMessage` hook (see `dispatch.ts`), and async iterators
 * with backpressure (every iterator sees every message, whatever `handleMessage` does).
 * @module
 */
import { type AnyCodec, bufferCodec, decodeLine, textCodec } from './codec.js';
import { HandlerDispatch, type MessageHandler } from './dispatch.js';
import { PipeIOError } from './errors.js';
import { type FeedFlow, FlowGate, MessageFeed } from './feed.js';
import type { ResolvedOptions } from './options.js';

/** A server as the inbox sees it. */
export interface InboxOwner<T> extends MessageHandler<T> {
  /** Where the server is in its life. */
  readonly state: string;
}

/** @internal Delivers messages to the owner's hook and to its iterators. */
export class MessageInbox<T> {
  #feed: MessageFeed<T>;
  /** Iterators and the handlers' queue each pause reading while they lag; reading resumes when none does. */
  readonly #gate: FlowGate;
  readonly #dispatch: HandlerDispatch<T>;
  /** Whether a line is the message as it is (text, bytes): no codec call. */
  readonly #fast: boolean;

  /**
   * @param owner - the server
   * @param codec - turns lines into messages
   * @param flow - the reader, paused while a consumer lags
   * @param options - how handlers are driven
   * @param path - the in pipe, named in reports
   * @param warn - where reports go
   */
  constructor(
    private readonly owner: InboxOwner<T>,
    private readonly codec: AnyCodec<T>,
    flow: FeedFlow,
    options: ResolvedOptions,
    path: string,
    private readonly warn: (error: PipeIOError) => void,
  ) {
    this.#gate = new FlowGate(flow);
    this.#feed = new MessageFeed<T>(this.#gate);
    this.#dispatch = new HandlerDispatch<T>(owner, this.#gate, options, path, warn);
    this.#fast = codec === (textCodec as AnyCodec<unknown>) || codec === (bufferCodec as AnyCodec<unknown>);
  }

  /** Decodes a line and hands it on; a bad line, a throw or a rejection becomes a warning, never a crash. */
  deliver(line: string | Buffer): void {
    let message: T;
    if (this.#fast) {
      message = line as T; // the hot paths: no codec call, no allocation
    } else {
      const decoded = decodeLine(this.codec, line);
      if (!decoded.ok) {
        this.warn(new PipeIOError('ERR_DECODE', decoded.error.message, { cause: decoded.error }));
        return;
      }
      message = decoded.value;
    }
    if (this.#feed.active) this.#feed.push(message, line.length);
    this.#dispatch.deliver(message, line.length);
  }

  /**
   * The lines of one read, in order: the codec check, the iterators' check and the handlers'
   * are paid once for all of them, and a `handleMessages` hook gets them in one call.
   */
  deliverAll(lines: string[] | Buffer[]): void {
    if (!this.#fast) {
      const messages: T[] = [];
      const weights: (string | Buffer)[] = [];
      for (let i = 0; i < lines.length; i++) {
        const decoded = decodeLine(this.codec, lines[i]!);
        if (decoded.ok) {
          messages.push(decoded.value);
          weights.push(lines[i]!);
        } else {
          this.warn(new PipeIOError('ERR_DECODE', decoded.error.message, { cause: decoded.error }));
        }
      }
      this.#handOn(messages, weights);
    } else {
      this.#handOn(lines as unknown as T[], lines);
    }
  }

  #handOn(messages: T[], lines: ArrayLike<{ readonly length: number }>): void {
    if (messages.length === 0) return;
    if (this.#feed.active) {
      if (!this.#dispatch.batched) {
        // Message by message, as deliver() does: an iterator a handler opens sees the rest.
        for (let i = 0; i < messages.length; i++) {
          this.#feed.push(messages[i]!, lines[i]!.length);
          this.#dispatch.deliver(messages[i]!, lines[i]!.length);
        }
        return;
      }
      for (let i = 0; i < messages.length; i++) this.#feed.push(messages[i]!, lines[i]!.length);
    }
    this.#dispatch.deliverAll(messages, lines);
  }

  /**
   * At stop, after the reader has delivered its last lines: waits (at most `stopTimeout`) for
   * the handlers to finish what was read.
   */
  drain(): Promise<void> {
    return this.#dispatch.drain();
  }

  /** Ends every iterator once it has yielded what it holds. */
  end(): void {
    this.#feed.end();
    this.#feed = new MessageFeed<T>(this.#gate);
  }

  /** An iterator over every message received from now on; lagging iterators pause reading. */
  iterate(): AsyncIterableIterator<T> {
    if (this.owner.state === 'stopped') {
      const finished = new MessageFeed<T>(this.#gate);
      finished.end();
      return finished.iterate();
    }
    return this.#feed.iterate();
  }
}
