/**
 * The sessions server: a well-known `connect` pipe, and a {@link PipeSession} for every client
 * that asks through it. The FIFO equivalent of `net.Server` and `accept()`.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { type AnyCodec, resolveCodec, textCodec } from '../codec.js';
import { PipeIOError, describeErrno } from '../errors.js';
import { MessageFeed } from '../feed.js';
import { PipeServerBase } from '../lifecycle.js';
import { type HandlerOptions, type PipeIOServerOptions, type ResolvedOptions, resolveOptions } from '../options.js';
import { PipeReader } from '../reader.js';
import { checkFolder, describeUser, serverUid } from '../safety.js';
import { SessionFolder } from './folder.js';
import { CONNECT_NAME, PROTOCOL_VERSION, folderModeFor, parseRequest } from './protocol.js';
import { PipeSession, type SessionContext } from './session.js';

/**
 * Options of {@link PipeSessionServer}: those of {@link PipeIOServer} (applied to every
 * session's pipes), and the session limits. Not the {@link HandlerOptions}: a session hands
 * its messages out as `'message'` events and through its iterator, never to a `handleMessage`
 * hook, so `for await (const message of session)` is the ordered, backpressured way to do
 * async work per message.
 * @typeParam T - the message type
 */
export interface PipeSessionServerOptions<T = string> extends Omit<PipeIOServerOptions<T>, keyof HandlerOptions> {
  /**
   * Who may connect: the mode of the `connect` pipe, default `0o600` (only the server's user).
   * `0o620` lets the sessions folder's group in too, `0o622` every user. The sessions folder
   * gets a matching mode (`0o700`, `0o1730`, `0o1733`: others may make their folder in it, not
   * list it or touch anyone else's).
   */
  permissions?: number;
  /** Most sessions open (and in their handshake) at once; a client past it is refused with the reason. Default `1000`. */
  maxSessions?: number;
  /** How long a client has, after its request, to open its pipes, in milliseconds. Default `5000`. */
  handshakeTimeout?: number;
}

/**
 * Events of {@link PipeSessionServer}. None of them is `'error'`.
 * @typeParam T - what a message is
 */
export interface PipeSessionServerEvents<T = string> {
  /** A client connected: its session is open. */
  session: [session: PipeSession<T>];
  /**
   * Something the server survives: a request it could not serve (`ERR_SESSION_REQUEST`), a
   * refused session (`ERR_SESSION_REFUSED`), a session's warning nobody listened to. With no
   * listener it goes to `process.emitWarning`.
   */
  warning: [error: PipeIOError];
  /** The server stopped. */
  close: [];
}

