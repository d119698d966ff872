/**
 * What a `pipe-io` command is, for those who add one.
 *
 * A command is a {@link CliCommand} exported by a module in this folder (one module may
 * export several, e.g. commands that share options), with one line in the table in
 * `commands.ts`. To add `pipe-io bridge`:
 *
 * ```ts
 * // lib/cli/bridge.ts
 * import type { CliCommand } from './command.js';
 * export const command: CliCommand = {
 *   usage: 'Usage: pipe-io bridge [--redis URL] ...\n\nWhat it does, every option.',
 *   async run(args, context) {
 *     const { values } = parseCommandArgs(args, { redis: { type: 'string' } });
 *     // ... serve until context.signal aborts (SIGINT/SIGTERM), then clean up
 *     return 0;
 *   },
 * };
 * // lib/cli/commands.ts: add
 * //   { name: 'bridge', summary: 'relay a FIFO pair to Redis', load: async () => (await import('./bridge.js')).command },
 * ```
 *
 * The dispatcher (`main.ts`) owns everything common: `--help` (it prints `usage` when
 * `--help` or `-h` is among the arguments, so `run` never sees them), `--version`, signal
 * handling, and turning errors into messages and exit codes. A command:
 * - parses its own arguments, preferably with {@link parseCommandArgs} (strict, `node:util`
 *   `parseArgs`), and throws {@link UsageError} for bad input: exit status 2 and a hint;
 * - writes results to `context.stdout` and diagnostics to `context.stderr`;
 * - watches `context.signal`: it aborts on the first SIGINT or SIGTERM (the reason is the
 *   signal's name); the command then stops what it started and returns (a second signal
 *   makes the dispatcher exit at once);
 * - returns its exit status; any other exception is reported as `pipe-io NAME: error: …`
 *   with status 1.
 *
 * Commands are loaded on demand, so one with heavy dependencies (Redis) costs the others nothing.
 * @module
 */
import { parseArgs } from 'node:util';

/** What the dispatcher gives a command. */
export interface CliContext {
  /** The command's name, for messages: `pipe-io NAME: …`. */
  readonly name: string;
  /** Where input comes from (`process.stdin`). */
  readonly stdin: NodeJS.ReadStream;
  /** Where results go (`process.stdout`). */
  readonly stdout: NodeJS.WritableStream;
  /** Where diagnostics go (`process.stderr`). */
  readonly stderr: NodeJS.WritableStream;
  /** Aborted on the first SIGINT or SIGTERM; `signal.reason` is the signal's name. */
  readonly signal: AbortSignal;
}

/** One `pipe-io` command. */
export interface CliCommand {
  /** The full `--help` text: a `Usage:` line, what it does, every option, an example. */
  readonly usage: string;
  /**
   * Does the work.
   * @param args - the arguments after the command's name
   * @param context - streams and the stop signal
   * @returns the exit status
   */
  run(args: string[], context: CliContext): Promise<number>;
}

/** A line in the command table. */
export interface CommandEntry {
  /** What the user types after `pipe-io`. */
  readonly name: string;
  /** One line for `pipe-io --help`. */
  readonly summary: string;
  /** Imports the command's module. */
  load(): Promise<CliCommand>;
}

/** Bad arguments: the dispatcher prints the message and a pointer to `--help`, and exits with status 2. */
export class UsageError extends Error {
  /** @param message - what is wrong, in the user's terms */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A flag, as {@link parseCommandArgs} takes it. */
export interface FlagSpec {
  /** `'boolean'` for a switch, `'string'` for a flag with a value. */
  readonly type: 'boolean' | 'string';
  /** A one-letter alias, without its dash. */
  readonly short?: string;
}

/** What {@link parseCommandArgs} returns: each flag's value if given, and the other arguments. */
export interface ParsedArgs<O extends Record<string, FlagSpec>> {
  /** The flags given; booleans are `true`, strings are the value. */
  readonly values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
  /** The arguments that are not flags, including everything after `--`. */
  readonly positionals: string[];
}

/**
 * `node:util` `parseArgs` with the conventions every command shares: unknown flags are
 * errors, positionals are allowed, and its errors become {@link UsageError}s.
 * @param args - the command's arguments
 * @param options - the flags
 */
export function parseCommandArgs<O extends Record<string, FlagSpec>>(args: string[], options: O): ParsedArgs<O> {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: values as ParsedArgs<O>['values'], positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A whole number from a flag, or a {@link UsageError} naming the flag. */
export function integerFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} needs a whole number >= ${min}, got '${value}'.`);
  return Number(value);
}

/** Quotes a string for bash, so printed commands can be pasted as they are. */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
