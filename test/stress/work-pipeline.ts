/**
 * The three-stage `pipe-io work` pipeline at full size (100,000 lines, two workers per stage),
 * against a private redis-server: `npm run stress:work` (test/work.test.ts runs it smaller).
 *
 *   node dist/test/stress/work-pipeline.js [LINES]
 *
 * Prints the result as JSON and exits 1 if a line was lost, doubled or changed, or a worker
 * did not exit 0 after SIGTERM.
 * @module
 */
import { RedisServer } from '../helpers/redis.js';
import { runPipeline } from '../helpers/work.js';

const lines = Number(process.argv[2] ?? 100_000);
const redis = await RedisServer.start();
try {
  const result = await runPipeline(redis.url, lines, 'stress-');
  console.log(JSON.stringify({ ...result, linesPerSecond: Math.round((lines / result.ms) * 1000) }));
  process.exitCode = result.missing === 0 && result.duplicates === 0 && result.wrong === 0 && result.exitCodes.every((code) => code === 0) ? 0 : 1;
} finally {
  await redis.stop();
}
