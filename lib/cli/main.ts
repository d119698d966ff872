#!/usr/bin/env node
/**
 * `pipe-io`: the command line. This file only dispatches; each command lives in its own
 * module, listed in `commands.ts` (see `command.ts` to add one).
 *
 * Exit status: the command's; 2 for bad usage; 1 for an error; 128 + n when a second
 * signal n cut the orderly stop short.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import { messageOf } from '../errors.js';
import { type CliContext, UsageError } from './command.js';
import { commands } from './commands.js';

function version(): string {
  // dist/lib/cli/main.js -> the package root is three folders up.
  const manifest = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

function mainUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: pipe-io COMMAND [OPTIONS] [ARGS...]',
    '',
    'Line-based message channels over named pipes (FIFOs).',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show this help (pipe-io COMMAND --help: that command\'s)',
    '  -V, --version  print the version',
    '',
  ].join('\n');
}

const wantsHelp = (args: string[]): boolean => {
  // Only flags before `--` count: in `pipe-io run -- tool --help`, the help is the tool's.
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    process.stderr.write(mainUsage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? args[0] : undefined;
    const entry = topic === undefined ? undefined : commands.find((c) => c.name === topic);
    if (topic !== undefined && entry === undefined) {
      process.stderr.write(`pipe-io: unknown command '${topic}'. Commands: ${commands.map((c) => c.name).join(', ')}.\n`);
      return 2;
    }
    process.stdout.write(entry ? (await entry.load()).usage.trimEnd() + '\n' : mainUsage());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`pipe-io ${version()}\n`);
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (entry === undefined) {
    const what = name.startsWith('-') ? `unknown option '${name}'` : `unknown command '${name}'`;
    process.stderr.write(`pipe-io: ${what}. Commands: ${commands.map((c) => c.name).join(', ')}. See 'pipe-io --help'.\n`);
    return 2;
  }
  const command = await entry.load();
  if (wantsHelp(args)) {
    process.stdout.write(command.usage.trimEnd() + '\n');
    return 0;
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals === 1) {
      controller.abort(signal);
      return;
    }
    // A second Ctrl-C: the user no longer wants the orderly stop.
    process.stderr.write(`pipe-io ${name}: ${signal} again, exiting now.\n`);
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const context: CliContext = { name, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: controller.signal };
  try {
    return await command.run(args, context);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`pipe-io ${name}: ${error.message}\nTry 'pipe-io ${name} --help'.\n`);
      return 2;
    }
    process.stderr.write(`pipe-io ${name}: error: ${messageOf(error)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Waits until what was written to `stream` has left the process (or the stream broke). */
async function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return;
  await new Promise<void>((resolve) => {
    stream.once('drain', resolve).once('error', resolve).once('close', resolve);
  });
}

main(process.argv.slice(2)).then(
  async (status) => {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    // Explicit exit: a stdin left open (a terminal) would otherwise keep the process alive.
    process.exit(status);
  },
  (error: unknown) => {
    process.stderr.write(`pipe-io: error: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
