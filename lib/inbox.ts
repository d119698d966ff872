/**
 * Where read messages go: the `handleMessage` hook, and async iterators with backpressure
 * (every iterator sees every message, whatever `handleMessage` does).
 * @module
 */
import { type AnyCodec, bufferCodec, decodeLine, textCodec } from './codec.js';
import { PipeIOError } from './errors.js';
import { type FeedFlow, MessageFeed } from './feed.js';
import { isSendPromise } from './writer.js';

/** A server as the inbox sees it. */
export interface InboxOwner<T> {
  /** The hook every message goes through. */
  handleMessage(message: T): unknown;
  /** Where the server is in its life. */
  readonly state: string;
}

/** @internal Delivers messages to the owner's hook and to its iterators. */
export class MessageInbox<T> {
  #feed: MessageFeed<T>;

  constructor(
    private readonly owner: InboxOwner<T>,
    private readonly codec: AnyCodec<T>,
    private readonly flow: FeedFlow,
    private readonly warn: (error: PipeIOError) => void,
  ) {
    this.#feed = new MessageFeed<T>(flow);
  }

  /** Decodes a line and calls the hook; a bad line, a throw or a rejection becomes a warning, never a crash. */
  deliver(line: string | Buffer): void {
    let message: T;
    if (this.codec === (textCodec as AnyCodec<unknown>) || this.codec === (bufferCodec as AnyCodec<unknown>)) {
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
    try {
      const result = this.owner.handleMessage(message);
      // A handler that returns send()'s promise (the echo pattern) needs no watching.
      if (result instanceof Promise && !isSendPromise(result)) result.catch((error: unknown) => this.#handlerFailed(error));
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  #handlerFailed(error: unknown): void {
    this.warn(
      new PipeIOError('ERR_HANDLER', `A message handler failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      }),
    );
  }

  /** Ends every iterator once it has yielded what it holds. */
  end(): void {
    this.#feed.end();
    this.#feed = new MessageFeed<T>(this.flow);
  }

  /** An iterator over every message received from now on; lagging iterators pause reading. */
  iterate(): AsyncIterableIterator<T> {
    if (this.owner.state === 'stopped') {
      const finished = new MessageFeed<T>(this.flow);
      finished.end();
      return finished.iterate();
    }
    return this.#feed.iterate();
  }
}
