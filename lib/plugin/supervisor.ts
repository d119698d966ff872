/**
 * Process supervision: one command run in its own process group, restarted with backoff
 * after failures, stopped with SIGTERM then SIGKILL. It knows nothing of FIFOs, so that
 * anything that runs child processes for the host (plugins, workers) can share it.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import type { Guard } from './lifetime.js';
import { groupGone, killGroup } from './procfs.js';
import type { PluginExit, PluginRestartInfo } from './types.js';

/** What to run and how to keep it running. */
export interface SupervisorOptions {
  command: string;
  args: readonly string[];
  cwd?: string | undefined;
  stdio: 'inherit' | 'pipe' | 'ignore';
  /**
   * `'ignore'` (default: plugins get their messages through FIFOs) or `'pipe'`: each instance
   * gets a pipe of its own as stdin, {@link Supervisor.stdin} (a worker feeding a filter).
   */
  stdin?: 'ignore' | 'pipe';
  restart: 'never' | 'on-failure';
  maxRestarts: number;
  restartDelay: number;
  maxRestartDelay: number;
  stableAfter: number;
  gracePeriod: number;
  /**
   * Called just before a restarted instance is launched, with a promise of its pid
   * (`undefined` if it could not start), for whoever must prepare its arrival.
   */
  onRelaunch?: (started: Promise<number | undefined>) => void;
}

/** `'done'`: no instance runs and none will (it stopped, gave up, or ended on its own). */
export type SupervisorState = 'running' | 'restarting' | 'stopping' | 'done';

/** Events of {@link Supervisor}. */
export interface SupervisorEvents {
  /** An instance started. */
  spawn: [pid: number];
  /** An instance ended; a restart may follow. */
  exit: [status: PluginExit];
  /** An instance failed and another starts after `delay`. */
  restart: [info: PluginRestartInfo];
  /** The last instance ended on its own and is not restarted (not sent after {@link Supervisor.stop}). */
  ended: [status: PluginExit];
}

/** Runs and restarts one command; see the module comment. */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #options: SupervisorOptions;
  readonly #stdout: PassThrough | null;
  readonly #stderr: PassThrough | null;
  #state: SupervisorState = 'running';
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
  #stopping: Promise<void> | undefined;
  #env: NodeJS.ProcessEnv = {};
  #guard: Guard | undefined;

  constructor(options: SupervisorOptions) {
    super();
    this.#options = options;
    this.#stdout = options.stdio === 'pipe' ? new PassThrough() : null;
    this.#stderr = options.stdio === 'pipe' ? new PassThrough() : null;
  }

  /** The child's stdout over all its runs, with `stdio: 'pipe'`. */
  get stdout(): PassThrough | null {
    return this.#stdout;
  }

  /** The child's stderr over all its runs, with `stdio: 'pipe'`. */
  get stderr(): PassThrough | null {
    return this.#stderr;
  }

  /**
   * The running instance's stdin with `stdin: 'pipe'`, or `null` between runs: each instance
   * has its own, so what was written to a dead one is gone with it.
   */
  get stdin(): Writable | null {
    return this.#child?.stdin ?? null;
  }

  /** The running instance's pid, or `undefined` between runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Restarts so far. */
  get restarts(): number {
    return this.#restarts;
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** How the latest instance ended. */
  get last(): PluginExit {
    return this.#last;
  }

  /**
   * Starts the first instance with environment `env` (every restart gets it too); resolves
   * once it runs, rejects if it cannot start.
   * @param guard - told each instance's process group, so that the host's watchdog kills it if the host dies
   */
  async start(env: NodeJS.ProcessEnv, guard?: Guard): Promise<void> {
    this.#env = env;
    this.#guard = guard;
    await this.#launch();
  }

  /** Starts one instance; resolves once it runs, rejects if it cannot start. */
  #launch(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const { stdio } = this.#options;
      const child = spawn(this.#options.command, this.#options.args, {
        cwd: this.#options.cwd,
        env: this.#env,
        stdio: [this.#options.stdin ?? 'ignore', stdio, stdio],
        // Its own process group: stop() signals the child and everything it started, and a
        // Ctrl-C meant for the host reaches the child only through the host's orderly stop.
        detached: true,
      });
      this.#child = child;
      this.#lastChild = child;
      // At once, in the same turn as the fork: a host killed a moment later leaves no unknown group.
      if (child.pid !== undefined) this.#guard?.running(child.pid);
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
        // Its pid may be reused by anyone from now on: the watchdog must not signal it.
        this.#guard?.running(0);
        exitDone();
        if (!spawned) {
          this.#childClosed = Promise.resolve();
          reject(error ?? new Error(`Cannot start '${this.#options.command}'.`));
        }
        this.#exitedInstance({ code, signal, restarts: this.#restarts, ...(error ? { error } : {}) }, spawned);
      };
      child.once('spawn', () => {
        spawned = true;
        this.#pgid = child.pid;
        this.#startedAt = Date.now();
        this.emit('spawn', child.pid!);
        resolve(child.pid!);
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
    if (this.#state === 'done') return;
    if (spawned || this.#restarts > 0) this.emit('exit', status);
    // start() and stop() report for themselves; only an instance that ended on its own is decided here.
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
        let started: (pid: number | undefined) => void = () => {};
        this.#options.onRelaunch?.(new Promise((resolve) => (started = resolve)));
        // A failed spawn comes back through #exitedInstance, which retries or gives up.
        this.#launch().then(started, () => started(undefined));
      }, delay);
      return;
    }
    this.#state = 'done';
    this.emit('ended', status);
  }

  /**
   * Stops the running instance: SIGTERM to its group, SIGKILL after `gracePeriod`; no
   * restart follows. Resolves once the leader has exited. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#state === 'done') return;
      this.#state = 'stopping';
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
      this.#state = 'done';
    })();
    return this.#stopping;
  }

  /** Resolves once no process of the latest instance's group is left. */
  async settled(): Promise<void> {
    if (this.#pgid !== undefined) await groupGone(this.#pgid);
  }

  /**
   * Ends {@link stdout} and {@link stderr} once the latest instance's output is in, which
   * arrives after its exit. Bounded: a process that left the group (setsid) may hold the
   * pipes for ever.
   */
  async closeOutput(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#childClosed, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
    for (const stream of [this.#lastChild?.stdout, this.#lastChild?.stderr]) {
      stream?.unpipe();
      stream?.destroy();
    }
    this.#stdout?.end();
    this.#stderr?.end();
  }

  /** SIGKILL to the running instance's group, synchronously: for a host that is exiting. */
  killNow(): void {
    killGroup(this.#child?.pid, 'SIGKILL');
  }
}
