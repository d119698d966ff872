/**
 * The table of `pipe-io` commands. To add one, add a line here and a module beside this
 * file; see `command.ts` for what the module exports.
 * @module
 */
import type { CommandEntry } from './command.js';

/** Every command, in the order `pipe-io --help` lists them. */
export const commands: readonly CommandEntry[] = [
  { name: 'echo', summary: 'serve a FIFO pair that sends every line back (try a client against it)', load: async () => (await import('./echo.js')).command },
  { name: 'connect', summary: 'open a session with a session server and join it to stdin/stdout (like nc -U)', load: async () => (await import('./connect.js')).command },
  { name: 'run', summary: 'run a plugin: stdin lines go to it, its messages come out on stdout', load: async () => (await import('./run.js')).command },
  { name: 'call', summary: 'call one JSON-RPC method of a plugin and print the result', load: async () => (await import('./call.js')).command },
  { name: 'bridge', summary: 'join a FIFO pair to a Redis Streams topic (named pipes across machines)', load: async () => (await import('./bridge.js')).command },
  { name: 'push', summary: 'append messages to a Redis Streams topic', load: async () => (await import('./bridge.js')).pushCommand },
  { name: 'pull', summary: 'print the messages of a Redis Streams topic as they arrive', load: async () => (await import('./bridge.js')).pullCommand },
  { name: 'work', summary: 'run any stdin/stdout program (or RPC plugin) as a worker on a Redis Streams topic', load: async () => (await import('./work.js')).command },
  { name: 'ls', summary: 'list topics, workers and bridges registered in Redis', load: async () => (await import('./ls.js')).command },
];
