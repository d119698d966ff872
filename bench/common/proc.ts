/**
 * Child processes for the harness: line-based stdout, timeouts, and a registry
 * so that every child the harness started is killed (by its pid) when the
 * harness ends, however it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const live = new Set<Proc>();

/** Kills every child still running. Safe to call more than once. */
export function killAll(): void {
  for (const proc of live) proc.kill();
}

export interface SpawnOptions {
  /** Pin to this CPU with taskset (when `taskset` is given). */
  cpu?: number | undefined;
  /** Path of taskset, or undefined when not available/wanted. */
  taskset?: string | undefined;
  /** Forward the child's stderr to ours as it arrives. */
  verbose?: boolean;
  env?: NodeJS.ProcessEnv;
}

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #lines: string[] = [];
  #cursor = 0;
  #stderr = '';
  #wake: (() => void) | undefined;
  #done = false;

  constructor(name: string, command: string, args: string[], options: SpawnOptions = {}) {
    this.name = name;
    const argv = options.cpu !== undefined && options.taskset ? [options.taskset, '-c', String(options.cpu), command, ...args] : [command, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    live.add(this);
    this.child.stdin!.on('error', () => {}); // EPIPE if the child is gone
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.#lines.push(line);
      this.#wake?.();
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      if (options.verbose) process.stderr.write(`  [${name}] ${chunk}`);
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.#stderr += `\nspawn failed: ${err.message}`;
        this.#done = true;
        live.delete(this);
        this.#wake?.();
        resolve({ code: -1, signal: null });
      });
      this.child.on('close', (code, signal) => {
        this.#done = true;
        live.delete(this);
        this.#wake?.();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last few KB of the child's stderr. */
  get stderrTail(): string {
    return this.#stderr.trim();
  }

  /**
   * Waits for the next stdout line that `match` accepts (lines before it are
   * skipped) and returns match's result. Rejects on timeout or if the child
   * exits first.
   */
  async waitLine<T>(what: string, match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.#lines.length) {
        const result = match(this.#lines[this.#cursor++]!);
        if (result !== undefined) return result;
      }
      if (this.#done) {
        // stdout may still deliver buffered lines after 'close'; one last pass above already ran.
        throw new Error(`${this.name} exited before ${what}${this.#stderr ? `: ${this.stderrTail}` : ''}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${Math.round(timeoutMs / 1000)} s${this.#stderr ? `: ${this.stderrTail}` : ''}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Waits for a status line `WORD` or `WORD {json}`; returns the JSON (or {}). */
  expect(word: string, timeoutMs: number): Promise<Record<string, number>> {
    return this.waitLine(word, (line) => {
      if (line === word) return {};
      if (line.startsWith(word + ' ')) return JSON.parse(line.slice(word.length + 1)) as Record<string, number>;
      return undefined;
    }, timeoutMs);
  }

  /** Waits for the next stdout line that is a JSON object. */
  json(timeoutMs: number): Promise<Record<string, number>> {
    return this.waitLine('result', (line) => (line.startsWith('{') ? (JSON.parse(line) as Record<string, number>) : undefined), timeoutMs);
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  /** Waits for the child to exit by itself; kills it after timeoutMs. */
  async finish(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  /** Closes the child's stdin (our "please stop"), waits, kills after timeoutMs. */
  close(timeoutMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.stdin!.end();
    return this.finish(timeoutMs);
  }

  kill(): void {
    if (!this.#done && this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}
