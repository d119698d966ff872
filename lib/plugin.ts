/**
 * Plugins: a child process that talks to its host over a private FIFO pair.
 *
 * The host makes a folder only it can enter (mode 0700), serves two FIFOs in it, and
 * starts the plugin with their paths in its environment:
 *
 * | variable            | what the plugin does with it                          |
 * | ------------------- | ----------------------------------------------------- |
 * | `PIPE_IO_SEND`      | writes its messages there (the host's in pipe)        |
 * | `PIPE_IO_RECV`      | reads the host's messages there (the host's out pipe) |
 * | `PIPE_IO_HOST_PID`  | the host's pid, to notice an orphaning                |
 * | `PIPE_IO_PLUGIN_ID` | a name for logs                                       |
 *
 * The pipes and their servers belong to the host and outlive any one run of the plugin.
 * That is what makes restarts lossless for most messages: what the host sends while the
 * plugin is down waits in the pipe (64 KiB in the kernel, then the server's queue) and
 * reaches the next instance in order.
 *
 * What a crash does lose: lines the crashed instance had already *read* but not handled.
 * Anything in its read-ahead buffer is gone with it (Python's and Node's readers fetch up
 * to 64 KiB at a time; bash's `read` takes one byte per `read(2)` from a pipe and so never
 * reads ahead). If its last read stopped in the middle of a line, the next instance's first
 * line is the rest of that line, a fragment: with the JSON codec on the plugin's side it
 * fails to decode and can be skipped. A plugin that must not lose work needs
 * acknowledgements at the application level; the pipe cannot know what was handled.
 * In the other direction nothing is cut: when a plugin dies in the middle of writing a
 * line, the host's reader sees end of stream and delivers the fragment as a line of its
 * own (the JSON codec reports it as a `'warning'`), never glued to the next instance's
 * first line.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { type CodecOption, type Outgoing, resolveCodec } from './codec.js';
import { PipeIOError } from './errors.js';
import type { OversizeInfo } from './events.js';
import { makeFifo } from './fifo.js';
import { PipeReaderServer } from './reader.js';
import { PipeWriterServer } from './writer.js';

/**
 * Options of {@link spawnPlugin}.
 * @typeParam T - the message type, which the codec must yield: see {@link CodecOption}
 */
export interface PluginOptions<T = string> {
  /**
   * How messages are encoded: `'text'` (default), `'json'`, `'buffer'` (raw bytes, for
   * `spawnPlugin<Buffer>`) or a {@link Codec}. The plugin must use the same.
   */
  codec?: CodecOption<T>;
  /** Variables added to the host's environment for the plugin. The four `PIPE_IO_*` ones are always set by the host. */
  env?: NodeJS.ProcessEnv;
  /** Working folder of the plugin. Default: the host's. */
  cwd?: string;
  /** `PIPE_IO_PLUGIN_ID`. Default: the command's base name, the host's pid and a counter. */
  id?: string;
  /**
   * Where the plugin's stdout and stderr go: `'inherit'` (default: the host's), `'pipe'`
   * ({@link PluginHandle.stdout} and {@link PluginHandle.stderr}, across restarts; read them,
   * or a chatty plugin stalls when the pipe fills) or `'ignore'`. Its stdin is always
   * `/dev/null`: messages travel through the FIFOs, and an inherited stdin would compete
   * with the host for the terminal.
   */
  stdio?: 'inherit' | 'pipe' | 'ignore';
  /** `'never'` (default), or `'on-failure'`: start it again after a non-zero exit or a death by signal. */
  restart?: 'never' | 'on-failure';
  /** Restarts in a row (see `stableAfter`) before the host gives up. Default `5`. */
  maxRestarts?: number;
  /** Milliseconds before the first restart; doubles for each failure in a row. Default `100`. */
  restartDelay?: number;
  /** Longest wait between restarts, in milliseconds. Default `5000`. */
  maxRestartDelay?: number;
  /**
   * An instance that ran at least this long (milliseconds) before failing counts as a fresh
   * failure: the restart count and the backoff start over, so a plugin that crashes once a
   * day is not given up on after `maxRestarts` days. Default `10000`.
   */
  stableAfter?: number;
  /** Milliseconds between SIGTERM and SIGKILL in {@link PluginHandle.stop}. Default `5000`. */
  gracePeriod?: number;
  /** Longest message accepted from the plugin, in bytes. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Queued bytes above which {@link PluginHandle.needsDrain} turns true. Default 1 MiB. */
  highWaterMark?: number;
  /** Where the private folder is made. Default: `os.tmpdir()`. */
  tmpDir?: string;
  /** Stops the plugin when aborted. */
  signal?: AbortSignal;
}

