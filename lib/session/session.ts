/**
 * One client's session: a reader on its `in`, a writer on its `out`, an inbox for its messages,
 * and the shared start/stop state machine, all over the client's pinned folder.
 * @module
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { type AnyCodec, type Outgoing } from '../codec.js';
import { PipeIOError } from '../errors.js';
import type { OversizeInfo } from '../events.js';
import { MessageInbox } from '../inbox.js';
import { PipeServerBase, type ServerState } from '../lifecycle.js';
import type { ResolvedOptions } from '../options.js';
import { PipeReader } from '../reader.js';
import { PipeWriter, encodeMessage } from '../writer.js';
import type { SessionFolder, SessionPeer } from './folder.js';
import { acceptLine, refuseLine } from './protocol.js';

/**
 * Events of a {@link PipeSession}. None of them is `'error'`: nothing a client does can crash the host.
 * @typeParam T - what a message is: a string, or what the codec decodes
 */
export interface PipeSessionEvents<T = string> {
  /** One message from this client. */
  message: [message: T];
  /** A line longer than `maxMessageBytes` was dropped. */
  oversize: [info: OversizeInfo];
  /** The send queue fell below `highWaterMark` after being above it. */
  drain: [];
  /** Something went wrong that the session survives. With no listener it goes to the server's `'warning'`. */
  warning: [error: PipeIOError];
  /** The session ended: the client closed its end or died, {@link PipeSession.close} was called, or the server stopped. */
  close: [];
}

/** Where a session is in its life: `opening` during the handshake, then `open`, `closing`, `closed`. */
export type SessionState = 'opening' | 'open' | 'closing' | 'closed';

const STATE: Record<ServerState, SessionState> = {
  idle: 'opening',
  starting: 'opening',
  running: 'open',
  stopping: 'closing',
  stopped: 'closed',
};

/**
 * Looks for the client's reader on `out`: first once per turn of the event loop (a client that
 * follows the protocol is there within microseconds, and a timer's 1 ms floor would cap connects
 * near 500/s), then with timers from 1 ms up to 20 ms for a slow one.
 */
const QUICK_LOOKS = 64;
const FIRST_LOOK_MS = 1;
const LONGEST_LOOK_MS = 20;

/** Most bytes one session reads in one turn of the event loop (see {@link PipeSession}'s fair queuing). */
const TURN_BYTES = 64 * 1024;

/** The session's pipes under the state machine every server shares. */
class SessionLife extends PipeServerBase<{ close: [] }> {
  constructor(
    private readonly opener: (signal: AbortSignal) => Promise<void>,
    private readonly closer: () => Promise<void>,
  ) {
    super();
  }

  protected override open(signal: AbortSignal): Promise<void> {
    return this.opener(signal);
  }

  protected override close(): Promise<void> {
    return this.closer();
  }
}

/** @internal What a session needs from its server. */
export interface SessionContext<T> {
  readonly options: ResolvedOptions;
  readonly codec: AnyCodec<T>;
  /** Where warnings go when the session has no `'warning'` listener. */
  warn(error: PipeIOError): void;
}

/**
 * One client connected to a {@link PipeSessionServer}, over a FIFO pair only it and the server
 * can open: the FIFO equivalent of an accepted socket.
 *
 * ```ts
 * server.on('session', (session) => {
 *   session.on('message', (m) => void session.send(`you said: ${m}`));
 *   session.on('close', () => console.log(`uid ${session.peer.uid} left`));
 * });
 * ```
 * Reading starts once something takes the messages (a `'message'` listener or an iterator);
 * until then the client's writes wait in its pipe, as with a paused stream, and its leaving is
 * noticed once reading starts (end of stream comes after the data).
 *
 * A session ends when its client closes `in` or dies: its unfinished last line is delivered
 * alone, lines the server already wrote stay readable to a client that is still there, and
 * sends still queued are rejected.
 * @typeParam T - what a message is: a string (the default text codec), or what the codec decodes
 */
