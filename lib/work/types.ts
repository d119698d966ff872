/**
 * The public types of workers: options, counters, events.
 * @module
 */
import type { BridgeError } from '../bridge/errors.js';
import type { RedisTransportOptions } from '../bridge/redis.js';
import type { StartPosition } from '../bridge/transport.js';
import type { PluginExit } from '../plugin/types.js';

/**
 * How a worker talks to its program.
 * - `'stdio'`: messages are lines on the program's stdin; its stdout lines are the output,
 *   with no tie between an input and an output (any filter: `tr`, `grep`, `jq -c`).
 * - `'reply'`: the program is a JSON-RPC plugin (see `RpcPeer`); each message is one request,
 *   its result the one output message.
 */
export type WorkerMode = 'stdio' | 'reply';

/**
 * What messages are. `'text'`: lines, as they are. `'json'` and `'yaml'`: structured values;
 * the topics always carry them as JSON, so that JSON and YAML programs share a pipeline, and
 * a `'yaml'` worker's program reads and writes YAML flow lines (see `yamlCodec`).
 */
export type WorkerCodec = 'text' | 'json' | 'yaml';

/** Options of {@link Worker}. */
export interface WorkerOptions {
  /** The Redis URL or transport options. Default `$REDIS_URL`, else `redis://127.0.0.1:6379`. */
  redis?: string | RedisTransportOptions | undefined;
  /** The topic read, as a member of {@link group}. */
  from: string;
  /** The topic the output is appended to; without it the worker is a sink and emits `'output'`. */
  to?: string | undefined;
  /** The consumer group sharing the work of {@link from}. */
  group: string;
  /** This worker's name in the group: unique, and the same across restarts. Default `HOST:PID`. */
  name?: string | undefined;
  /** The program and its arguments. */
  command: string;
  /** Arguments of {@link command}. */
  args?: readonly string[] | undefined;
  /** Default `'stdio'`. */
  mode?: WorkerMode | undefined;
  /** Reply mode: the method requested for each message. Default `'process'`. */
  method?: string | undefined;
  /** Default `'text'`. */
  codec?: WorkerCodec | undefined;
  /**
   * With `'json'` or `'yaml'`: each output object gets a {@link WorkerMeta} member under this
   * key (`true` means `'__pipe_io'`). Default: none.
   */
  meta?: boolean | string | undefined;
  /** Where a new group starts. Default `'new'`. */
  start?: StartPosition | undefined;
  /** `'never'` (default) or `'on-failure'`: start the program again after a failure, with backoff. */
  restart?: 'never' | 'on-failure' | undefined;
  /** Failures in a row before giving up. Default 5. */
  maxRestarts?: number | undefined;
  /** Milliseconds between SIGTERM and SIGKILL when stopping the program. Default 5000. */
  gracePeriod?: number | undefined;
  /** Messages handed to the program and not yet done, at most. Default 256. */
  maxInFlight?: number | undefined;
  /** Entries another member held this long (it died) are taken over, in ms. Default 30000. */
  claimIdleMs?: number | undefined;
  /** Trims the output topic to about this many entries (`XADD MAXLEN ~`). Default: no trimming. */
  maxLen?: number | undefined;
  /**
   * Stdio mode: the program writes exactly one line per line it reads, in order. Each entry is
   * then acknowledged only after its answer is appended, and a dead program's unanswered lines
   * go to its next instance (at least once). Default false (acknowledged once written).
   */
  oneToOne?: boolean | undefined;
  /** Stdio mode: run the program under `stdbuf -oL` when it is installed. Default true. */
  lineBuffered?: boolean | undefined;
  /** Variables added to the program's environment. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Registry heartbeat: the entry expires after this many ms without one. Default 10000; 0 to not register. */
  registryTtlMs?: number | undefined;
}

/** The metadata member a worker adds to each output object with {@link WorkerOptions.meta}. */
export interface WorkerMeta {
  /** The worker's host name. */
  readonly host: string;
  /** The worker's pid. */
  readonly pid: number;
  /** The worker's name in its group. */
  readonly worker: string;
  /** The topic the input came from. */
  readonly from: string;
  /** The input entry's id (reply and one-to-one modes: otherwise a stdio program's output is not tied to an input). */
  readonly id?: string;
  /** When the output was made, ISO 8601. */
  readonly time: string;
}

/** Counters of a {@link Worker}, since it started. */
export interface WorkerStats {
  /** Entries read from {@link WorkerOptions.from}. */
  readonly received: number;
  /** Entries done and acknowledged (handled, or skipped as bad). */
  readonly acked: number;
  /** Entries skipped: malformed, not of the codec, or answered with an error. */
  readonly skipped: number;
  /** Output messages appended (or emitted, for a sink). */
  readonly emitted: number;
  /** Reply mode: requests sent again after the program died holding them. */
  readonly retried: number;
  /** Handed to the program and not yet done. */
  readonly inFlight: number;
}

/** Where a worker is in its life. */
export type WorkerState = 'idle' | 'running' | 'draining' | 'stopped';

/** Events of a {@link Worker}. */
export interface WorkerEvents {
  /** Something the worker survives: a bad entry skipped, a bad output line, Redis trouble. */
  warning: [error: BridgeError];
  /** A sink's output message (no {@link WorkerOptions.to}). */
  output: [message: string];
  /** The program failed and starts again after `delay` ms. */
  restart: [info: { attempt: number; delay: number; previous: PluginExit }];
  /** The worker stopped: drained after {@link Worker.stop}, or its program ended for good. */
  stopped: [exit: PluginExit];
}