/** How a plugin instance ended. */
export interface PluginExit {
  /** Exit code, or `null` if it was killed by a signal or could not start. */
  readonly code: number | null;
  /** The signal that killed it, or `null`. */
  readonly signal: NodeJS.Signals | null;
  /** Restarts so far. */
  readonly restarts: number;
  /** Why it could not be started (`spawn` failed: command not found, …), if so. */
  readonly error?: Error;
}

/** Sent with `'restart'`. */
export interface PluginRestartInfo {
  /** Which restart in a row this is, from 1. */
  readonly attempt: number;
  /** Milliseconds until it starts. */
  readonly delay: number;
  /** How the previous instance ended. */
  readonly previous: PluginExit;
}

/** Events of {@link PluginHandle}. None of them is `'error'`: nothing a plugin does can crash the host. */
export interface PluginEvents<T> {
  /** One message from the plugin, decoded. */
  message: [message: T];
  /** A line longer than `maxMessageBytes` was dropped. */
  oversize: [info: OversizeInfo];
  /**
   * A problem the host survives: a line the codec could not decode (`ERR_DECODE`; the line is
   * skipped), … With no listener, goes to `process.emitWarning`.
   */
  warning: [error: PipeIOError];
  /** An instance started. */
  spawn: [pid: number];
  /** An instance ended (a restart may follow). */
  exit: [status: PluginExit];
  /** An instance failed and another will start after `delay`. */
  restart: [info: PluginRestartInfo];
  /** The send queue fell below `highWaterMark`. */
  drain: [];
  /** The plugin is done for good and everything is cleaned up; same value as {@link PluginHandle.exited}. */
  close: [status: PluginExit];
}

/** Where a plugin is in its life. */
export type PluginState = 'running' | 'restarting' | 'stopping' | 'closed';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
const live = new Set<PluginHandle<any>>();
let sequence = 0;
let createHandle: <T>(command: string, args: readonly string[], options: PluginOptions<T>) => PluginHandle<T>;
let startHandle: (handle: PluginHandle<any>) => Promise<void>;
let killNow: (handle: PluginHandle<any>) => void;

/**
 * Last resort when the host exits without stopping its plugins (`process.exit()`, an uncaught
 * exception): kill their process groups and remove their folders, synchronously, since
 * nothing asynchronous runs in `'exit'`. A host killed by a signal it does not handle runs
 * no code at all; its plugins then see end of stream on `PIPE_IO_RECV` and should exit.
 */
function onHostExit(): void {
  for (const handle of live) killNow(handle);
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals, leaderReaped = false): void {
  if (pid === undefined) return;
  try {
    // Negative pid: the whole process group the plugin leads (spawned with detached: true),
    // so its own children go too rather than living on as orphans.
    process.kill(-pid, signal);
  } catch {
    // No such group: the plugin moved itself to another one (setpgid/setsid). Signal it
    // alone, or a stop() would wait forever for a process it never reached. Not once it is
    // reaped: its pid may already belong to someone else.
    if (leaderReaped) return;
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: it is gone already.
    }
  }
}

