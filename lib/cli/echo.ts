/**
 * `pipe-io echo`: an echo server, to try a client against.
 * @module
 */
import os from 'node:os';
import path from 'node:path';
import { PipeIOServer } from '../server.js';
import { PipeSessionServer } from '../session/index.js';
import { type PrivateFolder, makePrivateFolder } from './private-folder.js';
import { type CliCommand, type CliContext, UsageError, parseCommandArgs, shellQuote } from './command.js';

const usage = `Usage: pipe-io echo [--in PATH] [--out PATH]
       pipe-io echo --sessions DIR

Serves a FIFO pair and sends every line it reads on the in pipe back on the
out pipe, until SIGINT (Ctrl-C) or SIGTERM; then it removes the pipes.
It prints the paths, the environment a client needs, and a command to try.

Options:
  --in PATH    the FIFO clients write to (the server's in pipe; PIPE_IO_SEND)
  --out PATH   the FIFO clients read from (the server's out pipe; PIPE_IO_RECV)
               Give both or neither; with neither, they are made in a new
               private folder under ${os.tmpdir()}, removed at exit.
  --sessions DIR
               serve sessions instead (PipeSessionServer): every client that
               connects through DIR (pipe-io connect DIR, pipe_io_session DIR)
               gets its own private pair and its own lines back
  -h, --help   show this help

Example:
  pipe-io echo --in /tmp/in --out /tmp/out &
  echo hello >/tmp/in; head -n 1 /tmp/out    # prints: hello
`;

/** See {@link usage}. */
export const command: CliCommand = {
  usage,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, {
      in: { type: 'string' },
      out: { type: 'string' },
      sessions: { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'.`);
    if (values.sessions !== undefined) {
      if (values.in !== undefined || values.out !== undefined) throw new UsageError('give --sessions, or --in and --out, not both.');
      return serveSessions(path.resolve(values.sessions), context);
    }
    if ((values.in === undefined) !== (values.out === undefined)) throw new UsageError('give both --in and --out, or neither.');
    let folder: PrivateFolder | undefined;
    let inPath = values.in;
    let outPath = values.out;
    if (inPath === undefined || outPath === undefined) {
      folder = makePrivateFolder('pipe-io-echo-');
      inPath = path.join(folder.path, 'in');
      outPath = path.join(folder.path, 'out');
    }
    inPath = path.resolve(inPath);
    outPath = path.resolve(outPath);
    const server = new PipeIOServer(inPath, outPath);
    server.on('message', (line) => {
      server.send(line).catch(() => {
        // Only rejected when the server stops: that line had nowhere to go anyway.
      });
    });
    server.on('warning', (error) => context.stderr.write(`pipe-io echo: warning: ${error.message}\n`));
    try {
      await server.start();
      const q = { in: shellQuote(inPath), out: shellQuote(outPath) };
      context.stdout.write(
        [
          `in:  ${inPath}`,
          `out: ${outPath}`,
          `export PIPE_IO_SEND=${q.in} PIPE_IO_RECV=${q.out}`,
          `try: echo hello >${q.in}; head -n 1 ${q.out}`,
          '',
        ].join('\n'),
      );
      if (!context.signal.aborted) await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
    } finally {
      await server.stop();
      folder?.remove();
    }
    return 0;
  },
};

/** `--sessions DIR`: echo for every client, each over its own session. */
async function serveSessions(dir: string, context: CliContext): Promise<number> {
  const server = new PipeSessionServer(dir);
  server.on('session', (session) => {
    session.on('message', (line) => {
      session.send(line).catch(() => {
        // Only rejected when the session ends: that line had nowhere to go anyway.
      });
    });
  });
  server.on('warning', (error) => context.stderr.write(`pipe-io echo: warning: ${error.message}\n`));
  try {
    await server.start();
    context.stdout.write([`sessions: ${dir}`, `try: echo hello | pipe-io connect ${shellQuote(dir)}`, ''].join('\n'));
    if (!context.signal.aborted) await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
  } finally {
    await server.stop();
  }
  return 0;
}
