/**
 * How long plugins outlive a host killed by SIGKILL: the time from the SIGKILL to the
 * moment the last of three plugins (bash ignoring SIGTERM with a child, Python blocked in
 * read(), C spinning with SIGTERM ignored) is gone and every plugin folder removed.
 * The bound is 1 s; the watchdog's own wait is 200 ms between SIGTERM and SIGKILL.
 *
 *   npm run build && node dist/bench/host-death.js [--runs N]
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './common/stats.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 10;
const fixture = fileURLToPath(new URL('../test/fixtures/kill-host.js', import.meta.url));

function liveMembers(pgid: number): number {
  let n = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-bench-death-'));
const busy = path.join(dir, 'busy');
fs.writeFileSync(`${busy}.c`, '#include <signal.h>\nint main(void) { volatile unsigned long n = 0; signal(SIGTERM, SIG_IGN); for (;;) n++; }\n');
spawnSync('cc', ['-o', busy, `${busy}.c`], { stdio: 'inherit' });
const times: number[] = [];
for (let run = 0; run < runs; run++) {
  const host = spawn(process.execPath, [fixture, dir, busy], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve) => host.stdout.on('data', (s: Buffer) => ((out += s), out.includes('\n') && resolve())));
  const { pids, dirs } = JSON.parse(out) as { pids: number[]; dirs: string[] };
  await new Promise((resolve) => setTimeout(resolve, 100));
  const start = process.hrtime.bigint();
  host.kill('SIGKILL');
  while (pids.some((pid) => liveMembers(pid) > 0) || dirs.some((d) => fs.existsSync(d))) await new Promise((resolve) => setTimeout(resolve, 2));
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
fs.rmSync(dir, { recursive: true, force: true });
const sorted = [...times].sort((a, b) => a - b);
console.log(`host SIGKILL -> last of 3 plugins gone and folders removed, ${runs} runs: min ${sorted[0]!.toFixed(0)} ms, median ${median(times).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`);
