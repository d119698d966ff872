/**
 * What the two ways of talking to a program ({@link StdioStage}, {@link ReplyStage}) have in
 * common, and what the worker gives them.
 * @module
 */
import type { BridgeError } from '../bridge/errors.js';
import type { PluginExit } from '../plugin/types.js';
import type { WorkerMeta } from './types.js';

/** @internal The program a stage runs and how it is supervised, whatever the stage talks to it. */
export interface ProgramOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly restart: 'never' | 'on-failure';
  readonly maxRestarts: number;
  readonly gracePeriod: number;
}

/** @internal One entry to hand to the program: its id, its value (a string for text), and the line for a stdio program. */
export interface StageInput {
  readonly id: string;
  readonly value: unknown;
}

/** @internal What a stage may do with the worker. */
export interface StageContext {
  /** Appends one output value (adds metadata, encodes); resolves once Redis holds it. Rejects only when the worker is closing. */
  output(value: unknown, id?: string): Promise<void>;
  /** The entry is done (its output is in, or it was given up as bad): acknowledge it. */
  done(id: string, skipped?: BridgeError): void;
  /** Decodes one line of the program's output with the worker's codec, or reports it and returns `undefined`. */
  decodeOutput(line: string): { value: unknown } | undefined;
  /** Encodes a value for the program's stdin. */
  encodeInput(value: unknown): string;
  /** The metadata for an output, as the program should see it too. */
  meta(id?: string): WorkerMeta;
  warn(error: BridgeError): void;
  /** The program failed and restarts after `delay`. */
  restarting(info: { attempt: number; delay: number; previous: PluginExit }): void;
  /** Where the program's stderr (and, in reply mode, stdout) goes. */
  readonly stderr: NodeJS.WritableStream;
  readonly retried: () => void;
}

/** @internal A running program the worker feeds. */
export interface Stage {
  /** Starts the program; rejects if it cannot be started. */
  start(): Promise<void>;
  /** Hands entries to the program, in order; resolves once it may take more (backpressure). */
  feed(inputs: readonly StageInput[]): Promise<void>;
  /** No more input: resolves once every entry fed is done and the output is in, or the grace period is over. */
  drain(): Promise<void>;
  /** Stops the program now (SIGTERM, then SIGKILL after the grace period). */
  stop(): Promise<PluginExit>;
  /** Resolves when the program is done for good on its own (not restarted). */
  readonly ended: Promise<PluginExit>;
}
