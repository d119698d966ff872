/**
 * Baseline: the "naive" Node FIFO server — `net.Socket({ fd })` on an
 * O_NONBLOCK FIFO descriptor (opened O_RDWR, so clients may come and go), the same line splitter as the Unix socket
 * baseline, one socket.write() per message, honouring backpressure with
 * 'drain'. The out FIFO is opened (O_WRONLY|O_NONBLOCK) when first needed,
 * because that open fails with ENXIO while no client reader exists.
 *
 *   node dist/bench/baselines/naive-fifo.js in|out|echo IN_FIFO OUT_FIFO [N]
 * The harness creates both FIFOs. Protocol: see bench/common/child.ts.
 */
import { constants, openSync } from 'node:fs';
import net from 'node:net';
import { commands, exitAfter, lineCounter, parseChildArgs, sendLines, status } from '../common/child.js';
import { lineSplitter } from '../common/line-splitter.js';

const { O_RDWR, O_WRONLY, O_NONBLOCK } = constants;
const args = parseChildArgs();

// O_RDWR, the usual idiom for a FIFO with many clients (Linux): holding a write end itself, the
// server never reads end of file when every client happens to be closed at once (the in16 test).
const input = new net.Socket({ fd: openSync(args.inPath, O_RDWR | O_NONBLOCK), readable: true, writable: false });
input.on('error', (err) => process.stderr.write(`naive-fifo in: ${err.message}\n`));
input.setEncoding('utf8');

let output: net.Socket | undefined;
function out(): net.Socket {
  if (!output) {
    output = new net.Socket({ fd: openSync(args.outPath, O_WRONLY | O_NONBLOCK), readable: false, writable: true });
    output.on('error', (err) => process.stderr.write(`naive-fifo out: ${err.message}\n`));
  }
  return output;
}

if (args.mode === 'in') {
  input.on('data', lineSplitter(lineCounter(args.n)));
} else if (args.mode === 'echo') {
  input.on('data', lineSplitter((line) => out().write(line + '\n')));
}

async function sendAll(): Promise<void> {
  await sendLines(out(), args.n);
}

status('READY');
commands({
  onGo: () => void sendAll().catch((err: unknown) => process.stderr.write(`naive-fifo: ${String(err)}\n`)),
  onClose: () =>
    exitAfter(() => {
      input.destroy();
      output?.destroy();
    }),
});
