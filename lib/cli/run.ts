/**
 * `pipe-io run`: a plugin host on the command line.
 * @module
 */
import { LineDecoder } from '../framing.js';
import { type CliCommand, UsageError, integerFlag, parseCommandArgs } from './command.js';
import { describeExit, signalNumber, startPlugin, warner } from './plugin-process.js';

const usage = `Usage: pipe-io run [OPTIONS] [--] COMMAND [ARGS...]

Runs COMMAND as a plugin, with a private FIFO pair whose paths are in its
environment: it writes messages to $PIPE_IO_SEND and reads them from
$PIPE_IO_RECV ($PIPE_IO_HOST_PID and $PIPE_IO_PLUGIN_ID are set too).
Every line on stdin is sent to the plugin; every message it sends is printed
on stdout, one per line. The plugin's own stdout and stderr go to stderr, so
stdout carries only messages.

At the end of stdin the plugin reads end of stream after the last message,
and pipe-io waits for it to exit. SIGINT (Ctrl-C) or SIGTERM stops it: SIGTERM
to its process group, SIGKILL after the grace period; a second signal exits
at once.

Options:
  --json              messages are JSON values: each stdin line must be one
                      (other lines are reported on stderr and skipped), and
                      the plugin's messages are printed as compact JSON
  --restart POLICY    never (default), or on-failure: start the plugin again
                      after a non-zero exit or a death by signal, with backoff;
                      lines sent meanwhile wait for the new instance
  --max-restarts N    failures in a row before giving up (default 5)
  --grace MS          milliseconds between SIGTERM and SIGKILL (default 5000)
  -h, --help          show this help

Put -- before COMMAND when its arguments start with '-'.

Exit status: the plugin's exit code, or 128+N if signal N killed it; 128+N
if pipe-io was stopped by signal N; 127 if COMMAND was not found, 126 if it
could not be executed; 2 for bad usage.

Example:
  printf 'a\\nb\\n' | pipe-io run -- bash -c \\
    'exec 3<"$PIPE_IO_RECV" 4>"$PIPE_IO_SEND"
     while IFS= read -r line <&3; do echo "got: $line" >&4; done'
`;

/** See {@link usage}. */
export const command: CliCommand = {
  usage,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: 'boolean' },
      restart: { type: 'string' },
      'max-restarts': { type: 'string' },
      grace: { type: 'string' },
    });
    const [program, ...programArgs] = positionals;
    if (program === undefined) throw new UsageError('no command to run: pipe-io run [OPTIONS] -- COMMAND [ARGS...]');
    const restart = values.restart ?? 'never';
    if (restart !== 'never' && restart !== 'on-failure') throw new UsageError(`--restart must be 'never' or 'on-failure', got '${restart}'.`);
    const maxRestarts = integerFlag('max-restarts', values['max-restarts'], 5);
    const gracePeriod = integerFlag('grace', values.grace, 5000);
    const json = values.json === true;
    const { stdin, stdout } = context;
    const warn = warner(context);

    const started = await startPlugin<unknown>(program, programArgs, { codec: json ? 'json' : 'text', restart, maxRestarts, gracePeriod }, context);
    if (typeof started === 'number') return started;
    const plugin = started;
    plugin.on('restart', ({ attempt, delay, previous }) => warn(`the plugin ${describeExit(previous)}; restarting it in ${delay} ms (${attempt}/${maxRestarts}).`));

    let stdoutBroken = false;
    stdout.on('error', () => {
      // The reader of our stdout is gone (`| head`): nobody wants the rest.
      stdoutBroken = true;
      void plugin.stop();
    });
    plugin.on('message', (message) => {
      if (!stdoutBroken) stdout.write(`${json ? JSON.stringify(message) : (message as string)}\n`);
    });

    let lineNumber = 0;
    const decoder = new LineDecoder(1024 * 1024, {
      line: (line) => {
        lineNumber++;
        let value: unknown = line;
        if (json) {
          try {
            value = JSON.parse(line);
          } catch (error) {
            warn(`stdin line ${lineNumber} is not JSON, skipped (${(error as Error).message}).`);
            return;
          }
        }
        plugin.send(value).catch((error: unknown) => {
          // Refused sends after the plugin is done are expected; anything else is worth a word.
          if ((error as { code?: string }).code !== 'ERR_SERVER_STOPPED') warn(`line ${lineNumber} not sent: ${(error as Error).message}`);
        });
        if (plugin.needsDrain && !stdin.isPaused()) {
          // The plugin is behind: stop reading stdin rather than queue all of it in memory.
          stdin.pause();
          plugin.once('drain', () => stdin.resume());
        }
      },
      oversize: () => warn(`a stdin line longer than 1 MiB was skipped.`),
    });
    const inputDone = (): void => {
      decoder.end();
      void plugin.end();
    };
    stdin.on('data', (chunk: Buffer) => decoder.push(chunk));
    stdin.once('end', inputDone);
    stdin.once('error', inputDone);
    context.signal.addEventListener('abort', () => void plugin.stop(), { once: true });
    if (context.signal.aborted) void plugin.stop();

    const exit = await plugin.exited;
    stdin.pause();
    if (context.signal.aborted) return 128 + signalNumber(String(context.signal.reason));
    if (stdoutBroken) return 128 + signalNumber('SIGPIPE');
    if (exit.error) {
      warn(`the plugin ${describeExit(exit)}.`);
      return 1;
    }
    if (exit.code !== 0 && restart === 'on-failure') warn(`the plugin ${describeExit(exit)}; giving up after ${exit.restarts} restarts.`);
    return exit.code ?? 128 + signalNumber(exit.signal ?? '');
  },
};
