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
 * Plugins do not outlive their host, however it dies: see lifetime.ts (the watchdog) and
 * folder.ts (the folder, and the removal of those left by hosts that died).
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
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type Outgoing, resolveCodec } from '../codec.js';
import type { PipeIOError } from '../errors.js';
import { type ChannelPeer, PluginChannel } from './channel.js';
import { makePrivateDir, sweepStale } from './folder.js';
import { type Guard, guard } from './lifetime.js';
import { Supervisor } from './supervisor.js';
import type { PluginEvents, PluginExit, PluginOptions, PluginState } from './types.js';

let sequence = 0;
let createHandle: <T>(command: string, args: readonly string[], options: PluginOptions<T>) => PluginHandle<T>;
let startHandle: (handle: PluginHandle<any>) => Promise<void>;

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
  readonly #options: PluginOptions<T>;
  readonly #supervisor: Supervisor;
  readonly #gracePeriod: number;
  #guard: Guard | undefined;
  #channel: PluginChannel<T> | undefined;
  #closed = false;
  #stopping: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;
  #exited: Promise<PluginExit>;
  #resolveExited: (exit: PluginExit) => void = () => {};
  #onAbort = (): void => void this.stop();
  /** What the channel asks about the plugin's process. */
  readonly #peer: ChannelPeer;

  static {
    createHandle = <T>(command: string, args: readonly string[], options: PluginOptions<T>) => new PluginHandle<T>(command, args, options);
    startHandle = (handle) => handle.#start();
  }

  private constructor(command: string, args: readonly string[], options: PluginOptions<T>) {
    super();
    this.command = command;
    this.args = [...args];
    this.#options = options;
    const restart = options.restart ?? 'never';
    const stdio = options.stdio ?? 'inherit';
    if (restart !== 'never' && restart !== 'on-failure') {
      throw new TypeError(`Option restart must be 'never' or 'on-failure', got ${String(options.restart)}.`);
    }
    if (!['inherit', 'pipe', 'ignore'].includes(stdio)) {
      throw new TypeError(`Option stdio must be 'inherit', 'pipe' or 'ignore', got ${String(options.stdio)}.`);
    }
    resolveCodec(options.codec); // a bad codec option throws here, not at the first message
    this.id = options.id ?? `${path.basename(command)}-${process.pid}-${++sequence}`;
    this.#gracePeriod = count('gracePeriod', options.gracePeriod, 5000);
    this.#supervisor = new Supervisor({
      command,
      args: this.args,
      cwd: options.cwd,
      stdio,
      restart,
      maxRestarts: count('maxRestarts', options.maxRestarts, 5),
      restartDelay: count('restartDelay', options.restartDelay, 100),
      maxRestartDelay: count('maxRestartDelay', options.maxRestartDelay, 5000),
      stableAfter: count('stableAfter', options.stableAfter, 10_000),
      gracePeriod: this.#gracePeriod,
      onRelaunch: (started) => this.#channel?.relaunching(this.#peer, started),
    });
    this.#supervisor
      .on('spawn', (pid) => this.emit('spawn', pid))
      .on('exit', (status) => {
        if (!this.#closed) this.emit('exit', status);
      })
      .on('restart', (info) => this.emit('restart', info))
      .on('ended', (status) => {
        this.#channel?.refuse();
        void this.#cleanUp(status);
      });
    this.#exited = new Promise<PluginExit>((resolve) => (this.#resolveExited = resolve));
    const supervisor = this.#supervisor;
    const closed = (): boolean => this.#closed;
    this.#peer = {
      get pid() {
        return supervisor.pid;
      },
      get alive() {
        return !closed() && (supervisor.state === 'running' || supervisor.state === 'restarting');
      },
    };
  }

  /** The plugin's stdout, over all its runs, when `stdio: 'pipe'`; otherwise `null`. */
  get stdout(): Readable | null {
    return this.#supervisor.stdout;
  }

  /** The plugin's stderr, over all its runs, when `stdio: 'pipe'`; otherwise `null`. */
  get stderr(): Readable | null {
    return this.#supervisor.stderr;
  }

  /** The private folder holding the FIFOs; removed when the plugin is done. */
  get dir(): string {
    return this.#channel?.dir ?? '';
  }

  /** `PIPE_IO_SEND`: the FIFO the plugin writes to. */
  get sendPath(): string {
    return path.join(this.dir, 'send');
  }

  /** `PIPE_IO_RECV`: the FIFO the plugin reads from. */
  get recvPath(): string {
    return path.join(this.dir, 'recv');
  }

  /** The running instance's pid (it leads its own process group), or `undefined` between runs. */
  get pid(): number | undefined {
    return this.#supervisor.pid;
  }

  /** Restarts so far. */
  get restarts(): number {
    return this.#supervisor.restarts;
  }

  /** Where the plugin is in its life. */
  get state(): PluginState {
    if (this.#closed) return 'closed';
    const state = this.#supervisor.state;
    return state === 'done' || this.#shutdown !== undefined ? 'stopping' : state;
  }

  /** Resolves once the plugin is done for good and its folder is removed: after {@link stop}, or after a last run that is not restarted. Never rejects. */
  get exited(): Promise<PluginExit> {
    return this.#exited;
  }

  /** Whether the send queue is above `highWaterMark` (the plugin is not keeping up); wait for `'drain'`. */
  get needsDrain(): boolean {
    return this.#channel?.needsDrain ?? false;
  }

  async #start(): Promise<void> {
    // Absolute, so the paths in the plugin's environment work from any working folder.
    const parent = path.resolve(this.#options.tmpDir ?? os.tmpdir());
    await sweepStale(parent);
    const dir = await makePrivateDir(parent);
    try {
      // Before anything can run: from here on, a host that dies takes the folder with it.
      this.#guard = guard(dir, this.#gracePeriod, () => this.#killNow());
    } catch (error) {
      await fs.promises.rm(dir, { recursive: true, force: true });
      throw error;
    }
    const channel = new PluginChannel<T>(dir, {
      message: (...message) => this.emit('message', ...message),
      oversize: (info) => this.emit('oversize', info),
      warning: (error) => this.#warn(error),
      drain: () => this.emit('drain'),
    });
    this.#channel = channel;
    try {
      await channel.open(this.#options);
      await this.#supervisor.start({
        ...process.env,
        ...this.#options.env,
        PIPE_IO_SEND: channel.sendPath,
        PIPE_IO_RECV: channel.recvPath,
        PIPE_IO_HOST_PID: String(process.pid),
        PIPE_IO_PLUGIN_ID: this.id,
      }, this.#guard);
    } catch (error) {
      channel.refuse();
      await this.#cleanUp({ code: null, signal: null, restarts: 0, error: error as Error });
      throw error;
    }
    this.#options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (this.#options.signal?.aborted) void this.stop();
  }

  /**
   * Sends one message to the plugin. Resolves once its line is in the pipe (the plugin may
   * not have read it yet: while it restarts, lines wait for the next instance). Rejects with
   * a `TypeError` if it cannot be one line, and with a {@link PipeIOError}
   * `ERR_SERVER_STOPPED` after {@link end} or {@link stop}, or once the plugin is done.
   */
  send(value: Outgoing<T>): Promise<void> {
    return this.#channel!.send(value, this.id);
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
    return this.#channel!.end(this.#peer);
  }

  /**
   * Stops the plugin: refuses new sends, sends SIGTERM to its process group, waits up to
   * `gracePeriod` for it to exit, then SIGKILLs the group; stops the servers and removes the
   * folder. Messages it sends before exiting are still received. Idempotent; never rejects.
   * @returns how the last instance ended
   */
  stop(): Promise<PluginExit> {
    this.#stopping ??= (async () => {
      if (this.#closed) return;
      this.#channel?.refuse();
      await this.#supervisor.stop();
      await this.#cleanUp(this.#supervisor.last);
    })();
    return this.#exited;
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
      await Promise.all([this.#channel?.stopServers(), this.#supervisor.settled()]);
      await this.#channel?.remove();
      this.#guard?.release();
      await this.#supervisor.closeOutput();
      this.#closed = true;
      const final = { ...status, restarts: this.#supervisor.restarts };
      this.emit('close', final);
      this.#resolveExited(final);
    })();
    return this.#shutdown;
  }

  /** Without a watchdog, the last resort of a host that is exiting: nothing asynchronous runs in `'exit'`. */
  #killNow(): void {
    this.#supervisor.killNow();
    this.#channel?.removeNow();
  }

  /**
   * Messages as an async iterator; it ends once the plugin is done for good. Reading pauses
   * while the loop lags. Lines the codec cannot decode are skipped (and reported through `'warning'`).
   */
  messages(): AsyncIterableIterator<T> {
    return this.#channel!.messages();
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

function count(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Option ${name} must be a number >= 0, got ${String(value)}.`);
  return value;
}
