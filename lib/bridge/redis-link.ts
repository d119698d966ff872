/**
 * Connections to Redis, shared by the transport (redis.ts), its appender (redis-append.ts) and
 * its readers (redis-readers.ts): loading the client, checking URLs, tracking one connection's
 * state, and the small helpers every caller of a command needs.
 * @module
 */
import type { TransportState } from './transport.js';

/** The part of a node-redis client the transport uses. */
export interface RedisConnection {
  connect(): Promise<unknown>;
  sendCommand(args: ReadonlyArray<string | Buffer>): Promise<unknown>;
  duplicate(): RedisConnection;
  destroy(): void;
  close(): Promise<void>;
  on(event: string, listener: (arg: unknown) => void): unknown;
}

export type RedisModule = typeof import('redis');
let redisModule: Promise<RedisModule> | undefined;
// Loaded on first connect, so that importing pipe-io-server costs nothing to those who never bridge.
export const loadRedis = (): Promise<RedisModule> => (redisModule ??= import('redis'));

/** Stream IDs are `ms-seq`: compare them as two numbers, not as strings. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  if (as.length !== bs.length) return as.length - bs.length;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

export function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
}

/** The form a Redis URL must have, for messages. */
export const REDIS_URL_FORM = 'redis[s]://[user:password@]host[:port][/db]';

/**
 * What is wrong with a Redis URL, or `undefined` if it has the form node-redis accepts:
 * {@link REDIS_URL_FORM}. Checked before connecting, so that a typo is reported as such
 * instead of as `Invalid URL` from deep inside the client, or as an endless "reconnecting".
 * @param url - the URL as the user gave it
 */
export function redisUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not a URL; expected ${REDIS_URL_FORM}`;
  }
  const shown = safeUrl(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `'${shown}' has the scheme '${parsed.protocol}'; expected ${REDIS_URL_FORM}`;
  if (parsed.hostname === '') return `'${shown}' names no host; expected ${REDIS_URL_FORM}`;
  if (!/^\/?(\d+)?$/.test(parsed.pathname)) return `'${shown}' has the path '${parsed.pathname}', which is not a database number; expected ${REDIS_URL_FORM}`;
  return undefined;
}

/** Hides the password of a URL that goes into a message. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** How the transport sees one failed command. */
export type Failure = 'closed' | 'reply' | 'connection';

/** One connection and the state it reports. */
export class Link {
  state: TransportState = 'connecting';
  #everReady = false;

  constructor(
    readonly client: RedisConnection,
    onChange: (link: Link, error?: unknown) => void,
  ) {
    client.on('ready', () => {
      this.#everReady = true;
      this.state = 'ready';
      onChange(this);
    });
    client.on('error', (error) => {
      // node-redis reports every failed attempt; the state says whether it was a loss or a retry.
      if (this.state === 'closed') return;
      this.state = this.#everReady ? 'reconnecting' : 'connecting';
      onChange(this, error);
    });
    client.on('reconnecting', () => {
      if (this.state === 'closed') return;
      this.state = this.#everReady ? 'reconnecting' : 'connecting';
      onChange(this);
    });
    client.on('end', () => {
      this.state = 'closed';
      onChange(this);
    });
  }
}
