/**
 * The echo server: `npm start`, or `node dist/examples/echo-server.js [IN] [OUT]`.
 *
 * Creates two FIFOs (default: `./pipes/send` and `./pipes/recv`, named for what a client
 * does with them), prints how to talk to it, echoes every message, and stops cleanly on
 * Ctrl-C or SIGTERM, removing its pipes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PipeIOServer } from '../lib/index.js';

class EchoServer extends PipeIOServer {
  override handleMessage(message: string): Promise<void> {
    return this.send(message);
  }
}

const folder = path.resolve('pipes');
const [inPipe = path.join(folder, 'send'), outPipe = path.join(folder, 'recv')] = process.argv.slice(2);
if (process.argv.length <= 2) fs.mkdirSync(folder, { recursive: true });

const controller = new AbortController();
const server = new EchoServer(inPipe, outPipe, { signal: controller.signal });
server.on('warning', (error) => console.error(`warning: ${error.message}`));

try {
  await server.start();
} catch (error) {
  console.error(`Cannot start the echo server: ${(error as Error).message}`);
  process.exit(1);
}

const quote = (p: string): string => `'${p.replaceAll("'", `'\\''`)}'`;
console.log(`Echo server ready.
  clients write to: ${inPipe}
  clients read from: ${outPipe}
Try, in another terminal:
  exec 3< ${quote(outPipe)}; printf 'hello\\n' > ${quote(inPipe)}; IFS= read -r line <&3; echo "$line"
Stop with Ctrl-C.`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort());
}
await server.closed;
if (process.argv.length <= 2) {
  try {
    fs.rmdirSync(folder); // only if empty: never remove what someone else put there
  } catch {
    // Not empty, or already gone.
  }
}
console.log('Echo server stopped.');
