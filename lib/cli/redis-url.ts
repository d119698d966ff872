/**
 * The `--redis URL` option every Redis command (`bridge`, `push`, `pull`, `work`, `ls`) shares.
 * Kept apart from those commands so that each loads only what it runs.
 * @module
 */
import { redisUrlProblem } from '../bridge/redis-link.js';
import { UsageError } from './command.js';

/** Where Redis is when neither `--redis` nor `$REDIS_URL` says. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The URL to use, checked here so that a bad one is a usage error (status 2) naming where it came from. */
export function redisUrl(value: string | undefined): string {
  const url = value ?? process.env['REDIS_URL'] ?? DEFAULT_REDIS_URL;
  const problem = redisUrlProblem(url);
  if (problem !== undefined) throw new UsageError(`${value !== undefined ? '--redis' : 'REDIS_URL'} ${problem}.`);
  return url;
}
