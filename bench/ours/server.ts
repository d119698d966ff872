/**
 * The system under test: pipe-io-server, as a benchmark server child.
 *
 *   node dist/bench/ours/server.js in|out|echo IN_FIFO OUT_FIFO [N] [text|buffer]
 * The server creates the FIFOs itself (managePipes). Protocol: see
 * bench/common/child.ts. The last argument is the codec (default text): with
 * `buffer` every message is a Buffer, received as a view of the read chunk and
 * sent from one Buffer made once (the writer copies it into its batch).
 *  in    counts the messages in handleMessages(), the batch hook (one call per read)
 *  out   on GO calls send() N times, waiting for 'drain' whenever needsDrain
 *        says so (the library's backpressure, as the baselines wait for the
 *        socket's 'drain'), then awaits the last send()
 *  echo  handleMessage() returns this.send(message)
 */
import { once } from 'node:events';
import { PipeIOServer } from '../../lib/index.js';
import { commands, exitAfter, lineCounter, MESSAGE, parseChildArgs, status } from '../common/child.js';

type Message = string | Buffer;

class Echo extends PipeIOServer<Message> {
  override handleMessage(message: Message): Promise<void> {
    return this.send(message);
  }
}

/** The "in" test's receiver: lines a read at a time, through the batch hook. */
class Counter extends PipeIOServer<Message> {
  readonly #count = lineCounter(parseChildArgs().n);
  override handleMessages(messages: Message[]): void {
    for (let i = 0; i < messages.length; i++) this.#count(messages[i]!);
  }
}

const args = parseChildArgs();
const codec = process.argv[6] === 'buffer' ? 'buffer' : 'text';
const options = { permissions: 0o600, managePipes: true, codec } as const;
const server =
  args.mode === 'echo'
    ? new Echo(args.inPath, args.outPath, options)
    : args.mode === 'in'
      ? new Counter(args.inPath, args.outPath, options)
      : new PipeIOServer<Message>(args.inPath, args.outPath, options);
const message: Message = codec === 'buffer' ? Buffer.from(MESSAGE) : MESSAGE;
server.on('warning', (err) => process.stderr.write(`ours warning: ${err.message}\n`));

async function sendAll(): Promise<void> {
  const t0 = process.hrtime.bigint();
  let last: Promise<void> | undefined;
  for (let i = 0; i < args.n; i++) {
    last = server.send(message);
    if (server.needsDrain) await once(server, 'drain');
  }
  await last;
  status('SENT', { ns: Number(process.hrtime.bigint() - t0) });
}

await server.start();
status('READY');
commands({
  onGo: () => void sendAll().catch((err: unknown) => process.stderr.write(`ours: ${String(err)}\n`)),
  onClose: () => exitAfter(() => server.stop()),
});
