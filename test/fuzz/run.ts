/**
 * `npm run fuzz`: every property of properties.ts with many cases and a fresh seed, printing
 * what ran. A failure prints fast-check's report: the seed and path to replay it, and the
 * counterexample shrunk to its smallest form.
 *
 *   npm run fuzz                      all properties, their full number of cases
 *   npm run fuzz -- --seed N          replay with seed N
 *   npm run fuzz -- --runs N          N cases per property
 *   npm run fuzz -- --only TEXT       the properties whose name contains TEXT
 */
import { parseArgs } from 'node:util';
import { properties } from './properties.js';

const { values } = parseArgs({
  options: { seed: { type: 'string' }, runs: { type: 'string' }, only: { type: 'string' } },
});
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const chosen = properties.filter((p) => values.only === undefined || p.name.includes(values.only));
console.log(`fuzz: ${chosen.length} properties, seed ${seed}`);
let failed = 0;
for (const property of chosen) {
  const numRuns = values.runs === undefined ? property.runs.fuzz : Number(values.runs);
  const started = Date.now();
  process.stdout.write(`- ${property.name}: ${numRuns} cases … `);
  try {
    await property.check({ seed, numRuns });
    console.log(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    failed++;
    console.log('FAILED');
    console.log((error as Error).message);
    // fast-check keeps what the property threw as the cause: the assertion that failed.
    const cause = (error as Error).cause;
    if (cause !== undefined) console.log(`Failure: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
console.log(failed === 0 ? 'fuzz: all passed' : `fuzz: ${failed} failed (replay: npm run fuzz -- --seed ${seed})`);
process.exit(failed === 0 ? 0 : 1);
