/**
 * `pipe-io bridge`, `pipe-io push` and `pipe-io pull`: named pipes across machines, through a
 * Redis Streams topic. Three commands in one module: they share their Redis options and are
 * loaded (with the Redis client) only when one of them runs.
 * @module
 */
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PipeBridge } from '../bridge/bridge.js';
import type { BridgeError } from '../bridge/errors.js';
import { REDIS_URL_FORM, RedisTransport } from '../bridge/redis.js';
import { pull } from '../bridge/topic.js';
import type { StartPosition } from '../bridge/transport.js';
import type { PipeIOError } from '../errors.js';
import { Registration } from '../work/registry.js';
import { type PrivateFolder, makePrivateFolder } from './private-folder.js';
import { type CliCommand, type CliContext, UsageError, integerFlag, parseCommandArgs, shellQuote } from './command.js';
import { DEFAULT_REDIS_URL, redisUrl } from './redis-url.js';

const redisHelp = `  --redis URL       ${REDIS_URL_FORM}
                    (default: $REDIS_URL, else ${DEFAULT_REDIS_URL})`;

function startPosition(value: string | undefined): StartPosition | undefined {
  if (value === undefined || value === 'new' || value === 'start') return value;
  throw new UsageError(`--from must be 'new' or 'start', got '${value}'.`);
}

function say(context: CliContext, text: string): void {
  context.stderr.write(`pipe-io ${context.name}: ${text}\n`);
}

function warnTo(context: CliContext): (error: BridgeError | PipeIOError) => void {
  return (error) => say(context, `warning: ${error.message}`);
}