export class PipeSession<T = string> extends EventEmitter<PipeSessionEvents<T>> {
  /** A number the server gives each session, unique for the server's life; the client reads it in the handshake. */
  readonly id: number;
  /** Who connected, as the kernel tells it (the owner of the session folder and its FIFOs); never what the client wrote. */
  readonly peer: SessionPeer;
  /** The client's session folder. */
  readonly path: string;
  readonly #folder: SessionFolder;
  readonly #context: SessionContext<T>;
  readonly #reader: PipeReader;
  readonly #writer: PipeWriter;
  readonly #inbox: MessageInbox<T>;
  readonly #life: SessionLife;
  /** Something takes the messages (a listener or an iterator). */
  #wanted = false;
  /** An iterator lags: the inbox asked to pause. */
  #lagging = false;
  /** Bytes read in this turn of the event loop; past {@link TURN_BYTES} the session yields. */
  #turnBytes = 0;
  #yielding = false;

  /** @internal Made by {@link PipeSessionServer}; call {@link PipeSession.handshake} next. */
  constructor(id: number, folder: SessionFolder, context: SessionContext<T>) {
    super();
    this.id = id;
    this.peer = folder.peer;
    this.path = folder.path;
    this.#folder = folder;
    this.#context = context;
    const warn = (error: PipeIOError): void => {
      if (this.listenerCount('warning') > 0) this.emit('warning', error);
      else context.warn(error);
    };
    this.#reader = new PipeReader(
      `${folder.path}/in`,
      context.options,
      context.codec,
      {
        message: (message) => {
          this.#inbox.deliver(message);
          this.#turnBytes += message.length + 1;
          if (this.#turnBytes >= TURN_BYTES && !this.#yielding) this.#yield();
        },
        oversize: (info) => this.emit('oversize', info),
        recreate: () => {},
        warning: warn,
        end: () => void this.close(),
      },
      () => Promise.resolve(folder.inSource()),
    );
    this.#writer = new PipeWriter(
      `${folder.path}/out`,
      context.options,
      { drain: () => this.emit('drain'), recreate: () => {}, warning: warn },
      () => Promise.resolve(folder.outSource()),
    );
    const owner = {
      handleMessage: (message: T): unknown => this.emit('message', ...([message] as PipeSessionEvents<T>['message'])),
      get state(): string {
        return life.state;
      },
    };
    this.#inbox = new MessageInbox<T>(owner, context.codec, {
      pause: () => {
        this.#lagging = true;
        this.#flow();
      },
      resume: () => {
        this.#lagging = false;
        this.#flow();
      },
    }, context.options, `${folder.path}/in`, warn);
    const life = (this.#life = new SessionLife(
      (signal) => this.#open(signal),
      () => this.#close(),
    ));
    life.on('close', () => this.emit('close'));
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'message') this.#want();
    });
  }

  /** Messages are wanted: read them (unless an iterator lags). */
  #want(): void {
    this.#wanted = true;
    this.#flow();
  }

  /** Reads while messages are wanted, no iterator lags, and the session has not used up its turn. */
  #flow(): void {
    if (this.#wanted && !this.#lagging && !this.#yielding && this.#life.state === 'running') this.#reader.resume();
    else this.#reader.pause();
  }

  /**
   * Fair queuing: a client writing flat out gets {@link TURN_BYTES} per turn of the event loop,
   * then waits for the next, so the other sessions' lines are read in between; without it libuv
   * reads up to 32 chunks of 64 KiB from one ready pipe before looking at the others.
   */
  #yield(): void {
    this.#yielding = true;
    this.#flow();
    setImmediate(() => {
      this.#yielding = false;
      this.#turnBytes = 0;
      this.#flow();
    });
  }

  /**
   * @internal The server's side of the handshake: opens `in`, waits until the client reads `out`
   * (until `deadline`), opens it and writes the first line. With a `refusal`, that line says why,
   * and the session ends once it is written. Resolves true for an open session.
   */
  async handshake(refusal: string | undefined, deadline: number): Promise<boolean> {
    this.#deadline = deadline;
    this.#refusal = refusal;
    await this.#life.start();
    if (refusal === undefined) return true;
    await this.#writer.send(refuseLine(refusal)).catch(() => {});
    await this.close();
    return false;
  }

  #deadline = 0;
  #refusal: string | undefined;

  async #open(signal: AbortSignal): Promise<void> {
    this.#reader.pause(); // until something takes the messages
    await this.#reader.open();
    // A writer of our own on `in` until the client has opened it. Its open counts as a writer
    // arriving after our reader's, which is what makes the kernel report end of stream to that
    // reader when the last writer leaves, however the client's own open raced with ours (and a
    // client that probes `in` with an open and a close does not end the session).
    const keepAlive = this.#reader.holdWriter();
    try {
      await this.#waitForClient(signal);
    } finally {
      fs.closeSync(keepAlive);
    }
    this.#folder.established();
    if (this.#refusal === undefined) void this.#writer.send(acceptLine(this.id));
  }

  /**
   * Waits until the client reads `out` (it opened `in` before, as the protocol says), then opens
   * the writer. The kernel says nothing when a FIFO is opened, except that a non-blocking open
   * for writing stops failing with ENXIO; so this looks, 1 ms after the request and then less
   * often, for the few milliseconds a client takes. Only handshakes poll; an open session never does.
   */
  async #waitForClient(signal: AbortSignal): Promise<void> {
    let probe: number | undefined;
    for (let look = 0, wait = FIRST_LOOK_MS; (probe = this.#folder.tryOpenOut()) === undefined; look++) {
      if (signal.aborted) throw signal.reason;
      if (Date.now() >= this.#deadline) {
        throw new PipeIOError('ERR_SESSION_REQUEST', `The client of '${this.path}' did not open its 'out' pipe for reading in time; the session was dropped.`, {
          path: this.path,
        });
      }
      if (look < QUICK_LOOKS) {
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, LONGEST_LOOK_MS);
      }
    }
    try {
      // The probe stays open until the writer is: a client reading with no writer would see end of stream.
      await this.#writer.open();
    } finally {
      fs.closeSync(probe);
    }
  }

  /** @internal Starts reading if messages are wanted: called once the server announced the session. */
  announced(): void {
    if (this.#wanted) this.#want();
  }

  async #close(): Promise<void> {
    await Promise.all([this.#reader.close(), this.#writer.close()]);
    this.#inbox.end();
    this.#folder.remove();
  }

  /** Where the session is in its life. */
  get state(): SessionState {
    return STATE[this.#life.state];
  }

  /** Resolves when the session has ended and its pipes and folder are gone. Never rejects. */
  get closed(): Promise<void> {
    return this.#life.closed.catch(() => {});
  }

  /**
   * Sends one message to this client: resolves once the line is in its pipe. Rejects like
   * {@link PipeIOServer.send}: a `TypeError` for a message that is not one line, a
   * {@link PipeIOError} `ERR_SERVER_STOPPED` once the session is closed.
   */
  send(message: Outgoing<T>): Promise<void> {
    return this.#writer.send(encodeMessage(this.#context.codec, message));
  }

  /** Size of what is queued and not yet in the pipe (see {@link PipeIOServer.queuedBytes}). */
  get queuedBytes(): number {
    return this.#writer.queuedBytes;
  }

  /** Whether the send queue is above `highWaterMark` (a client that does not read); wait for `'drain'`. */
  get needsDrain(): boolean {
    return this.#writer.needsDrain;
  }

  /** This client's messages as an async iterator; it ends when the session closes. Reading pauses while it lags. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.messages();
  }

  /** Same as iterating the session itself. */
  messages(): AsyncIterableIterator<T> {
    const iterator = this.#inbox.iterate();
    this.#want();
    return iterator;
  }

  /**
   * Ends the session: the client reads what was already sent, then end of stream, and its writes
   * fail with EPIPE; the pipes and folder are removed. Queued sends are rejected. Idempotent.
   */
  async close(): Promise<void> {
    await this.#life.stop();
  }

  /** `await using session = …` closes it when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
