/**
 * `npm run docs:help`: rewrites every `<!-- doc-test: help cmd="..." -->` block of the docs, in
 * place, with the real `--help` output of its command, so a changed option reaches the
 * command-line reference without copying by hand. Prints what it changed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { docFiles, parseDoc, repoRoot } from './doc-blocks.js';
import { helpOf } from './doc-help.js';

let changed = 0;
for (const file of docFiles()) {
  const full = path.resolve(repoRoot, file);
  const text = fs.readFileSync(full, 'utf8');
  const doc = parseDoc(file, text);
  if (doc.helps.length === 0) continue;
  const lines = text.split('\n');
  const before = changed;
  // From the last block up, so the line numbers of the blocks above stay right.
  for (const block of [...doc.helps].reverse()) {
    const [first, end] = block.contentLines;
    const help = helpOf(block.directive!.cmd!)
      .split('\n')
      .map((line) => (line === '' ? '' : block.indent + line));
    if (lines.slice(first, end).join('\n') === help.join('\n')) continue;
    lines.splice(first, end - first, ...help);
    changed++;
    console.log(`${file}:${block.line}: ${block.directive!.cmd} --help rewritten`);
  }
  if (changed > before) fs.writeFileSync(full, lines.join('\n'));
}
console.log(changed === 0 ? 'every help block already matches its --help' : `${changed} help block(s) rewritten`);
