/**
 * `pipe-io connect`: a session joined to stdin and stdout, like `nc -U` for a Unix socket.
 * @module
 */
import { PipeIOClient } from '../client.js';
import { LineDecoder } from '../framing.js';
import { type CliCommand, UsageError, parseCommandArgs } from './command.js';

const usage = `Usage: pipe-io connect [--timeout SECONDS] DIR

Opens a session with the session server of the folder DIR (a PipeSessionServer,
or pipe-io echo --sessions DIR): every line on stdin is sent to it, every line
it sends is printed on stdout. At the end of stdin the session's sending side
is closed, which ends the session once the server is done with it. Exits 0
when the server ends the session, 1 if it refuses (the reason is printed).

Options:
  --timeout SECONDS  how long to wait for the server to answer (default 10)
  -h, --help         show this help

Example:
  pipe-io echo --sessions /tmp/echo &
  echo hello | pipe-io connect /tmp/echo     # prints: hello
`;

/** See {@link usage}. */
export const command: CliCommand = {
  usage,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, { timeout: { type: 'string' } });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the sessions folder: pipe-io connect DIR' : `unexpected argument '${positionals[1]}'.`);
    const timeout = values.timeout === undefined ? 10 : Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout < 0) throw new UsageError(`--timeout is in seconds (like 10 or 0.5), got '${values.timeout}'.`);
    const { stdin, stdout, stderr, name } = context;
    const client = await PipeIOClient.session(positionals[0]!, { timeout: timeout * 1000, signal: context.signal });
    client.on('warning', (error) => void stderr.write(`pipe-io ${name}: warning: ${error.message}\n`));
    stdout.on('error', () => void client.close()); // our reader left (| head): nobody wants the rest
    client.on('message', (line) => void stdout.write(`${line}\n`));
    let pending = 0;
    const decoder = new LineDecoder(1024 * 1024, {
      line: (line) => {
        pending++;
        client.send(line as string).then(
          () => {
            if (--pending === 0 && stdin.isPaused()) stdin.resume();
          },
          () => {
            // The session ended: the server said so, and 'end' follows.
          },
        );
        // The server is behind: stop reading stdin rather than queue all of it in memory.
        if (pending > 1000) stdin.pause();
      },
      oversize: () => void stderr.write(`pipe-io ${name}: a stdin line longer than 1 MiB was skipped.\n`),
    });
    const inputDone = (): void => {
      decoder.end();
      void client.end();
    };
    stdin.on('data', (chunk: Buffer) => decoder.push(chunk));
    stdin.once('end', inputDone);
    stdin.once('error', inputDone);
    await client.closed;
    stdin.pause();
    stdin.destroy();
    return 0;
  },
};
