/**
 * The stress suite, full size: `npm run stress` (= `npm run build && node dist/test/stress/run.js`).
 *
 *   node dist/test/stress/run.js [--quick] [--rows 1a,2,6]
 *
 * Prints progress on stderr, then the table (Markdown) on stdout, writes
 * test/stress/results/latest.json (full runs of every row only), and exits 1 if any row lost,
 * duplicated, reordered, merged or corrupted a message, or missed a bound.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type RowResult, cleanupAll, repoRoot, zeroCounts } from './common.js';
import { FULL, QUICK, allRows } from './rows.js';
import { formatTable } from './table.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--rows') ? args[args.indexOf('--rows') + 1]!.split(',') : undefined;
const sizes = quick ? QUICK : FULL;
const began = performance.now();
const progress = (text: string): void => {
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${text}\n`);
};

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanupAll();
    process.exit(130);
  });
}

const results: RowResult[] = [];
for (const { row, run } of allRows(sizes, progress)) {
  if (only && !only.includes(row)) continue;
  progress(`row ${row}: start`);
  const started = performance.now();
  let result: RowResult;
  try {
    result = await run();
  } catch (error) {
    result = {
      row,
      title: '(crashed)',
      tried: '',
      counts: zeroCounts(),
      figures: {},
      pass: false,
      notes: [`threw: ${(error as Error).stack ?? String(error)}`],
      ms: Math.round(performance.now() - started),
    };
  }
  results.push(result);
  progress(`row ${row}: ${result.pass ? 'pass' : 'FAIL'} in ${(result.ms / 1000).toFixed(1)} s${result.pass ? '' : ` — ${result.notes.slice(0, 3).join(' | ')}`}`);
}
cleanupAll();

const totalSeconds = (performance.now() - began) / 1000;
process.stdout.write(`\n${formatTable(results)}\n`);
for (const result of results) {
  for (const note of result.notes) process.stdout.write(`- row ${result.row}: ${note}\n`);
}
process.stdout.write(`\n${results.filter((r) => r.pass).length}/${results.length} rows pass, ${totalSeconds.toFixed(0)} s, ${os.cpus().length} cores, node ${process.version}\n`);

// Only full runs are recorded (the figures the README quotes); --quick and --rows runs are not.
const outDir = path.join(repoRoot, 'test/stress/results');
if (!quick && !only) fs.mkdirSync(outDir, { recursive: true });
if (!quick && !only) fs.writeFileSync(
  path.join(outDir, 'latest.json'),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      sizes,
      quick,
      node: process.version,
      cores: os.cpus().length,
      kernel: os.release(),
      seconds: Math.round(totalSeconds),
      pass: results.every((r) => r.pass),
      rows: results,
    },
    null,
    2,
  )}\n`,
);
process.exitCode = results.every((r) => r.pass) ? 0 : 1;
