/**
 * The real `--help` output of the `pipe-io` commands, which the `help` blocks of the docs must
 * show exactly (docs-help.test.ts checks; doc-help-sync.ts rewrites them).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { normalizeText, repoRoot } from './doc-blocks.js';

const MAIN = path.join(repoRoot, 'dist/lib/cli/main.js');

/** `pipe-io [SUB] --help`, as printed (trailing whitespace trimmed); `cmd` is "pipe-io" or "pipe-io SUB". */
export function helpOf(cmd: string): string {
  const args = cmd.split(' ').slice(1);
  const result = spawnSync(process.execPath, [MAIN, ...args, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
  if (result.status !== 0) {
    throw new Error(`${cmd} --help exited with ${result.status ?? result.signal}: ${result.stderr.trim()} (is dist/ built? npm run build)`);
  }
  return normalizeText(result.stdout);
}

/** The subcommands `pipe-io --help` lists under "Commands:". */
export function subcommands(): string[] {
  const help = helpOf('pipe-io');
  const section = /^Commands:\n((?:[ \t]+\S.*\n?)+)/m.exec(help);
  if (section === null) throw new Error('pipe-io --help has no "Commands:" section to read the subcommands from');
  return section[1]!
    .split('\n')
    .map((line) => /^\s+([a-z][\w-]*)\s/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}