/**
 * A running plugin: send it messages, receive its messages, stop it.
 *
 * ```ts
 * const plugin = await spawnPlugin('python3', ['plugin.py'], { codec: 'json', restart: 'on-failure' });
 * plugin.on('message', (reply) => console.log(reply));
 * await plugin.send({ hello: 'world' });
 * await plugin.stop();
 * ```
 * Created by {@link spawnPlugin}.
 * @typeParam T - the message type (`string` for the text codec)
 */
export class PluginHandle<T = string> extends EventEmitter<PluginEvents<T>> {
  /** `PIPE_IO_PLUGIN_ID`. */
  readonly id: string;
  /** The command, as given. */
  readonly command: string;
  /** Its arguments, as given. */
  readonly args: readonly string[];
  readonly #stdout: PassThrough | null;
  readonly #stderr: PassThrough | null;
  #dir = '';
  #reader: PipeReaderServer<T> | undefined;
  #writer: PipeWriterServer<T> | undefined;
  readonly #options: Required<Pick<PluginOptions, 'restart' | 'maxRestarts' | 'restartDelay' | 'maxRestartDelay' | 'stableAfter' | 'gracePeriod' | 'stdio'>> &
    PluginOptions<T>;
  #state: PluginState = 'running';
  #child: ChildProcess | undefined;
  /** The latest instance, still known after its exit: its output may be in flight. */
  #lastChild: ChildProcess | undefined;
  #childExit: Promise<void> = Promise.resolve();
  #childClosed: Promise<void> = Promise.resolve();
  #startedAt = 0;
  /** The process group of the latest instance: its leader's pid. */
  #pgid: number | undefined;
  #failuresInRow = 0;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #last: PluginExit = { code: null, signal: null, restarts: 0 };
  #accepting = true;
  /** end() has closed the host's writer: the plugin reads end of stream once the pipe is empty. */
  #inputEnded = false;
  /** A reader on the recv pipe that never reads; see #start(). */
  #keeper = -1;
  #ending: Promise<void> | undefined;
  #pending = new Set<Promise<void>>();
  #stopping: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;
  #exited: Promise<PluginExit>;
  #resolveExited: (exit: PluginExit) => void = () => {};
  #onAbort = (): void => void this.stop();

  static {
    createHandle = <T>(command: string, args: readonly string[], options: PluginOptions<T>) => new PluginHandle<T>(command, args, options);
    startHandle = (handle) => handle.#start();
    killNow = (handle) => handle.#killNow();
  }

  private constructor(command: string, args: readonly string[], options: PluginOptions<T>) {
    super();
    this.command = command;
    this.args = [...args];
    this.#options = {
      ...options,
      restart: options.restart ?? 'never',
      maxRestarts: count('maxRestarts', options.maxRestarts, 5),
      restartDelay: count('restartDelay', options.restartDelay, 100),
      maxRestartDelay: count('maxRestartDelay', options.maxRestartDelay, 5000),
      stableAfter: count('stableAfter', options.stableAfter, 10_000),
      gracePeriod: count('gracePeriod', options.gracePeriod, 5000),
      stdio: options.stdio ?? 'inherit',
    };
    if (this.#options.restart !== 'never' && this.#options.restart !== 'on-failure') {
      throw new TypeError(`Option restart must be 'never' or 'on-failure', got ${String(options.restart)}.`);
    }
    if (!['inherit', 'pipe', 'ignore'].includes(this.#options.stdio)) {
      throw new TypeError(`Option stdio must be 'inherit', 'pipe' or 'ignore', got ${String(options.stdio)}.`);
    }
    resolveCodec(options.codec); // a bad codec option throws here, not at the first message
    this.id = options.id ?? `${path.basename(command)}-${process.pid}-${++sequence}`;
    this.#stdout = this.#options.stdio === 'pipe' ? new PassThrough() : null;
    this.#stderr = this.#options.stdio === 'pipe' ? new PassThrough() : null;
    this.#exited = new Promise<PluginExit>((resolve) => (this.#resolveExited = resolve));
  }

