/**
 * What the commands that run a plugin (`pipe-io run`, `pipe-io call`) share: starting it with
 * its stdout and stderr joined to ours, the shell's exit statuses for a command that cannot
 * run, and words for how a plugin ended.
 * @module
 */
import os from 'node:os';
import { errnoCode } from '../errors.js';
import { type PluginExit, type PluginHandle, type PluginOptions, spawnPlugin } from '../plugin/index.js';
import type { CliContext } from './command.js';

/** The number of a signal named `SIGxxx`, for the 128 + N exit status; 0 if unknown. */
export const signalNumber = (signal: string): number => os.constants.signals[signal as NodeJS.Signals] ?? 0;

/** How a plugin ended, in words: "exited with status 3", "was killed by SIGKILL". */
export function describeExit(exit: PluginExit): string {
  if (exit.error) return `could not start (${exit.error.message})`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with status ${String(exit.code)}`;
}

/** Writes `pipe-io NAME: text` to the command's stderr. */
export function warner(context: CliContext): (text: string) => void {
  return (text) => void context.stderr.write(`pipe-io ${context.name}: ${text}\n`);
}

/**
 * For a program that could not be started: says so and gives the status a shell gives, 127
 * (not found) or 126 (not executable); any other error is thrown on.
 */
export function cannotRun(error: unknown, program: string, warn: (text: string) => void): number {
  const code = errnoCode(error);
  if (code === 'ENOENT' || code === 'EACCES') {
    warn(`cannot run '${program}': ${code === 'ENOENT' ? 'command not found' : 'permission denied'}.`);
    return code === 'ENOENT' ? 127 : 126;
  }
  throw error;
}

/**
 * Starts the plugin with `stdio: 'pipe'`, its stdout and stderr going to our stderr (our stdout
 * carries only messages) and its warnings reported. A command that cannot run is said so on
 * stderr and answered with the status a shell gives: 127 (not found) or 126 (not executable).
 */
export async function startPlugin<T>(program: string, args: readonly string[], options: PluginOptions<T>, context: CliContext): Promise<PluginHandle<T> | number> {
  const warn = warner(context);
  let plugin: PluginHandle<T>;
  try {
    plugin = await spawnPlugin<T>(program, args, { ...options, stdio: 'pipe' });
  } catch (error) {
    return cannotRun(error, program, warn);
  }
  plugin.stdout!.pipe(context.stderr, { end: false });
  plugin.stderr!.pipe(context.stderr, { end: false });
  plugin.on('warning', (error) => warn(`warning: ${error.message}`));
  return plugin;
}
