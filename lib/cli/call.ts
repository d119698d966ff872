/**
 * `pipe-io call`: call one JSON-RPC method of a plugin from the shell.
 * @module
 */
import { RpcError, RpcErrorCodes } from '../rpc/errors.js';
import { RpcPeer } from '../rpc/peer.js';
import type { RpcParams } from '../rpc/protocol.js';
import { type CliCommand, UsageError, integerFlag, parseCommandArgs } from './command.js';
import { describeExit, signalNumber, startPlugin, warner } from './plugin-process.js';

const usage = `Usage: pipe-io call [OPTIONS] METHOD [PARAMS_JSON] -- COMMAND [ARGS...]

Starts COMMAND as a plugin (as pipe-io run does), calls METHOD on it with
JSON-RPC 2.0 (one message per line over its FIFO pair), prints the result as
one line of JSON on stdout, then closes the plugin's input and waits for it
to exit (SIGTERM after the grace period). PARAMS_JSON, if given, is a JSON
array (params by position) or object (params by name). The plugin's own
stdout and stderr go to stderr. Requests the plugin sends back are answered
with "Method not found".

Options:
  --timeout MS   give up after MS milliseconds (default 30000; 0: wait for ever)
  --notify       send a notification instead: no reply, nothing printed
  --grace MS     milliseconds between closing the plugin's input and SIGTERM,
                 and between SIGTERM and SIGKILL (default 2000)
  -h, --help     show this help

Exit status: 0 with the result on stdout; 1 if the plugin answered with an
error (printed on stderr as CODE MESSAGE, then its data as JSON) or exited
before answering; 124 on timeout; 127 if COMMAND was not found, 126 if it
could not be executed; 2 for bad usage; 128+N if stopped by signal N.

Example:
  pipe-io call add '[2, 3]' -- python3 clients/python/example_rpc_plugin.py
`;

/** See {@link usage}. */
export const command: CliCommand = {
  usage,
  async run(args, context) {
    const split = args.indexOf('--');
    if (split === -1) throw new UsageError('put -- before the plugin command: pipe-io call METHOD [PARAMS_JSON] -- COMMAND [ARGS...]');
    const { values, positionals } = parseCommandArgs(args.slice(0, split), {
      timeout: { type: 'string' },
      notify: { type: 'boolean' },
      grace: { type: 'string' },
    });
    const [program, ...programArgs] = args.slice(split + 1);
    const [method, paramsText, ...extra] = positionals;
    if (method === undefined) throw new UsageError('no METHOD to call.');
    if (program === undefined) throw new UsageError('no plugin COMMAND after --.');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}' before --: METHOD takes one PARAMS_JSON at most.`);
    let params: RpcParams | undefined;
    if (paramsText !== undefined) {
      try {
        params = JSON.parse(paramsText) as RpcParams;
      } catch (error) {
        throw new UsageError(`PARAMS_JSON is not JSON: ${(error as Error).message}`);
      }
      if (typeof params !== 'object' || params === null) throw new UsageError('PARAMS_JSON must be a JSON array or object (JSON-RPC has no other params).');
    }
    const timeout = integerFlag('timeout', values.timeout, 30_000);
    const grace = integerFlag('grace', values.grace, 2000);
    const { stdout, stderr } = context;
    const warn = warner(context);

    const started = await startPlugin<string>(program, programArgs, { gracePeriod: grace }, context);
    if (typeof started === 'number') return started;
    const plugin = started;
    const rpc = new RpcPeer(plugin);
    rpc.on('warning', (warning) => warn(`warning: ${warning.message}`));
    const stopped = new AbortController();
    context.signal.addEventListener('abort', () => stopped.abort(context.signal.reason), { once: true });

    let status: number;
    try {
      if (values.notify) await rpc.notify(method, params);
      else {
        const result = await rpc.request(method, params, { timeout, signal: stopped.signal });
        stdout.write(`${JSON.stringify(result)}\n`);
      }
      status = 0;
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      if (error.code === RpcErrorCodes.RequestTimeout) {
        warn(`no reply to '${method}' within ${timeout} ms.`);
        status = 124;
      } else if (error.code === RpcErrorCodes.RequestCancelled && context.signal.aborted) {
        status = 128 + signalNumber(String(context.signal.reason));
      } else if (error.code === RpcErrorCodes.PeerExited || error.code === RpcErrorCodes.ConnectionClosed) {
        warn(`the plugin ${describeExit(await plugin.exited)} before answering '${method}'.`);
        status = 1;
      } else {
        stderr.write(`${error.code} ${error.message}\n`);
        if (error.data !== undefined) stderr.write(`${JSON.stringify(error.data)}\n`);
        status = 1;
      }
    }
    // Let the plugin finish on its own first: end of stream on its input is its cue to exit.
    await rpc.close();
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      plugin.end().then(() => plugin.exited.then(() => true)),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), grace))),
    ]);
    clearTimeout(timer);
    if (!ended) await plugin.stop();
    return status;
  },
};
