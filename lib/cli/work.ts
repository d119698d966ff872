/**
 * `pipe-io work`: any stdin/stdout program (or JSON-RPC plugin) as a worker on a topic.
 * @module
 */
import { REDIS_URL_FORM } from '../bridge/redis.js';
import type { PluginExit } from '../plugin/types.js';
import type { WorkerCodec } from '../work/types.js';
import { Worker } from '../work/worker.js';
import { type CliCommand, UsageError, integerFlag, parseCommandArgs } from './command.js';
import { cannotRun, describeExit, signalNumber, warner } from './plugin-process.js';
import { DEFAULT_REDIS_URL, redisUrl } from './redis-url.js';

const usage = `Usage: pipe-io work --from TOPIC --group NAME [--to TOPIC] [OPTIONS] -- COMMAND [ARGS...]

Runs COMMAND as one worker of a pipeline stage: reads the --from topic as a
member of --group (each message goes to one worker of the group, on any
machine), hands each message to COMMAND and appends what it outputs to the
--to topic. Without --to it is a sink: the output is printed on stdout.
It runs until SIGINT or SIGTERM, then finishes what is in flight and exits 0.

Two ways to talk to COMMAND:
  stdio (default)   messages are lines on its stdin; its stdout lines are the
                    output (any filter: tr, grep, awk, jq -c). C programs are run
                    under 'stdbuf -oL' so that printf output comes line by line.
                    Delivery: a message is acknowledged once written to COMMAND's
                    stdin; what COMMAND holds when it or the worker dies is lost
                    (up to ~208 KiB each way: its stdin and stdout are sockets).
  --one-to-one      stdio, for COMMANDs that write exactly one line per line read
                    (tr, sed, cut, awk '{...}'): a message is acknowledged only
                    once its answer is appended, and a killed COMMAND's unanswered
                    lines go to its next instance: at least once, like --reply.
  --reply           COMMAND is a JSON-RPC plugin (pipe-io run/call, the Python,
                    bash and C rpc clients): each message is one request
                    METHOD({"message": M, "meta": {...}}); its result is the one
                    output (null: none). Delivery: at least once; a message is
                    acknowledged only after its output is appended; a killed
                    COMMAND gets its requests again; a killed worker's messages go
                    to another worker after --claim-idle.

Options:
  --redis URL         ${REDIS_URL_FORM}
                      (default: $REDIS_URL, else ${DEFAULT_REDIS_URL})
  --from TOPIC        the topic read
  --group NAME        the consumer group sharing it
  --to TOPIC          the topic the output goes to (default: stdout)
  --name NAME         this worker's name in the group; the same across restarts
                      gets its unfinished messages back (default: HOST:PID)
  --start new|start   a new group starts with new messages (default) or with
                      everything the topic holds
  --reply             reply mode (see above)
  --method NAME       reply mode: the method requested (default: process)
  --codec C           text (default), json or yaml: with json or yaml, bad
                      entries and bad output lines are reported and skipped;
                      topics carry JSON, a yaml COMMAND reads and writes YAML
                      flow lines, so JSON and YAML stages share a pipeline
  --meta [KEY]        json/yaml: add {host, pid, worker, from, id, time} to each
                      output object under KEY (default __pipe_io). stdio COMMANDs
                      also get PIPE_IO_WORKER, PIPE_IO_HOST, PIPE_IO_GROUP,
                      PIPE_IO_FROM and PIPE_IO_TO in their environment
  --max-in-flight N   messages inside the worker at most (default 256): a slow
                      COMMAND makes the --from stream grow, not the worker
  --max-len N         trim --to to about N entries (XADD MAXLEN ~ N): the
                      oldest entries are deleted, read or not; a reader that
                      had not got them reports them lost
  --claim-idle MS     take over what a dead worker held this long (30000)
  --restart POLICY    never (default) or on-failure, with backoff
  --max-restarts N    failures in a row before giving up (default 5)
  --grace MS          time to finish at SIGTERM before SIGKILL (default 5000)
  --ttl MS            registry entry lifetime (pipe-io ls) without heartbeat
                      (default 10000)
  -h, --help          show this help

Exit status: 0 after SIGINT/SIGTERM or when COMMAND ends with 0; COMMAND's
status (128+N for signal N) when it fails for good; 127/126 if it cannot be
run; 2 for bad usage.

Example (two stages, any number of machines):
  pipe-io work --redis redis://hub:6379 --from raw --to upper --group up -- tr a-z A-Z
  pipe-io work --redis redis://hub:6379 --from upper --group show -- grep -v '^#'
`;

