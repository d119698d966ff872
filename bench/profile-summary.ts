/**
 * Summarises the CPU profiles that `node dist/bench/run.js --profile` leaves
 * in bench/results/tmp/prof/ (one per pipe-io-server child): self time per
 * function, grouped by test (in, out, echo-same, echo-cross, scale).
 *
 *   node dist/bench/profile-summary.js [DIR] [--top K]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 15;
const dir = args.find((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1)) ?? join(ROOT, 'bench/results/tmp/prof');

const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
if (files.length === 0) {
  process.stderr.write(`no .cpuprofile files in ${dir}; run: node dist/bench/run.js --profile --systems ours\n`);
  process.exit(1);
}
// ours-in-2.cpuprofile -> in; ours-echo-same-1 -> echo-same; ours-scale-3 -> scale
const groupOf = (file: string): string => basename(file, '.cpuprofile').replace(/^ours-/, '').replace(/-\d+$/, '');
const groups = new Map<string, Map<string, number>>();
const totals = new Map<string, number>();

function where(cf: CallFrame): string {
  if (!cf.url) return '';
  const path = cf.url.startsWith('file://') ? relative(ROOT, fileURLToPath(cf.url)) : cf.url;
  return `${path}:${cf.lineNumber + 1}`;
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const group = groupOf(file);
  const self = groups.get(group) ?? new Map<string, number>();
  groups.set(group, self);
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const us = profile.timeDeltas[i] ?? 0;
    const cf = node.callFrame;
    const key = `${cf.functionName || '(anonymous)'}  ${where(cf)}`.trim();
    self.set(key, (self.get(key) ?? 0) + us);
    totals.set(group, (totals.get(group) ?? 0) + us);
  }
}

for (const [group, self] of [...groups].sort()) {
  const total = totals.get(group) ?? 1;
  const idle = (self.get('(idle)') ?? 0) + (self.get('(program)') ?? 0);
  process.stdout.write(`\n== ${group}: ${(total / 1000).toFixed(0)} ms sampled, ${(((total - idle) / total) * 100).toFixed(0)}% not idle/program; top ${top} by self time\n`);
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of rows) {
    process.stdout.write(`  ${(us / 1000).toFixed(1).padStart(8)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}\n`);
  }
}