  /** The plugin's stdout, over all its runs, when `stdio: 'pipe'`; otherwise `null`. */
  get stdout(): Readable | null {
    return this.#stdout;
  }

  /** The plugin's stderr, over all its runs, when `stdio: 'pipe'`; otherwise `null`. */
  get stderr(): Readable | null {
    return this.#stderr;
  }

  /** The private folder holding the FIFOs; removed when the plugin is done. */
  get dir(): string {
    return this.#dir;
  }

  /** `PIPE_IO_SEND`: the FIFO the plugin writes to. */
  get sendPath(): string {
    return path.join(this.#dir, 'send');
  }

  /** `PIPE_IO_RECV`: the FIFO the plugin reads from. */
  get recvPath(): string {
    return path.join(this.#dir, 'recv');
  }

  /** The running instance's pid (it leads its own process group), or `undefined` between runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Restarts so far. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Where the plugin is in its life. */
  get state(): PluginState {
    return this.#state;
  }

  /** Resolves once the plugin is done for good and its folder is removed: after {@link stop}, or after a last run that is not restarted. Never rejects. */
  get exited(): Promise<PluginExit> {
    return this.#exited;
  }

  /** Whether the send queue is above `highWaterMark` (the plugin is not keeping up); wait for `'drain'`. */
  get needsDrain(): boolean {
    return this.#writer?.needsDrain ?? false;
  }

  async #start(): Promise<void> {
    // Absolute, so the paths in the plugin's environment work from any working folder.
    const parent = path.resolve(this.#options.tmpDir ?? os.tmpdir());
    // mkdtemp makes the folder 0700: nobody else can reach the FIFOs, whatever their mode.
    this.#dir = await fs.promises.mkdtemp(path.join(parent, 'pipe-io-plugin-'));
    live.add(this);
    if (live.size === 1) process.on('exit', onHostExit);
    const warn = (error: PipeIOError): void => this.#warn(error);
    const { codec, highWaterMark, maxMessageBytes } = this.#options;
    try {
      // The host makes the FIFOs and removes them with the folder, and holds a reader of its
      // own on the recv pipe (#keeper) for the plugin's whole life, past the writer server's:
      // after end() the lines not yet read must outlive a crash of the plugin and the path
      // must stay, so that a restarted instance still gets them, then end of stream.
      await makeFifo(this.sendPath, 0o600);
      await makeFifo(this.recvPath, 0o600);
      this.#keeper = fs.openSync(this.recvPath, O_RDONLY | O_NONBLOCK);
      this.#writer = new PipeWriterServer<T>(this.recvPath, { managePipes: false, codec, highWaterMark });
      this.#writer.on('warning', warn).on('drain', () => this.emit('drain'));
      this.#reader = new PipeReaderServer<T>(this.sendPath, { managePipes: false, codec, maxMessageBytes });
      this.#reader
        .on('warning', warn)
        .on('oversize', (info) => this.emit('oversize', info))
        .on('message', (...message) => this.emit('message', ...message));
      // The out pipe first, as PipeIOServer does: a plugin that finds its recv pipe can count on it.
      await this.#writer.start();
      await this.#reader.start();
      await this.#launch();
    } catch (error) {
      this.#accepting = false;
      await this.#cleanUp({ code: null, signal: null, restarts: 0, error: error as Error });
      throw error;
    }
    this.#options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (this.#options.signal?.aborted) void this.stop();
  }

  /** Starts one instance; resolves once it runs, rejects if it cannot start. */
  #launch(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { stdio } = this.#options;
      const child = spawn(this.command, this.args, {
        cwd: this.#options.cwd,
        env: {
          ...process.env,
          ...this.#options.env,
          PIPE_IO_SEND: this.sendPath,
          PIPE_IO_RECV: this.recvPath,
          PIPE_IO_HOST_PID: String(process.pid),
          PIPE_IO_PLUGIN_ID: this.id,
        },
        stdio: ['ignore', stdio, stdio],
        // Its own process group: stop() signals the plugin and everything it started, and a
        // Ctrl-C meant for the host reaches the plugin only through the host's orderly stop.
        detached: true,
      });
      this.#child = child;
      this.#lastChild = child;
      let spawned = false;
      let done = false;
      let exitDone: () => void = () => {};
      this.#childExit = new Promise<void>((r) => (exitDone = r));
      this.#childClosed = new Promise<void>((r) => child.once('close', () => r()));
      if (this.#stdout && child.stdout) child.stdout.pipe(this.#stdout, { end: false });
      if (this.#stderr && child.stderr) child.stderr.pipe(this.#stderr, { end: false });
      const exited = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (done) return;
        done = true;
        if (this.#child === child) this.#child = undefined;
        // The leader is gone; whatever it started must not live on reading our pipes.
        killGroup(child.pid, 'SIGKILL', true);
        exitDone();
        if (!spawned) {
          this.#childClosed = Promise.resolve();
          reject(error ?? new Error(`Cannot start '${this.command}'.`));
        }
        this.#exitedInstance({ code, signal, restarts: this.#restarts, ...(error ? { error } : {}) }, spawned);
      };
      child.once('spawn', () => {
        spawned = true;
        this.#pgid = child.pid;
        this.#startedAt = Date.now();
        this.emit('spawn', child.pid!);
        resolve();
      });
      child.on('error', (error) => {
        // After a successful spawn this can only be a failed kill; the exit event still follows.
        if (!spawned) exited(null, null, error);
      });
      child.once('exit', (code, signal) => exited(code, signal));
    });
  }

  #exitedInstance(status: PluginExit, spawned: boolean): void {
    this.#last = status;
    if (this.#state === 'closed') return;
    if (spawned || this.#restarts > 0) this.emit('exit', status);
    // #start() and stop() clean up themselves; only a plugin that ended on its own is decided here.
    if (this.#state === 'stopping' || (!spawned && this.#restarts === 0)) return;
    const failed = status.error !== undefined || status.signal !== null || status.code !== 0;
    const { restart, maxRestarts, restartDelay, maxRestartDelay, stableAfter } = this.#options;
    if (spawned && Date.now() - this.#startedAt >= stableAfter) this.#failuresInRow = 0;
    if (failed && restart === 'on-failure' && this.#failuresInRow < maxRestarts) {
      this.#failuresInRow++;
      const delay = Math.min(restartDelay * 2 ** (this.#failuresInRow - 1), maxRestartDelay);
      this.#state = 'restarting';
      this.emit('restart', { attempt: this.#failuresInRow, delay, previous: status });
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        if (this.#state !== 'restarting') return;
        this.#restarts++;
        this.#state = 'running';
        // After end() no writer is left on the recv pipe, and a plugin's blocking open() for
        // reading waits for one: lend it one until the new instance has the pipe open.
        let bridge = -1;
        try {
          if (this.#inputEnded) bridge = fs.openSync(this.recvPath, O_WRONLY | O_NONBLOCK);
        } catch (error) {
          this.#warn(new PipeIOError('ERR_PIPE_OPEN', `Cannot hold '${this.recvPath}' open for the restarted plugin: ${(error as Error).message}`, { path: this.recvPath, cause: error }));
        }
        // A failed spawn comes back through #exitedInstance, which retries or gives up.
        this.#launch().then(
          () => (bridge >= 0 ? this.#untilOpened(this.#child).finally(() => fs.closeSync(bridge)) : undefined),
          () => (bridge >= 0 ? fs.closeSync(bridge) : undefined),
        );
      }, delay);
      return;
    }
    this.#accepting = false;
    void this.#cleanUp(status);
  }

  /**
   * Sends one message to the plugin. Resolves once its line is in the pipe (the plugin may
   * not have read it yet: while it restarts, lines wait for the next instance). Rejects with
   * a `TypeError` if it cannot be one line, and with a {@link PipeIOError}
   * `ERR_SERVER_STOPPED` after {@link end} or {@link stop}, or once the plugin is done.
   */
  send(value: Outgoing<T>): Promise<void> {
    if (!this.#accepting || !this.#writer) {
      return Promise.reject(
        new PipeIOError('ERR_SERVER_STOPPED', `Cannot send to the plugin '${this.id}': it is ${this.#inputEnded ? 'ended (end() was called)' : 'stopping or done'}.`, {
          path: this.recvPath,
        }),
      );
    }
    const sent = this.#writer.send(value);
    this.#pending.add(sent);
    const forget = (): void => void this.#pending.delete(sent);
    sent.then(forget, forget);
    return sent;
  }

  /**
   * No more messages: once those already sent are in the pipe and the plugin has opened its
   * recv pipe, the host closes its end, so the plugin reads end of stream after the last
   * message and can finish and exit on its own. Its messages are still received until it
   * exits. If it crashes before reading them all, a restart (`'on-failure'`) gets the rest,
   * then end of stream.
   * @returns resolves once the host's end is closed (or the plugin is done)
   */
  end(): Promise<void> {
    this.#ending ??= (async () => {
      this.#accepting = false;
      await Promise.allSettled([...this.#pending]);
      // A plugin that opens its recv pipe after the host's writer is gone would block in
      // open() for good (a blocking open for reading waits for a writer): close only once the
      // plugin has it open. Nothing in the FIFO API tells when a reader arrives; /proc does.
      while (this.#state === 'running' || this.#state === 'restarting') {
        if (this.#state === 'running' && (await this.#untilOpened(this.#child))) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      this.#inputEnded = true;
      await this.#writer?.stop();
    })();
    return this.#ending;
  }

  /**
   * Resolves true once `child` (or a process in its group) has the recv pipe open, false if it
   * exits first or is no longer the running instance.
   */
  async #untilOpened(child: ChildProcess | undefined): Promise<boolean> {
    let delay = 5;
    while (child !== undefined && this.#child === child && child.pid !== undefined) {
      if (groupHasOpen(child.pid, this.recvPath)) return true;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 100);
    }
    return false;
  }

  /**
   * Stops the plugin: refuses new sends, sends SIGTERM to its process group, waits up to
   * `gracePeriod` for it to exit, then SIGKILLs the group; stops the servers and removes the
   * folder. Messages it sends before exiting are still received. Idempotent; never rejects.
   * @returns how the last instance ended
   */
  stop(): Promise<PluginExit> {
    this.#stopping ??= this.#stop();
    return this.#exited;
  }

  async #stop(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'stopping';
    this.#accepting = false;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child !== undefined) {
      killGroup(child.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#options.gracePeriod)));
      const exited = await Promise.race([this.#childExit.then(() => true), graceOver]);
      clearTimeout(timer);
      if (!exited) killGroup(child.pid, 'SIGKILL');
      await this.#childExit;
    }
    await this.#cleanUp(this.#last);
  }

  #cleanUp(status: PluginExit): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#options.signal?.removeEventListener('abort', this.#onAbort);
      // The plugin's last lines are in the kernel before it exits. epoll lists the pipe before
      // the exit signal (it became ready first), so they are normally read already; two turns
      // of the loop cost microseconds and cover a poll that took only one of the two. Lines a
      // lagging iterator left unread (reading paused) are still lost: the reader server does
      // not drain the kernel pipe when it stops.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all([this.#reader?.stop(), this.#writer?.stop(), this.#pgid === undefined ? undefined : groupGone(this.#pgid)]);
      if (this.#keeper >= 0) fs.closeSync(this.#keeper);
      this.#keeper = -1;
      await fs.promises.rm(this.#dir, { recursive: true, force: true }).catch((error: unknown) => {
        this.#warn(new PipeIOError('ERR_PIPE_OPEN', `Cannot remove the plugin folder '${this.#dir}': ${(error as Error).message}`, { path: this.#dir, cause: error }));
      });
      live.delete(this);
      if (live.size === 0) process.off('exit', onHostExit);
      // Output still in the child's pipes arrives after 'exit'; end the streams only after it.
      // Bounded: a process that left the group (setsid) may hold the pipes for ever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#childClosed, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
      for (const stream of [this.#lastChild?.stdout, this.#lastChild?.stderr]) {
        stream?.unpipe();
        stream?.destroy();
      }
      this.#stdout?.end();
      this.#stderr?.end();
      this.#state = 'closed';
      const final = { ...status, restarts: this.#restarts };
      this.emit('close', final);
      this.#resolveExited(final);
    })();
    return this.#shutdown;
  }

  #killNow(): void {
    killGroup(this.#child?.pid, 'SIGKILL');
    try {
      fs.rmSync(this.#dir, { recursive: true, force: true });
    } catch {
      // The host is exiting: nothing left to report to.
    }
  }

  /**
   * Messages as an async iterator; it ends once the plugin is done for good. Reading pauses
   * while the loop lags. Lines the codec cannot decode are skipped (and reported through `'warning'`).
   */
  messages(): AsyncIterableIterator<T> {
    return this.#reader!.messages();
  }

  /** Same as {@link messages}. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.messages();
  }

  /** `await using plugin = …` stops the plugin when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #warn(error: PipeIOError): void {
    if (this.listenerCount('warning') > 0) this.emit('warning', error);
    else process.emitWarning(error);
  }
}

/**
 * Starts `command` as a plugin: makes a private folder with a FIFO pair, serves it, and runs
 * the command with `PIPE_IO_SEND`, `PIPE_IO_RECV`, `PIPE_IO_HOST_PID` and `PIPE_IO_PLUGIN_ID`
 * in its environment. Resolves once the process has started; rejects (having removed
 * everything) if it cannot be started, e.g. the command does not exist.
 *
 * ```ts
 * await using plugin = await spawnPlugin('bash', ['plugin.sh'], { restart: 'on-failure' });
 * await plugin.send('hello');
 * for await (const reply of plugin) console.log(reply);
 * ```
 * @param command - the program, looked up in `PATH`
 * @param args - its arguments
 * @param options - see {@link PluginOptions}
 * @typeParam T - the message type: `string` for the text codec; say what JSON you expect with `'json'`
 */
export async function spawnPlugin<T = string>(command: string, args: readonly string[] = [], options: PluginOptions<T> = {}): Promise<PluginHandle<T>> {
  const handle = createHandle<T>(command, args, options);
  await startHandle(handle);
  return handle;
}

/** Pids of the live (not zombie) processes in group `pgid`, from /proc. */
function groupMembers(pgid: number): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const members: string[] = [];
  for (const pid of entries) {
    if (!/^[0-9]+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are fixed: state, ppid, pgrp.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') members.push(pid);
  }
  return members;
}

/**
 * Whether a process in group `pgid` holds a descriptor on `target` (an absolute path).
 * The leader is looked at first: it is the one that opens the pipes in nearly every plugin.
 */
function groupHasOpen(pgid: number, target: string): boolean {
  if (holdsOpen(String(pgid), target)) return true;
  return groupMembers(pgid).some((pid) => pid !== String(pgid) && holdsOpen(pid, target));
}

/**
 * Resolves once no live process is left in group `pgid`. A signal is delivered
 * asynchronously, so children signalled with the leader may still be running when the
 * leader's exit is reported; `stop()` promises they are gone, so it waits (up to 2 s,
 * signalling again, for a process stuck in the kernel).
 */
async function groupGone(pgid: number): Promise<void> {
  for (let waited = 0; waited < 2000; waited += 10) {
    if (groupMembers(pgid).length === 0) return;
    killGroup(pgid, 'SIGKILL', true);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function holdsOpen(pid: string, target: string): boolean {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link === target || link === `${target} (deleted)`) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

function count(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Option ${name} must be a number >= 0, got ${String(value)}.`);
  return value;
}