/** `--meta` takes an optional KEY: parseArgs cannot, so it is taken out first. */
function takeMeta(args: string[]): { args: string[]; meta: string | undefined } {
  const rest: string[] = [];
  let meta: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      rest.push(...args.slice(i));
      break;
    }
    if (arg === '--meta') {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('-')) {
        meta = next;
        i++;
      } else meta = '__pipe_io';
    } else if (arg.startsWith('--meta=')) meta = arg.slice('--meta='.length);
    else rest.push(arg);
  }
  return { args: rest, meta };
}

/** `pipe-io work`. */
export const command: CliCommand = {
  usage,
  async run(rawArgs, context) {
    const { args, meta } = takeMeta(rawArgs);
    const { values, positionals } = parseCommandArgs(args, {
      redis: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      group: { type: 'string' },
      name: { type: 'string' },
      start: { type: 'string' },
      reply: { type: 'boolean' },
      'one-to-one': { type: 'boolean' },
      method: { type: 'string' },
      codec: { type: 'string' },
      'max-in-flight': { type: 'string' },
      'max-len': { type: 'string' },
      'claim-idle': { type: 'string' },
      restart: { type: 'string' },
      'max-restarts': { type: 'string' },
      grace: { type: 'string' },
      ttl: { type: 'string' },
    });
    const [program, ...programArgs] = positionals;
    if (program === undefined) throw new UsageError('no command to run: pipe-io work --from TOPIC --group NAME [--to TOPIC] -- COMMAND [ARGS...]');
    if (!values.from) throw new UsageError('--from TOPIC is required.');
    if (!values.group) throw new UsageError('--group NAME is required.');
    const url = redisUrl(values.redis);
    const codec = (values.codec ?? 'text') as WorkerCodec;
    if (!['text', 'json', 'yaml'].includes(codec)) throw new UsageError(`--codec must be text, json or yaml, got '${codec}'.`);
    if (meta !== undefined && codec === 'text') throw new UsageError('--meta needs --codec json or yaml: a text line has nowhere to carry it.');
    const start = values.start;
    if (start !== undefined && start !== 'new' && start !== 'start') throw new UsageError(`--start must be 'new' or 'start', got '${start}'.`);
    if (values.reply && values['one-to-one']) throw new UsageError('--one-to-one is for stdio programs; a --reply program answers each request by its id already.');
    const restart = values.restart ?? 'never';
    if (restart !== 'never' && restart !== 'on-failure') throw new UsageError(`--restart must be 'never' or 'on-failure', got '${restart}'.`);
    const maxLen = values['max-len'] === undefined ? undefined : integerFlag('max-len', values['max-len'], 0, 1);
    const { stdout } = context;
    const say = warner(context);

    const worker = new Worker({
      redis: url,
      from: values.from,
      to: values.to,
      group: values.group,
      name: values.name,
      command: program,
      args: programArgs,
      mode: values.reply ? 'reply' : 'stdio',
      oneToOne: values['one-to-one'] === true,
      method: values.method,
      codec,
      meta,
      start,
      restart,
      maxRestarts: integerFlag('max-restarts', values['max-restarts'], 5),
      gracePeriod: integerFlag('grace', values.grace, 5000),
      maxInFlight: integerFlag('max-in-flight', values['max-in-flight'], 256, 1),
      claimIdleMs: integerFlag('claim-idle', values['claim-idle'], 30_000, 1),
      maxLen,
      registryTtlMs: integerFlag('ttl', values.ttl, 10_000, 100),
    });
    worker.on('warning', (error) => say(`warning: ${error.message}`));
    worker.on('restart', ({ attempt, delay, previous }) => say(`the program ${describeExit(previous)}; restarting it in ${delay} ms (${attempt}).`));
    worker.on('output', (line) => void stdout.write(`${line}\n`));
    try {
      await worker.start();
    } catch (error) {
      return cannotRun(error, program, say);
    }
    say(`${worker.name}: ${values.from} -> ${values.to ?? 'stdout'} in group '${values.group}' (${worker.mode})`);
    const stoppedBySignal = new Promise<'signal'>((resolve) => {
      if (context.signal.aborted) resolve('signal');
      else context.signal.addEventListener('abort', () => resolve('signal'), { once: true });
    });
    const ended = new Promise<PluginExit>((resolve) => worker.once('stopped', resolve));
    const first = await Promise.race([stoppedBySignal, ended]);
    if (first === 'signal') {
      await worker.stop();
      return 0;
    }
    const exit = first;
    if (exit.code === 0) return 0;
    say(`the program ${describeExit(exit)}${restart === 'on-failure' ? `; giving up after ${exit.restarts} restarts` : ''}.`);
    return exit.code ?? 128 + signalNumber(exit.signal ?? '');
  },
};
