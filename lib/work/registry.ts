/**
 * Service discovery: every running worker (and bridge started by `pipe-io bridge`) keeps one
 * key in Redis, `PREFIX service:ROLE:HOST:PID:RANDOM`, holding a JSON {@link ServiceInfo},
 * written again at each heartbeat (a third of the TTL) with `SET … PX TTL`. A clean exit
 * deletes it; a killed process's key expires after the TTL. Plain keys with a TTL rather than
 * one hash: Redis expires keys, not hash fields (before 7.4), and a reader never sees a
 * half-written entry.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisTransport } from '../bridge/redis.js';

const text = (value: unknown): string => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value));

/** What a running worker or bridge says of itself in the registry. */
export interface ServiceInfo {
  /** The registry key's last part: unique per process run. */
  readonly id: string;
  /** What it is. */
  readonly role: 'worker' | 'bridge';
  /** Host name. */
  readonly host: string;
  /** Process id on that host. */
  readonly pid: number;
  /** Its name in its group (a worker's consumer name, a bridge's `--name`). */
  readonly name?: string | undefined;
  /** The consumer group, if any. */
  readonly group?: string | undefined;
  /** The topics it reads. */
  readonly from?: readonly string[] | undefined;
  /** The topics it appends to. */
  readonly to?: readonly string[] | undefined;
  /** The program it runs, as a shell would show it. */
  readonly command?: string | undefined;
  /** When it started, ISO 8601. */
  readonly started: string;
  /** When it last wrote this, ISO 8601. */
  readonly seen: string;
  /** Messages handled so far. */
  readonly handled: number;
}

/** What a worker or bridge says of itself when it registers; host, pid and times are filled in. */
export type ServiceDescription = Omit<ServiceInfo, 'id' | 'host' | 'pid' | 'started' | 'seen' | 'handled'>;

/** @internal Keeps one process's registry key alive while it runs. */
export class Registration {
  readonly #transport: RedisTransport;
  readonly #key: string;
  readonly #info: Omit<ServiceInfo, 'seen' | 'handled'>;
  readonly #ttlMs: number;
  readonly #handled: () => number;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> = Promise.resolve();

  constructor(transport: RedisTransport, description: ServiceDescription, ttlMs: number, handled: () => number) {
    this.#transport = transport;
    const id = `${description.role}:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#key = `${transport.keyPrefix}service:${id}`;
    this.#info = { ...description, id, host: hostname(), pid: process.pid, started: new Date().toISOString() };
    this.#ttlMs = ttlMs;
    this.#handled = handled;
  }

  /** Writes the key now and then every third of the TTL. */
  async start(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => {
      // A heartbeat lost to a Redis outage is only late: the next one rewrites the whole key.
      this.#beating = this.#beat().catch(() => {});
    }, Math.max(50, Math.floor(this.#ttlMs / 3))).unref();
  }

  async #beat(): Promise<void> {
    const info: ServiceInfo = { ...this.#info, seen: new Date().toISOString(), handled: this.#handled() };
    await this.#transport.command(['SET', this.#key, JSON.stringify(info), 'PX', String(this.#ttlMs)]);
  }

  /** Stops the heartbeat and deletes the key (best effort: it expires anyway). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
    await this.#transport.command(['DEL', this.#key]).catch(() => {});
  }
}

/** Every live worker and bridge registered in this Redis, oldest first. */
export async function listServices(transport: RedisTransport): Promise<ServiceInfo[]> {
  const pattern = `${transport.keyPrefix}service:*`;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const reply = (await transport.command(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'])) as [unknown, unknown[]];
    cursor = text(reply[0]);
    for (const key of reply[1]) keys.push(text(key));
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = (await transport.command(['MGET', ...keys])) as unknown[];
  const services: ServiceInfo[] = [];
  for (const value of values) {
    if (value === null || value === undefined) continue; // expired between SCAN and MGET
    try {
      services.push(JSON.parse(text(value)) as ServiceInfo);
    } catch {
      // not ours: skip
    }
  }
  return services.sort((a, b) => a.started.localeCompare(b.started));
}
