/**
 * The fuzz properties (test/fuzz/properties.ts) with a fixed seed and a few hundred cases each,
 * so `npm test` stays repeatable; `npm run fuzz` runs many more with a fresh seed.
 */
import { properties } from './fuzz/properties.js';

/** Fixed: a failure in `npm test` is the same failure on every machine. */
const SEED = 20261130;

describe('fuzz (fast-check, fixed seed)', function () {
  this.timeout(120_000);
  for (const property of properties) {
    it(`${property.name} (${property.runs.test} cases)`, () => property.check({ seed: SEED, numRuns: property.runs.test }));
  }
});
