/**
 * The stress suite's rows at a small size (test/stress/rows.ts QUICK), so CI guards them. The
 * full run is `npm run stress`. Same code, same checks: real server, real client processes,
 * every message numbered and hashed so loss, duplication, reordering, merging and corruption
 * all show.
 */
import { expect } from 'chai';
import { type RowResult, cClient, cleanupAll } from './stress/common.js';
import {
  QUICK,
  rowBadBytes,
  rowBlocked,
  rowConcurrent,
  rowDeletion,
  rowInCycles,
  rowKills,
  rowMemory,
  rowOutCycles,
  rowRestarts,
  rowServerKill,
} from './stress/rows.js';

function expectPass(result: RowResult): void {
  const counts = result.counts;
  const why = [
    `lost ${counts.lost}, duplicated ${counts.duplicated}, reordered ${counts.reordered}, merged ${counts.merged}, corrupted ${counts.corrupted}`,
    ...result.notes,
    JSON.stringify(result.figures),
  ].join('\n  ');
  expect(result.pass, why).to.equal(true);
}

describe(`stress, small (npm run stress for the full size)`, function () {
  this.timeout(60_000);
  this.slow(10_000);
  before(() => {
    cClient(); // compile the C client once
  });
  after(() => cleanupAll());

  it(`1a: ${QUICK.cycles} open/write/close cycles on the in pipe (C): every line, in order`, async () => {
    expectPass(await rowInCycles(QUICK.cycles));
  });

  it(`1b: ${QUICK.cycles} open/read-one-line/close cycles on the out pipe (bash read): every line, in order`, async () => {
    expectPass(await rowOutCycles(QUICK.cycles));
  });

  it(`2: ${QUICK.kills} writers SIGKILLed among steady writers; ${QUICK.halfLines} half lines arrive alone`, async () => {
    expectPass(await rowKills(QUICK.kills, QUICK.halfLines));
  });

  it(`3: in and out pipes deleted ${QUICK.deletions} times each under traffic: nothing lost, reordered or torn`, async () => {
    expectPass(await rowDeletion(QUICK.deletions));
  });

  it(`4: ${QUICK.writers} concurrent writers x ${QUICK.lines} lines: nothing lost or interleaved`, async () => {
    expectPass(await rowConcurrent(QUICK.writers, QUICK.lines));
  });

  it(`5: stop()/start() ${QUICK.restarts} times under load: prompt stops, no fd or listener leak`, async () => {
    expectPass(await rowRestarts(QUICK.restarts));
  });

  it(`6: ${QUICK.sends} sends with slow and absent readers: peak RSS within the documented bounds`, async () => {
    expectPass(await rowMemory(QUICK.sends));
  });

  it(`7: bad bytes (invalid UTF-8, NUL, CR, a ${QUICK.hugeMiB} MiB line, ${QUICK.empties} empty lines): as documented, memory bounded`, async () => {
    expectPass(await rowBadBytes(QUICK.hugeMiB, QUICK.empties));
  });

  it(`8: server SIGKILLed ${QUICK.serverKills} times and started again: stale FIFOs taken over, clients reconnect`, async () => {
    expectPass(await rowServerKill(QUICK.serverKills));
  });

  it(`9: clients blocked in write()/read()/open() when the server stops ${QUICK.blockedStops} times: all released`, async () => {
    expectPass(await rowBlocked(QUICK.blockedStops));
  });
});