function limit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Option ${name} must be an integer >= 1, got ${String(value)}.`);
  return value;
}

/**
 * Serves many clients at once, each over its own private FIFO pair, in the folder `dir`.
 *
 * ```ts
 * const server = new PipeSessionServer('/run/myapp', { maxSessions: 1000 });
 * server.on('session', (session) => {
 *   session.on('message', (m) => void session.send(`you said: ${m}`));
 * });
 * await server.start();        // or: for await (const session of server) { … }
 * ```
 * The protocol a client follows is in the README ("Many clients at once"); the Node, Python, C
 * and bash clients speak it (`PipeIOClient.session(dir)`).
 * @typeParam T - what a message is: a string (the default text codec), or what the codec decodes
 */
export class PipeSessionServer<T = string> extends PipeServerBase<PipeSessionServerEvents<T>> {
  /** The well-known pipe clients write their requests to: `dir/connect`. */
  readonly connectPath: string;
  readonly #options: ResolvedOptions;
  readonly #context: SessionContext<T>;
  readonly #maxSessions: number;
  readonly #handshakeTimeout: number;
  readonly #connect: PipeReader;
  readonly #sessions = new Set<PipeSession<T>>();
  /** Sessions in their handshake. */
  readonly #pending = new Set<PipeSession<T>>();
  /** Folder names of the pending and open sessions: one session per folder. */
  readonly #names = new Set<string>();
  #feed: MessageFeed<PipeSession<T>>;
  #nextId = 1;
  #madeDir = false;

  /**
   * @param dir - the sessions folder; made at `start()` if missing (and removed at `stop()`)
   * @param options - see {@link PipeSessionServerOptions}
   */
  constructor(
    readonly dir: string,
    options: PipeSessionServerOptions<T> = {},
  ) {
    super(options.signal);
    this.#options = resolveOptions(options);
    this.#maxSessions = limit('maxSessions', options.maxSessions, 1000);
    this.#handshakeTimeout = limit('handshakeTimeout', options.handshakeTimeout, 5000);
    this.#context = {
      options: this.#options,
      codec: resolveCodec(options.codec) as AnyCodec<T>,
      warn: (error) => this.warn(error),
    };
    this.connectPath = path.join(dir, CONNECT_NAME);
    this.#connect = new PipeReader(this.connectPath, this.#options, textCodec, {
      message: (line) => this.#request(line as string),
      oversize: () => this.warn(new PipeIOError('ERR_SESSION_REQUEST', `A request longer than ${this.#options.maxMessageBytes} bytes was dropped.`, { path: this.connectPath })),
      recreate: () => {},
      warning: (error) => this.warn(error),
    });
    // A lagging `for await (… of server)` pauses the connect pipe: clients then wait to connect.
    this.#feed = new MessageFeed<PipeSession<T>>(this.#connect);
  }

  /** The open sessions. */
  get sessions(): ReadonlySet<PipeSession<T>> {
    return this.#sessions;
  }

  /** Sessions as they open, as an async iterator; it ends when the server stops. */
  [Symbol.asyncIterator](): AsyncIterableIterator<PipeSession<T>> {
    if (this.state === 'stopped') {
      const done = new MessageFeed<PipeSession<T>>(this.#connect);
      done.end();
      return done.iterate();
    }
    return this.#feed.iterate();
  }

  protected override async open(): Promise<void> {
    this.#makeDir();
    await this.#connect.open();
  }

  /** Makes the sessions folder, or checks the one there, and gives it the mode `permissions` calls for. */
  #makeDir(): void {
    checkFolder(this.dir); // its parent: nobody else may swap the sessions folder
    const mode = folderModeFor(this.#options.permissions);
    const existing = fs.lstatSync(this.dir, { throwIfNoEntry: false });
    try {
      if (existing === undefined) {
        fs.mkdirSync(this.dir, { mode: 0o700 });
        this.#madeDir = true;
      } else if (!existing.isDirectory()) {
        throw new PipeIOError('ERR_PIPE_OPEN', `'${this.dir}' is not a folder (a symbolic link or a file); it was left untouched. Choose another sessions folder.`, {
          path: this.dir,
        });
      } else if (existing.uid !== serverUid()) {
        throw new PipeIOError(
          'ERR_PIPE_UNSAFE',
          `The sessions folder '${this.dir}' belongs to ${describeUser(existing.uid)}, not to the server's user; its owner could let anyone in. Use a folder of the server's own.`,
          { path: this.dir },
        );
      }
      // Exactly this mode, whatever the umask; it also clears a setgid bit, so that a session
      // folder's group is its maker's group and peer.gid tells the truth.
      fs.chmodSync(this.dir, mode);
    } catch (error) {
      if (error instanceof PipeIOError) throw error;
      throw new PipeIOError('ERR_PIPE_OPEN', `Cannot make the sessions folder '${this.dir}': ${describeErrno(error)}.`, { path: this.dir, cause: error });
    }
  }

  /** Whether `uid` may have a session: the kernel let it write the connect pipe, and `permissions` agrees. */
  #permits(uid: number): boolean {
    if (uid === serverUid() || uid === 0) return true;
    return (this.#options.permissions & 0o022) !== 0;
  }

  #request(line: string): void {
    if (this.state !== 'running' && this.state !== 'starting') return;
    const request = parseRequest(line);
    if (!request.ok) {
      this.warn(new PipeIOError('ERR_SESSION_REQUEST', `A bad connect request was ignored: ${request.reason}.`, { path: this.connectPath }));
      return;
    }
    if (this.#names.has(request.name)) {
      this.warn(new PipeIOError('ERR_SESSION_REQUEST', `A second request for the session folder '${request.name}' was ignored.`, { path: this.connectPath }));
      return;
    }
    let folder: SessionFolder;
    try {
      folder = SessionFolder.open(this.dir, request.name);
    } catch (error) {
      this.warn(error as PipeIOError);
      return;
    }
    let refusal: string | undefined;
    if (request.version !== PROTOCOL_VERSION) refusal = `version ${request.version} is not spoken here; this server speaks version ${PROTOCOL_VERSION}`;
    else if (!this.#permits(folder.peer.uid)) refusal = `${describeUser(folder.peer.uid)} may not connect to this server`;
    else if (this.#sessions.size + this.#pending.size >= this.#maxSessions) refusal = `too many sessions (maxSessions ${this.#maxSessions}); try again later`;
    const session = new PipeSession<T>(this.#nextId++, folder, this.#context);
    this.#pending.add(session);
    this.#names.add(request.name);
    if (refusal !== undefined) {
      this.warn(new PipeIOError('ERR_SESSION_REFUSED', `A session for ${describeUser(folder.peer.uid)} was refused: ${refusal}.`, { path: folder.path }));
    }
    session.handshake(refusal, Date.now() + this.#handshakeTimeout).then(
      (open) => {
        this.#pending.delete(session);
        if (!open) {
          this.#names.delete(request.name);
          return;
        }
        if (this.state !== 'running') {
          void session.close();
          return;
        }
        this.#sessions.add(session);
        session.once('close', () => {
          this.#sessions.delete(session);
          this.#names.delete(request.name);
        });
        (this as PipeServerBase<PipeSessionServerEvents<T>>).emit('session', ...([session] as PipeSessionServerEvents<T>['session']));
        if (this.#feed.active) this.#feed.push(session, 1);
        session.announced();
      },
      (error: unknown) => {
        this.#pending.delete(session);
        this.#names.delete(request.name);
        if (this.state === 'running' && !(error instanceof PipeIOError && error.code === 'ERR_SERVER_STOPPED')) this.warn(error as PipeIOError);
      },
    );
  }

  protected override async close(): Promise<void> {
    await this.#connect.close();
    const all = [...this.#pending, ...this.#sessions];
    await Promise.all(all.map((session) => session.close()));
    this.#pending.clear();
    this.#sessions.clear();
    this.#names.clear();
    this.#feed.end();
    this.#feed = new MessageFeed<PipeSession<T>>(this.#connect);
    if (this.#madeDir) {
      this.#madeDir = false;
      try {
        fs.rmdirSync(this.dir);
      } catch {
        // A client's half-made folder is still in it: it is theirs, so the folder stays.
      }
    }
  }
}
