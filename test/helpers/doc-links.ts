/**
 * The relative links and images of a Markdown file, and the anchors its headings get on GitHub
 * (github-slugger is the slug code GitHub's own rendering is matched against), for the link check
 * of the docs.
 */
import GithubSlugger from 'github-slugger';
import type Token from 'markdown-it/lib/token.mjs';
import { markdown } from './doc-blocks.js';

/** One link or image target, where it is written. */
export interface Link {
  line: number;
  target: string;
  image: boolean;
}

/** What the link check needs of one file. */
export interface LinkInfo {
  links: Link[];
  /** `#fragment`s that lead somewhere in this file: heading slugs, and `id`/`name` attributes of HTML. */
  anchors: Set<string>;
}

const HTML_TARGET = /\b(src|href)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;
const HTML_ANCHOR = /\b(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;

export function linkInfo(text: string): LinkInfo {
  const info: LinkInfo = { links: [], anchors: new Set() };
  const slugger = new GithubSlugger();
  const tokens = markdown.parse(text, {});
  const fromHtml = (html: string, line: number): void => {
    for (const match of html.matchAll(HTML_TARGET)) {
      info.links.push({ line, target: match[2] ?? match[3] ?? '', image: match[1]!.toLowerCase() === 'src' });
    }
    for (const match of html.matchAll(HTML_ANCHOR)) info.anchors.add(match[1] ?? match[2] ?? '');
  };
  // Some tokens (a table cell's text) have no map: they are on the line of the last one that had.
  let line = 1;
  tokens.forEach((token, index) => {
    if (token.map) line = token.map[0] + 1;
    if (token.type === 'html_block') fromHtml(token.content, line);
    if (token.type === 'heading_open') info.anchors.add(slugger.slug(plainText(tokens[index + 1]!)));
    if (token.type !== 'inline') return;
    let lineOffset = 0;
    for (const child of token.children ?? []) {
      // Inline children carry no line of their own: count the breaks to place each link.
      if (child.type === 'softbreak' || child.type === 'hardbreak') lineOffset++;
      if (child.type === 'link_open') info.links.push({ line: line + lineOffset, target: child.attrGet('href') ?? '', image: false });
      if (child.type === 'image') info.links.push({ line: line + lineOffset, target: child.attrGet('src') ?? '', image: true });
      if (child.type === 'html_inline') fromHtml(child.content, line + lineOffset);
    }
  });
  return info;
}

/** A heading's text as GitHub slugs it: the text of its parts, without the markup. */
function plainText(inline: Token): string {
  return (inline.children ?? [])
    .filter((child) => child.type === 'text' || child.type === 'code_inline')
    .map((child) => child.content)
    .join('');
}
