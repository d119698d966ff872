/**
 * Stdio mode: any filter as a worker's program. Entries are lines on its stdin, its stdout
 * lines are the output; nothing ties an output line to an input.
 *
 * Delivery: an entry is acknowledged once its line is in the program's stdin (the write
 * completed), and every output line is appended once. So when the program or the worker
 * dies, what the program held is lost (at most once for that part); everything not yet written
 * to it comes again (at least once). How much it holds: what sits in its stdin (Node gives a
 * child a UNIX socket pair, not a pipe: about 208 KiB with Linux's default
 * `net.core.wmem_default`), plus its own buffers; when the worker dies, also what sits in the
 * program's stdout and the output of one turn of the event loop not yet appended.
 *
 * One-to-one (`oneToOne`): for programs that write exactly one line per line they read, in
 * order (`tr`, `sed`, `cut`, `awk '{…}'`, `jq -c .` on one value per line), output line k is
 * the answer to input line k. An entry is then acknowledged only once its answer is appended,
 * and the lines a dead instance left unanswered are written again to the next one: at least
 * once, as in reply mode, with at most `maxInFlight` lines inside the program. A program that
 * drops or adds lines breaks the pairing: it gets a warning for each extra line, and one that
 * drops lines stalls the worker once `maxInFlight` answers are missing.
 *
 * Line buffering: C's stdio makes stdout block-buffered when it is a pipe, so a `printf`
 * filter would hold its output until 4 KiB piled up or it exits. The program is run under
 * `stdbuf -oL` (coreutils) when that is installed: it makes glibc's stdout line-buffered
 * through an LD_PRELOAD library. What it cannot reach: programs that set their own buffering
 * (`setvbuf` after start, Python without `-u`/`PYTHONUNBUFFERED`, which this sets anyway),
 * statically linked or setuid programs, and runtimes with their own I/O (Go, Rust, Node). Those
 * must flush after each line themselves.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { BridgeError } from '../bridge/errors.js';
import { LineDecoder } from '../framing.js';
import { Supervisor } from '../plugin/supervisor.js';
import type { PluginExit } from '../plugin/types.js';
import type { ProgramOptions, Stage, StageContext, StageInput } from './stage.js';

/** @internal How a stdio stage runs its program. */
export interface StdioStageOptions extends ProgramOptions {
  readonly lineBuffered: boolean;
  /** The program writes exactly one line per line it reads, in order: see {@link StdioStage}. */
  readonly oneToOne: boolean;
}

