/**
 * `pipe-io ls`: what runs on a Redis: topics with their groups, and the live workers and bridges.
 * @module
 */
import { REDIS_URL_FORM, RedisTransport } from '../bridge/redis.js';
import { type ServiceInfo, listServices } from '../work/registry.js';
import { type CliCommand, UsageError, parseCommandArgs } from './command.js';
import { DEFAULT_REDIS_URL, redisUrl } from './redis-url.js';

const usage = `Usage: pipe-io ls [--redis URL] [--json]

Lists the topics (streams) of a Redis with their length and consumer groups
(pending entries, lag, consumers), and the workers and bridges running on it:
each registers itself while it runs and refreshes that every few seconds, so
a killed one disappears after its TTL (pipe-io work --ttl, default 10 s).
A group member that holds pending entries and is not running any more is
shown as dead: its entries go to a live member after its claim timeout.

Options:
  --redis URL   ${REDIS_URL_FORM}
                (default: $REDIS_URL, else ${DEFAULT_REDIS_URL})
  --json        one JSON object { topics, services } for scripts
  -h, --help    show this help
`;

/** One member of a consumer group, as `pipe-io ls --json` shows it. */
export interface LsConsumer {
  readonly name: string;
  readonly pending: number;
  readonly idleMs: number;
  /** A registered worker or bridge runs under this name. */
  readonly live: boolean;
}

/** One consumer group. */
export interface LsGroup {
  readonly name: string;
  readonly pending: number;
  /** Entries not yet read by the group (`null` when Redis cannot tell). */
  readonly lag: number | null;
  readonly consumers: readonly LsConsumer[];
}

/** One topic. */
export interface LsTopic {
  readonly name: string;
  readonly length: number;
  readonly groups: readonly LsGroup[];
}

const text = (value: unknown): string => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value));

/** RESP2 flat `[key, value, …]` as an object. */
function fields(raw: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) out[text(raw[i])] = raw[i + 1];
  return out;
}

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(text(value)));

async function topicsOf(transport: RedisTransport, services: readonly ServiceInfo[]): Promise<LsTopic[]> {
  const names = new Set<string>();
  let cursor = '0';
  do {
    const reply = (await transport.command(['SCAN', cursor, 'TYPE', 'stream', 'COUNT', '1000'])) as [unknown, unknown[]];
    cursor = text(reply[0]);
    for (const key of reply[1]) names.add(text(key));
  } while (cursor !== '0');
  for (const service of services) for (const topic of [...(service.from ?? []), ...(service.to ?? [])]) names.add(topic);
  const live = new Set(services.map((service) => `${service.group ?? ''}\u0000${service.name ?? ''}`));
  const topics: LsTopic[] = [];
  for (const name of [...names].sort()) {
    const length = Number(await transport.command(['XLEN', name]));
    const groups: LsGroup[] = [];
    const rawGroups = (await transport.command(['XINFO', 'GROUPS', name]).catch(() => [])) as unknown[];
    for (const rawGroup of rawGroups) {
      const group = fields(rawGroup);
      const groupName = text(group['name']);
      const rawConsumers = (await transport.command(['XINFO', 'CONSUMERS', name, groupName]).catch(() => [])) as unknown[];
      const consumers = rawConsumers.map((raw) => {
        const consumer = fields(raw);
        const consumerName = text(consumer['name']);
        return { name: consumerName, pending: num(consumer['pending']) ?? 0, idleMs: num(consumer['idle']) ?? 0, live: live.has(`${groupName}\u0000${consumerName}`) };
      });
      groups.push({ name: groupName, pending: num(group['pending']) ?? 0, lag: num(group['lag']), consumers });
    }
    topics.push({ name, length, groups });
  }
  return topics;
}

/** Columns padded to their widest cell. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `pipe-io ls`. */
export const command: CliCommand = {
  usage,
  async run(args, context) {
    const { values, positionals } = parseCommandArgs(args, { redis: { type: 'string' }, json: { type: 'boolean' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'.`);
    const url = redisUrl(values.redis);
    const transport = new RedisTransport({ url, connectTimeoutMs: 5000 });
    try {
      const services = await listServices(transport);
      const topics = await topicsOf(transport, services);
      if (values.json) {
        context.stdout.write(`${JSON.stringify({ topics, services })}\n`);
        return 0;
      }
      const topicRows = [['TOPIC', 'LENGTH', 'GROUP', 'PENDING', 'LAG', 'CONSUMERS']];
      for (const topic of topics) {
        if (topic.groups.length === 0) topicRows.push([topic.name, String(topic.length), '-', '-', '-', '-']);
        for (const group of topic.groups) {
          const members = group.consumers.map((each) => `${each.name}${each.live ? '' : each.pending > 0 ? ` (dead, ${each.pending} pending)` : ' (gone)'}`);
          topicRows.push([topic.name, String(topic.length), group.name, String(group.pending), group.lag === null ? '?' : String(group.lag), members.join(', ') || '-']);
        }
      }
      const serviceRows = [['ROLE', 'HOST', 'PID', 'NAME', 'GROUP', 'FROM', 'TO', 'HANDLED', 'STARTED', 'COMMAND']];
      for (const service of services) {
        serviceRows.push([
          service.role,
          service.host,
          String(service.pid),
          service.name ?? '-',
          service.group ?? '-',
          (service.from ?? []).join(',') || '-',
          (service.to ?? []).join(',') || '-',
          String(service.handled),
          service.started,
          service.command ?? '-',
        ]);
      }
      context.stdout.write(table(topicRows) + '\n' + table(serviceRows));
      return 0;
    } finally {
      await transport.close();
    }
  },
};
