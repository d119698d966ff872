/**
 * Every relative link and image of README.md, docs/*.md, clients/README.md and bench/README.md
 * leads somewhere in a fresh clone: the file exists (and is not a build output), and a
 * `#fragment` names a heading of the target as GitHub slugs it. External links are not
 * followed: the test must pass offline. (The built site is checked by `npm run docs`.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { docFiles, repoRoot } from './helpers/doc-blocks.js';
import { type LinkInfo, linkInfo } from './helpers/doc-links.js';

/** Folders that .gitignore keeps out of a clone: a link into them is broken on GitHub. */
const BUILT = ['node_modules', 'build', 'dist', 'site'];

const infos = new Map<string, LinkInfo>();
function infoOf(file: string): LinkInfo {
  let info = infos.get(file);
  if (info === undefined) {
    info = linkInfo(fs.readFileSync(file, 'utf8'));
    infos.set(file, info);
  }
  return info;
}

describe('doc links', () => {
  it('typedoc.json puts every guide of docs/ in the site, and only guides that exist', () => {
    const config = JSON.parse(fs.readFileSync(path.join(repoRoot, 'typedoc.json'), 'utf8')) as { projectDocuments?: string[] };
    const listed = config.projectDocuments ?? [];
    const guides = fs.existsSync(path.join(repoRoot, 'docs')) ? fs.readdirSync(path.join(repoRoot, 'docs')).filter((name) => name.endsWith('.md')) : [];
    const missing = guides.map((name) => `docs/${name}`).filter((guide) => !listed.includes(guide));
    const gone = listed.filter((guide) => !fs.existsSync(path.join(repoRoot, guide)));
    const problems = [
      ...missing.map((guide) => `${guide} is not in typedoc.json's projectDocuments: add it where it belongs in the reading order`),
      ...gone.map((guide) => `typedoc.json's projectDocuments lists ${guide}, which does not exist`),
    ];
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });

  for (const file of docFiles()) {
    it(`${file}: relative links and images lead to a file, fragments to a heading`, () => {
      const full = path.resolve(repoRoot, file);
      const broken: string[] = [];
      for (const { line, target, image } of infoOf(full).links) {
        const problem = check(full, target);
        if (problem !== undefined) broken.push(`${file}:${line}: ${image ? 'image' : 'link'} ${target}: ${problem}`);
      }
      if (broken.length > 0) throw new Error(broken.join('\n'));
    });
  }
});

/** Why `target`, written in `from`, leads nowhere; undefined if it is fine or not ours to check. */
function check(from: string, target: string): string | undefined {
  if (target === '') return 'the link is empty';
  // A scheme (https:, mailto:) or a protocol-relative URL: external, not checked offline.
  if (/^[a-z][a-z\d+.-]*:/i.test(target) || target.startsWith('//')) return undefined;
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  if (pathPart.startsWith('/')) return 'write a relative link (GitHub and the docs site resolve a leading / differently)';
  const resolved = pathPart === '' ? from : path.resolve(path.dirname(from), pathPart);
  if (pathPart !== '') {
    const inRepo = path.relative(repoRoot, resolved);
    if (inRepo.startsWith('..')) return 'it leads out of the repository';
    const top = inRepo.split(path.sep)[0]!;
    if (BUILT.includes(top)) return `${top}/ is built, not in the repository: a fresh clone has no such file`;
    if (!fs.existsSync(resolved)) return `${inRepo} does not exist`;
    if (fs.statSync(resolved).isDirectory()) {
      return `${inRepo} is a folder: GitHub lists it, but the docs site has no page for it; link a file in it (its README.md, say)`;
    }
  }
  if (fragment === undefined || fragment === '' || !resolved.endsWith('.md')) return undefined;
  const anchors = infoOf(resolved).anchors;
  if (anchors.has(fragment)) return undefined;
  return `${pathPart === '' ? 'this file' : pathPart} has no heading whose anchor is #${fragment} (anchors: ${[...anchors].slice(0, 30).join(', ') || 'none'})`;
}