/** Path of an executable `name` on PATH (or `name` itself when it holds a slash), or undefined. */
function findOnPath(name: string): string | undefined {
  const candidates = name.includes('/') ? [name] : (process.env['PATH'] ?? '').split(path.delimiter).filter((dir) => dir !== '').map((dir) => path.join(dir, name));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The spawn error the program would give without the `stdbuf` wrapper, which would otherwise
 * start fine and exit 127: the user must hear "command not found", not a failed exit.
 */
function checkRunnable(command: string): void {
  if (findOnPath(command) !== undefined) return;
  const exists = command.includes('/') && fs.existsSync(command);
  const error = new Error(`spawn ${command} ${exists ? 'EACCES' : 'ENOENT'}`) as NodeJS.ErrnoException;
  error.code = exists ? 'EACCES' : 'ENOENT';
  throw error;
}

/** Appends waiting at once above which the program's stdout is paused (then its pipe fills and it blocks). */
const MAX_PENDING_OUTPUTS = 4096;

/** @internal See the module comment. */
export class StdioStage implements Stage {
  readonly #supervisor: Supervisor;
  readonly #context: StageContext;
  readonly #gracePeriod: number;
  /** Entries whose write failed (the instance died): fed again to the next one. */
  #retry: StageInput[] = [];
  /** One-to-one: lines written to the running instance and not yet answered, oldest first. */
  #written: StageInput[] = [];
  readonly #oneToOne: boolean;
  #pendingOutputs = 0;
  #outputsIdle: (() => void) | undefined;
  #paused = false;
  #ended: Promise<PluginExit>;
  #endedResolve: (exit: PluginExit) => void = () => {};
  #draining = false;
  #spawned: Promise<void> = Promise.resolve();
  readonly #env: NodeJS.ProcessEnv;
  readonly #command: string;
  readonly #wrapped: boolean;

  constructor(options: StdioStageOptions, context: StageContext) {
    this.#context = context;
    this.#gracePeriod = options.gracePeriod;
    const stdbuf = options.lineBuffered ? findOnPath('stdbuf') : undefined;
    this.#command = options.command;
    this.#wrapped = stdbuf !== undefined;
    this.#supervisor = new Supervisor({
      command: stdbuf ?? options.command,
      args: stdbuf ? ['-oL', options.command, ...options.args] : options.args,
      stdio: 'pipe',
      stdin: 'pipe',
      restart: options.restart,
      maxRestarts: options.maxRestarts,
      restartDelay: 100,
      maxRestartDelay: 5000,
      stableAfter: 10_000,
      gracePeriod: options.gracePeriod,
    });
    this.#ended = new Promise((resolve) => (this.#endedResolve = resolve));
    this.#supervisor.on('ended', (exit) => this.#endedResolve(exit));
    this.#oneToOne = options.oneToOne;
    this.#supervisor.on('restart', (info) => {
      let wake: () => void = () => {};
      this.#spawned = new Promise((resolve) => (wake = resolve));
      this.#supervisor.once('spawn', () => {
        this.#stdinOf();
        wake();
        // Taken at the next spawn, not at the exit: the dead instance's last output lines arrive
        // after its exit (the restart delay, 100 ms at least, lets them in) and must be matched first.
        const again = [...this.#written, ...this.#retry];
        this.#written = [];
        this.#retry = [];
        if (again.length > 0) void this.feed(again);
      });
      context.restarting(info);
    });
    this.#supervisor.stderr!.pipe(context.stderr, { end: false });
    const decoder = new LineDecoder(1024 * 1024, {
      line: (line) => this.#line(line),
      oversize: () => {
        context.warn(new BridgeError('ERR_BRIDGE_MALFORMED', 'The program wrote a line longer than 1 MiB; it was skipped.'));
        // One-to-one: it was still the answer to the oldest line; the next answer is the next line's.
        const input = this.#oneToOne ? this.#written.shift() : undefined;
        if (input !== undefined) context.done(input.id);
      },
    });
    this.#supervisor.stdout!.on('data', (chunk: Buffer) => decoder.push(chunk));
    this.#supervisor.stdout!.on('end', () => decoder.end());
    this.#env = { ...process.env, PYTHONUNBUFFERED: '1', ...options.env };
  }

  get ended(): Promise<PluginExit> {
    return this.#ended;
  }

  async start(): Promise<void> {
    if (this.#wrapped) checkRunnable(this.#command);
    await this.#supervisor.start(this.#env);
    this.#stdinOf();
  }

  /** Error listeners on each instance's stdin: EPIPE from a dead program is expected, not a crash. */
  #stdinOf(): NodeJS.WritableStream | null {
    const stdin = this.#supervisor.stdin;
    if (stdin && stdin.listenerCount('error') === 0) stdin.on('error', () => {});
    return stdin;
  }

  #line(line: string): void {
    const input = this.#oneToOne ? this.#written.shift() : undefined;
    if (this.#oneToOne && input === undefined) {
      this.#context.warn(new BridgeError('ERR_BRIDGE_MALFORMED', 'The program wrote a line nobody asked for (is it really one line out per line in?); it is appended anyway.'));
    }
    const decoded = this.#context.decodeOutput(line);
    if (decoded === undefined) {
      if (input !== undefined) this.#context.done(input.id); // its answer was bad: reported, skipped
      return;
    }
    this.#pendingOutputs++;
    if (this.#pendingOutputs >= MAX_PENDING_OUTPUTS && !this.#paused) {
      // Redis is behind: stop reading the program, whose writes then block on its full pipe.
      this.#paused = true;
      this.#supervisor.stdout!.pause();
    }
    this.#context.output(decoded.value, input?.id).then(
      () => {
        // One-to-one: the entry is acknowledged only now that its output is in (at least once).
        if (input !== undefined) this.#context.done(input.id);
        this.#outputDone();
      },
      () => this.#outputDone(),
    );
  }

  #outputDone(): void {
    this.#pendingOutputs--;
    if (this.#paused && this.#pendingOutputs < MAX_PENDING_OUTPUTS / 2) {
      this.#paused = false;
      this.#supervisor.stdout!.resume();
    }
    if (this.#pendingOutputs === 0) this.#outputsIdle?.();
  }

  async feed(inputs: readonly StageInput[]): Promise<void> {
    await this.#spawned;
    const stdin = this.#stdinOf();
    if (stdin === null) {
      this.#retry.push(...inputs);
      return;
    }
    let text = '';
    for (const input of inputs) text += `${this.#context.encodeInput(input.value)}\n`;
    if (this.#oneToOne) this.#written.push(...inputs);
    const ok = stdin.write(text, (error) => {
      // One-to-one: a failed write stays in #written and goes again with the rest at the next spawn.
      if (this.#oneToOne) return;
      if (error) this.#retry.push(...inputs);
      else for (const input of inputs) this.#context.done(input.id);
    });
    if (!ok) {
      // The program is behind: the worker reads no more until it takes these lines.
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          stdin.off('drain', wake);
          stdin.off('close', wake);
          resolve();
        };
        stdin.on('drain', wake);
        stdin.on('close', wake);
      });
    }
  }

  async drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    // End of input is a filter's cue to finish: it flushes its output and exits.
    this.#supervisor.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#gracePeriod)));
    const exited = await Promise.race([this.#ended.then(() => true), graceOver]);
    clearTimeout(timer);
    if (!exited) await this.#supervisor.stop();
    await this.#supervisor.closeOutput();
    if (this.#pendingOutputs > 0) await new Promise<void>((resolve) => (this.#outputsIdle = resolve));
  }

  async stop(): Promise<PluginExit> {
    await this.#supervisor.stop();
    await this.#supervisor.closeOutput();
    return this.#supervisor.last;
  }
}
