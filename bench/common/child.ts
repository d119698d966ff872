/**
 * The protocol between the benchmark harness (bench/run.ts) and one server
 * child process (ours, Unix socket, naive FIFO).
 *
 * A server child is started as
 *   node dist/bench/<server>.js MODE IN OUT N
 * MODE is `in`, `out` or `echo`. IN/OUT are the FIFO paths (the Unix socket
 * server uses IN as its socket path and ignores OUT). N is the line count for
 * `in` and `out`.
 *
 * stdout carries one status line per event, a word and an optional JSON object:
 *   READY                   listening; a client may connect now
 *   CONNECTED               (socket server only) a client connected
 *   DONE {"lines":…,"ns":…,"rate":…,"bad":…}   `in`: N lines received
 *   SENT {"ns":…}           `out`: N lines handed to the channel
 * stdin carries commands from the harness, one per line:
 *   GO                      `out`: start sending
 * When stdin closes (the harness is done or gone) the child shuts its server
 * down and exits, which also lets `--cpu-prof` write its profile.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { createInterface } from 'node:readline';

export type Mode = 'in' | 'out' | 'echo';

export interface ChildArgs {
  mode: Mode;
  inPath: string;
  outPath: string;
  n: number;
}

/** The 63 characters of every benchmark message (64 bytes with the newline). */
export const MESSAGE = 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0'.slice(0, 63);

export function parseChildArgs(argv: string[] = process.argv.slice(2)): ChildArgs {
  const [mode, inPath, outPath, n] = argv;
  if ((mode !== 'in' && mode !== 'out' && mode !== 'echo') || !inPath || !outPath) {
    process.stderr.write('usage: in|out|echo IN_PATH OUT_PATH [N]\n');
    process.exit(2);
  }
  return { mode, inPath, outPath, n: Number(n ?? 0) };
}

export function status(word: string, data?: object): void {
  process.stdout.write(data === undefined ? `${word}\n` : `${word} ${JSON.stringify(data)}\n`);
}

/**
 * Calls onGo for each GO command and onClose once stdin closes.
 */
export function commands(handlers: { onGo?: () => void; onClose: () => void }): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'GO') handlers.onGo?.();
  });
  rl.on('close', handlers.onClose);
}

/**
 * Counts received lines. Timed at the receiver: from handling the first line to
 * handling line N; rate = (N - 1) / interval. Prints DONE when N have arrived.
 */
export function lineCounter(n: number): (line: string | Buffer) => void {
  let count = 0;
  let bad = 0;
  let t0 = 0n;
  return (line: string | Buffer) => {
    if (count === 0) t0 = process.hrtime.bigint();
    if (line.length !== MESSAGE.length) bad++;
    if (++count === n) {
      const ns = Number(process.hrtime.bigint() - t0);
      status('DONE', { lines: count, bad, ns, rate: ns > 0 ? ((count - 1) * 1e9) / ns : 0 });
    }
  };
}

/** Exits after `fn` (the server's shutdown) finishes, or after 5 s regardless. */
export function exitAfter(fn: () => Promise<unknown> | unknown): void {
  const timer = setTimeout(() => process.exit(0), 5000);
  timer.unref();
  Promise.resolve()
    .then(fn)
    .catch((err: unknown) => process.stderr.write(`shutdown: ${String(err)}\n`))
    .finally(() => process.exit(0));
}

/**
 * The baselines' "out" test: writes the message n times into `sock`, waiting for 'drain'
 * whenever write() says the stream is full, then reports SENT with the time taken. One loop
 * for both baselines, so they are measured the same way.
 */
export async function sendLines(sock: Writable, n: number): Promise<void> {
  const line = MESSAGE + '\n';
  const t0 = process.hrtime.bigint();
  for (let i = 1; i < n; i++) {
    if (!sock.write(line)) await once(sock, 'drain');
  }
  await new Promise<void>((resolve) => sock.write(line, () => resolve()));
  status('SENT', { ns: Number(process.hrtime.bigint() - t0) });
}

