/**
 * Baseline: what a Node user would pick instead of FIFOs — a `net` server on a
 * Unix domain socket with a straightforward line splitter, one socket.write()
 * per message, honouring write() backpressure with 'drain'.
 *
 *   node dist/bench/baselines/unix-socket.js in|out|echo SOCKET_PATH - [N]
 * Protocol: see bench/common/child.ts.
 */
import { unlinkSync } from 'node:fs';
import net from 'node:net';
import { commands, exitAfter, lineCounter, parseChildArgs, sendLines, status } from '../common/child.js';
import { lineSplitter } from '../common/line-splitter.js';

const args = parseChildArgs();
let client: net.Socket | undefined;
// One count for all connections: the in16 test has 16 clients.
const count = args.mode === 'in' ? lineCounter(args.n) : undefined;

const server = net.createServer((sock) => {
  client = sock;
  sock.on('error', (err) => process.stderr.write(`unix-socket: ${err.message}\n`));
  sock.setEncoding('utf8');
  if (args.mode === 'in') {
    sock.on('data', lineSplitter(count!));
  } else if (args.mode === 'echo') {
    sock.on('data', lineSplitter((line) => sock.write(line + '\n')));
  }
  status('CONNECTED');
});

async function sendAll(): Promise<void> {
  if (!client) throw new Error('GO before a client connected');
  await sendLines(client, args.n);
}

try {
  unlinkSync(args.inPath);
} catch {
  /* absent */
}
server.listen(args.inPath, () => status('READY'));
commands({
  onGo: () => void sendAll().catch((err: unknown) => process.stderr.write(`unix-socket: ${String(err)}\n`)),
  onClose: () =>
    exitAfter(async () => {
      client?.destroy();
      await new Promise((resolve) => server.close(resolve));
    }),
});
