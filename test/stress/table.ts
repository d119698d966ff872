/**
 * The results table, as Markdown (it goes into the README as it is).
 * @module
 */
import type { RowResult } from './common.js';

const cell = (text: string | number): string => String(text).replace(/\|/g, '\\|');

export function formatTable(results: readonly RowResult[]): string {
  const header = ['row', 'what was tried', 'times', 'lost', 'dup', 'reord', 'merged', 'corrupt', 'figures', 'result'];
  const rows = results.map((r) => [
    r.row,
    r.title,
    r.tried,
    r.counts.lost,
    r.counts.duplicated,
    r.counts.reordered,
    r.counts.merged,
    r.counts.corrupted,
    Object.entries(r.figures)
      .map(([key, value]) => `${key}: ${value}`)
      .join('; '),
    `${r.pass ? 'pass' : '**FAIL**'} (${(r.ms / 1000).toFixed(1)} s)`,
  ]);
  const lines = [header, header.map((_, i) => (i >= 3 && i <= 7 ? '--:' : '---')), ...rows].map((cells) => `| ${cells.map(cell).join(' | ')} |`);
  return lines.join('\n');
}
