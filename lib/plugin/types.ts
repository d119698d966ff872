/**
 * The public types of plugins: options, exit statuses and events.
 * @module
 */
import type { CodecOption } from '../codec.js';
import type { PipeIOError } from '../errors.js';
import type { OversizeInfo } from '../events.js';

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
  /**
   * Milliseconds between SIGTERM and SIGKILL in {@link PluginHandle.stop}, and when the host
   * exits without stopping the plugin (`process.exit()`, an uncaught exception). A host
   * killed by a signal it does not handle (SIGKILL, the OOM killer, or SIGTERM and SIGINT
   * with no listener: Node then runs no code) gets its plugins SIGKILLed 200 ms after their
   * SIGTERM, whatever this says. Default `5000`.
   */
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
