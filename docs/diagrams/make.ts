/**
 * Writes the documentation's diagrams: `node dist/docs/diagrams/make.js` after `npm run build`.
 * Run it after changing a diagram's source, and commit the SVG files with it: the test
 * `docs-diagrams` fails while they differ.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIAGRAMS } from './index.js';

// dist/docs/diagrams/make.js: the repository is three folders up.
const root = fileURLToPath(new URL('../../../', import.meta.url));

for (const { file, draw } of DIAGRAMS) {
  const target = path.join(root, file);
  const svg = draw();
  const before = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : undefined;
  if (before === svg) {
    console.log(`${file}: unchanged`);
    continue;
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, svg);
  console.log(`${file}: ${before === undefined ? 'written' : 'updated'}`);
}
