/**
 * The command-line reference cannot drift from the program: every `<!-- doc-test: help
 * cmd="pipe-io SUB" -->` block is exactly what `pipe-io SUB --help` prints, and docs/cli.md has
 * such a block for every command `pipe-io --help` lists. `npm run docs:help` rewrites the blocks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { normalizeText, parseDoc, readDocs, repoRoot } from './helpers/doc-blocks.js';
import { helpOf, subcommands } from './helpers/doc-help.js';

const FIX = 'run `npm run docs:help` to rewrite the help blocks from the real --help output';
const CLI_DOC = 'docs/cli.md';

describe('doc help blocks', () => {
  for (const doc of readDocs()) {
    for (const block of doc.helps) {
      const cmd = block.directive!.cmd!;
      it(`${block.file}:${block.line} is the output of ${cmd} --help`, () => {
        const actual = normalizeText(block.body);
        const expected = helpOf(cmd);
        if (actual === expected) return;
        // A plain Error with expected/actual: mocha shows one diff (assert would print two).
        throw Object.assign(new Error(`${block.file}:${block.line} differs from \`${cmd} --help\` (-: the block, +: the program): ${FIX}`), {
          actual,
          expected,
          showDiff: true,
        });
      });
    }
  }

  it(`${CLI_DOC} has the --help of every command pipe-io --help lists`, () => {
    const file = path.join(repoRoot, CLI_DOC);
    if (!fs.existsSync(file)) throw new Error(`${CLI_DOC} is missing: the command-line reference must show every command's --help`);
    const documented = new Set(parseDoc(CLI_DOC, fs.readFileSync(file, 'utf8')).helps.map((block) => block.directive!.cmd));
    const missing = subcommands().filter((sub) => !documented.has(`pipe-io ${sub}`));
    if (missing.length > 0) {
      throw new Error(
        `${CLI_DOC} has no help block for: ${missing.map((sub) => `pipe-io ${sub}`).join(', ')}. ` +
          `Add, per command, <!-- doc-test: help cmd="pipe-io SUB" --> above an empty \`\`\`text block, then ${FIX}`,
      );
    }
  });
});
