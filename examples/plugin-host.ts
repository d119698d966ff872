/**
 * A plugin host: starts a plugin, sends it a few messages, prints its replies, and
 * stops everything (process group, FIFOs, private folder) on the way out.
 *
 *   node dist/examples/plugin-host.js                  # runs clients/python/example_client.py
 *   node dist/examples/plugin-host.js bash clients/bash/example-client.sh
 *
 * The plugin finds everything in its environment:
 *   PIPE_IO_SEND       the FIFO it writes its messages to
 *   PIPE_IO_RECV       the FIFO it reads the host's messages from
 *   PIPE_IO_HOST_PID   the host's pid
 *   PIPE_IO_PLUGIN_ID  a name for its logs
 */
import { fileURLToPath } from 'node:url';
import { spawnPlugin } from '../lib/index.js';

const [command, ...args] =
  process.argv.length > 2 ? process.argv.slice(2) : ['python3', fileURLToPath(new URL('../../clients/python/example_client.py', import.meta.url))];

const plugin = await spawnPlugin(command!, args, { restart: 'on-failure', gracePeriod: 2000 });
console.log(`started ${plugin.id} (pid ${plugin.pid}); pipes in ${plugin.dir}`);
// Ctrl-C: an orderly stop instead of leaving the plugin behind.
process.once('SIGINT', () => void plugin.stop());

const questions = ['hello', 'tab\there', 'é 漢字 😀'];
const replies = plugin.messages();
for (const question of questions) {
  await plugin.send(question);
  const reply = await replies.next();
  if (reply.done) break; // the plugin is gone
  console.log(`${JSON.stringify(question)} -> ${JSON.stringify(reply.value)}`);
}

// End of input: the plugin reads end of stream, finishes and exits on its own.
await plugin.end();
const exit = await plugin.exited;
console.log(`plugin exited: code ${exit.code}, signal ${exit.signal}; folder removed`);
