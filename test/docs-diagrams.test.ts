/**
 * The diagrams in docs/images are drawn by docs/diagrams: a committed SVG that differs from what
 * its source draws now is a picture that drifted from its source. And each must be an SVG that
 * GitHub shows (it serves SVGs through `<img>`, where scripts, foreignObject and fetched fonts
 * are dropped or refused), so it is parsed by a real XML parser: Python's, which the suite
 * needs anyway.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { DIAGRAMS } from '../docs/diagrams/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const remake = 'npm run build && node dist/docs/diagrams/make.js';

/** Every element of the file: its tag without the namespace, and its attributes. */
interface Element {
  tag: string;
  attributes: Record<string, string>;
}

const PARSE = `
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(json.dumps([{"tag": e.tag, "attributes": e.attrib} for e in root.iter()]))
`;

function parse(file: string): Element[] {
  const result = spawnSync('python3', ['-c', PARSE, file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${path.relative(root, file)} is not well-formed XML:\n${result.stderr}`);
  return (JSON.parse(result.stdout) as Element[]).map((e) => ({ ...e, tag: e.tag.replace(/^\{[^}]*\}/, '') }));
}

describe('docs diagrams', function () {
  for (const { file, draw } of DIAGRAMS) {
    describe(file, function () {
      const target = path.join(root, file);

      it('is what docs/diagrams draws now', function () {
        expect(fs.existsSync(target), `${file} is missing: run \`${remake}\` and commit it`).to.equal(true);
        const committed = fs.readFileSync(target, 'utf8');
        expect(committed === draw(), `${file} differs from what its source in docs/diagrams draws: run \`${remake}\` and commit both`).to.equal(true);
      });

      it('draws the same twice (no clock, no randomness)', function () {
        expect(draw()).to.equal(draw());
      });

      it('is well-formed SVG that GitHub shows as it is', function () {
        const elements = parse(target);
        const svg = elements[0]!;
        expect(svg.tag).to.equal('svg');
        expect(svg.attributes).to.include.keys('width', 'height', 'viewBox');
        const tags = new Set(elements.map((e) => e.tag));
        for (const banned of ['script', 'foreignObject', 'image', 'style', 'a']) {
          expect(tags.has(banned), `<${banned}> in ${file}`).to.equal(false);
        }
        for (const { tag, attributes } of elements) {
          for (const [name, value] of Object.entries(attributes)) {
            expect(/^on/i.test(name), `event handler ${name} on <${tag}>`).to.equal(false);
            expect(/href$/i.test(name), `link ${name}="${value}" on <${tag}>`).to.equal(false);
            expect(/url\((?!#)/.test(value), `external url() in ${name} on <${tag}>`).to.equal(false);
          }
        }
        // A white background first, so GitHub's dark mode does not put dark text on a dark page.
        const background = elements.find((e) => e.tag === 'rect');
        expect(background?.attributes).to.deep.include({ width: '100%', height: '100%', fill: '#ffffff' });
      });
    });
  }
});