/** Resolves when the command should stop. */
function stopped(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

const bridgeUsage = `Usage: pipe-io bridge --topic NAME [--redis URL] [--group NAME] [--name NAME]
                     [--in PATH] [--out PATH] [--from new|start] [--claim-idle MS]

Joins a FIFO pair on this machine to a Redis Streams topic: every line local
clients write into the in pipe is appended to the topic, and every message of
the topic is written into the out pipe. Run it on each machine; the machines
share messages through Redis. It runs until SIGINT (Ctrl-C) or SIGTERM, then
removes the pipes.

Without --group every bridge gets every message (broadcast), and remembers in
Redis where it was, so a restarted bridge goes on from there. With --group the
bridges of the group share the messages (queue): each goes to one of them, and
is acknowledged once it is in the out pipe; what a dead bridge held goes to
another one after --claim-idle.

Options:
  --topic NAME      the topic (a Redis stream key)
${redisHelp}
  --group NAME      queue delivery in this group (default: broadcast)
  --name NAME       this bridge's name in the group, or of its broadcast position;
                    unique and the same across restarts
                    (default: HOSTNAME:ABSOLUTE-OUT-PATH)
  --in PATH         the FIFO local clients write to (PIPE_IO_SEND)
  --out PATH        the FIFO local clients read from (PIPE_IO_RECV)
                    Give one to bridge one way only. With neither, both are
                    made in a new private folder under ${os.tmpdir()}.
  --from new|start  a new group or name starts with new messages (default) or
                    with everything the topic holds
  --claim-idle MS   queue: take over what another bridge held this long (30000)
  -h, --help        show this help

Example (two machines, one Redis):
  hostA$ pipe-io bridge --redis redis://hub:6379 --topic chat --in /tmp/chat.in
  hostB$ pipe-io bridge --redis redis://hub:6379 --topic chat --out /tmp/chat.out
  hostA$ echo hello >/tmp/chat.in          hostB$ cat /tmp/chat.out   # hello
`;

/** `pipe-io bridge`. */
export const command: CliCommand = {
  usage: bridgeUsage,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, {
      redis: { type: 'string' },
      topic: { type: 'string' },
      group: { type: 'string' },
      name: { type: 'string' },
      in: { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      'claim-idle': { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'.`);
    if (values.topic === undefined || values.topic === '') throw new UsageError('--topic NAME is required.');
    const from = startPosition(values.from);
    const claimIdleMs = integerFlag('claim-idle', values['claim-idle'], 30_000, 1);
    const redis = redisUrl(values.redis);
    let folder: PrivateFolder | undefined;
    let inPath = values.in;
    let outPath = values.out;
    if (inPath === undefined && outPath === undefined) {
      folder = makePrivateFolder('pipe-io-bridge-');
      inPath = path.join(folder.path, 'in');
      outPath = path.join(folder.path, 'out');
    }
    inPath = inPath === undefined ? undefined : path.resolve(inPath);
    outPath = outPath === undefined ? undefined : path.resolve(outPath);
    const bridge = new PipeBridge({
      topic: values.topic,
      redis,
      group: values.group,
      name: values.name,
      inPipe: inPath,
      outPipe: outPath,
      from,
      claimIdleMs,
    });
    bridge.on('warning', warnTo(context));
    bridge.on('state', (state) => say(context, `redis ${state}`));
    // Its own connection for the registry (pipe-io ls): the bridge's transport is its own business.
    const registry = new RedisTransport({ url: redis });
    let registration: Registration | undefined;
    try {
      await Promise.race([bridge.start(), stopped(context.signal)]);
      if (!context.signal.aborted) {
        const lines = [];
        if (inPath !== undefined) lines.push(`in:  ${inPath}`);
        if (outPath !== undefined) lines.push(`out: ${outPath}`);
        const env = [inPath && `PIPE_IO_SEND=${shellQuote(inPath)}`, outPath && `PIPE_IO_RECV=${shellQuote(outPath)}`].filter(Boolean).join(' ');
        lines.push(`export ${env}`);
        lines.push(`${bridge.mode} on topic '${bridge.topic}'${bridge.name === undefined ? '' : ` as '${bridge.name}'`}`);
        context.stdout.write(lines.join('\n') + '\n');
        registration = new Registration(
          registry,
          {
            role: 'bridge',
            name: bridge.name,
            group: values.group,
            from: outPath === undefined ? [] : [bridge.topic],
            to: inPath === undefined ? [] : [bridge.topic],
            command: `fifo ${[inPath, outPath].filter(Boolean).join(' ')}`,
          },
          10_000,
          () => bridge.stats.appended + bridge.stats.delivered,
        );
        await registration.start().catch((error: unknown) => say(context, `warning: cannot register in Redis (${String(error)}).`));
        await stopped(context.signal);
      }
    } finally {
      await registration?.stop();
      await registry.close();
      await bridge.stop();
      folder?.remove();
    }
    return 0;
  },
};

const pushUsage = `Usage: pipe-io push [--redis URL] TOPIC [MESSAGE...]

Appends each MESSAGE to the topic, in order. With no MESSAGE, appends every
line read from stdin (lines that arrive together go in one round trip).

Options:
${redisHelp}
  -h, --help        show this help

Example:
  pipe-io push --redis redis://hub:6379 chat 'hello from here'
  seq 1000 | pipe-io push chat
`;

/** `pipe-io push`. */
export const pushCommand: CliCommand = {
  usage: pushUsage,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, { redis: { type: 'string' } });
    const [topic, ...messages] = positionals;
    if (topic === undefined || topic === '') throw new UsageError('TOPIC is required.');
    for (const message of messages) if (message.includes('\n')) throw new UsageError('a MESSAGE must be one line.');
    const transport = new RedisTransport({ url: redisUrl(values.redis) });
    transport.on('warning', warnTo(context));
    try {
      if (messages.length > 0) {
        await transport.append(topic, messages);
        return 0;
      }
      let batch: string[] = [];
      let scheduled = false;
      let appended: Promise<void> = Promise.resolve();
      const flush = (): void => {
        scheduled = false;
        if (batch.length === 0) return;
        const lines = batch;
        batch = [];
        appended = appended.then(() => transport.append(topic, lines));
      };
      // Lines that arrived in one chunk share an append (flushed on the next turn of the event loop).
      for await (const line of createInterface({ input: context.stdin, crlfDelay: Infinity })) {
        batch.push(line);
        if (batch.length >= 1000) {
          // At most two batches in hand: a slow Redis slows the reading of stdin.
          await appended;
          flush();
        } else if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
        if (context.signal.aborted) break;
      }
      flush();
      await appended;
      return 0;
    } finally {
      await transport.close();
    }
  },
};

const pullUsage = `Usage: pipe-io pull [--redis URL] [--group NAME] [--name NAME] [--from new|start] TOPIC

Prints the messages of the topic as they arrive, one per line, until SIGINT
(Ctrl-C) or SIGTERM. Without --group every puller gets every message; with
--group the pullers of the group share them.

Options:
${redisHelp}
  --group NAME      queue delivery in this group (default: broadcast)
  --name NAME       consumer name in the group, or name under which a broadcast
                    position is kept (then a new pull goes on where it stopped)
  --from new|start  a new group or name starts with new messages (default) or
                    with everything the topic holds
  -h, --help        show this help

Example:
  pipe-io pull --redis redis://hub:6379 chat
`;

/** `pipe-io pull`. */
export const pullCommand: CliCommand = {
  usage: pullUsage,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, {
      redis: { type: 'string' },
      group: { type: 'string' },
      name: { type: 'string' },
      from: { type: 'string' },
    });
    const [topic, extra] = positionals;
    if (topic === undefined || topic === '') throw new UsageError('TOPIC is required.');
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'.`);
    const stdout = context.stdout;
    const messages = pull(topic, {
      redis: redisUrl(values.redis),
      group: values.group,
      name: values.name,
      from: startPosition(values.from),
      signal: context.signal,
      onWarning: warnTo(context),
    });
    for await (const message of messages) {
      // A slow reader of our stdout slows the pull, instead of growing our buffer.
      if (!stdout.write(message + '\n')) await once(stdout, 'drain');
    }
    return 0;
  },
};
