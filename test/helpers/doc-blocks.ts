/**
 * The doc-test directives of README.md and the guides (the contract is in the doc test's
 * header): finds every fenced block and the `<!-- doc-test: ... -->` comment above it, and says,
 * with file:line and what to write, where the two do not fit together.
 *
 * markdown-it (the parser typedoc renders the site with) finds the fences, so a fence inside a
 * list, a `~~~` fence or a longer fence is read exactly as the site and GitHub read it.
 */
import fs from 'node:fs';
import path from 'node:path';
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import { repoRoot } from './fixtures.js';

/** The checkout (from fixtures.ts), for the doc tests that import it from here. */
export { repoRoot };

/** The Markdown files whose examples are tested, relative to the checkout; docs/*.md is expanded. */
const DOC_PATTERNS = ['README.md', 'docs/*.md', 'clients/README.md', 'bench/README.md'];

/** How an example is run, by the first word of its fence's info string. */
const EXAMPLE_LANGS: Record<string, Lang> = {
  sh: 'sh',
  bash: 'sh',
  ts: 'ts',
  typescript: 'ts',
  js: 'ts',
  python: 'python',
  c: 'c',
};

/**
 * Names that look like an example language but are not one: a block under one of them would
 * silently escape the test, so the parser asks for a name it knows (or `text`).
 */
const NEAR_MISSES: Record<string, string> = {
  shell: 'sh',
  zsh: 'sh',
  console: 'sh',
  javascript: 'js',
  mjs: 'js',
  mts: 'ts',
  py: 'python',
  python3: 'python',
};

export type Lang = 'sh' | 'ts' | 'python' | 'c';

export type DirectiveKind = 'run' | 'start' | 'skip' | 'output' | 'help';

/** One `<!-- doc-test: KIND key=value ... -->` comment. */
export interface Directive {
  kind: DirectiveKind;
  /** 1-based line of the comment. */
  line: number;
  scenario?: string;
  timeout?: number;
  redis: boolean;
  stdin?: string;
  ready?: string;
  reason?: string;
  cmd?: string;
}

/** A fenced code block. */
export interface Block {
  /** Relative to the checkout, e.g. `docs/servers.md`. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The first word of the info string, lower case ('' for a bare fence). */
  info: string;
  /** Set for an example (a block the test must run or skip). */
  lang?: Lang;
  /** The code, as the reader sees it (the fence's indentation removed). */
  body: string;
  /** 0-based lines of the content: [first, end) in the file (for rewriting help blocks in place). */
  contentLines: [number, number];
  /** The fence's indentation (to rewrite a help block with the same). */
  indent: string;
  directive?: Directive;
}

/** A `run` or `start` example and the `output` block that follows it, if any. */
export interface Step {
  block: Block & { lang: Lang; directive: Directive };
  expectedOutput?: Block;
}

/** The steps that run in one folder, in order. */
export interface Scenario {
  file: string;
  /** The `scenario=` name, or undefined for a block that is a scenario of its own. */
  name: string | undefined;
  steps: Step[];
  /** A redis-server is started for the scenario. */
  redis: boolean;
}

/** What the doc test takes from one file. */
export interface DocFile {
  file: string;
  blocks: Block[];
  scenarios: Scenario[];
  /** Examples marked `skip`, with the reason. */
  skipped: Block[];
  /** `help` blocks. */
  helps: Block[];
  /** Each says file:line, what is wrong and what to write. */
  errors: string[];
}

/** The parser typedoc uses, set as typedoc sets it (HTML allowed): the docs are read as the site reads them. */
export const markdown = new MarkdownIt({ html: true });

const DIRECTIVE = /^<!--\s*doc-test:(.*?)-->$/s;
const TOKEN = /\s*([A-Za-z_][\w-]*)(?:=("(?:[^"\\]|\\.)*"|[^\s"]+))?/y;

const KEYS: Record<DirectiveKind, string[]> = {
  run: ['scenario', 'timeout', 'redis', 'stdin'],
  start: ['scenario', 'timeout', 'redis', 'stdin', 'ready'],
  skip: ['reason'],
  output: [],
  help: ['cmd'],
};

const HOW =
  'write one of <!-- doc-test: run -->, <!-- doc-test: start ready=PATH|stdout -->, <!-- doc-test: skip reason="..." --> on the line above it';

/**
 * Reads one directive comment (the text between `doc-test:` and `-->`); `where` is `file:line`.
 * Returns the directive, or an error message.
 */
export function parseDirective(text: string, line: number, where: string): Directive | string {
  const words: Array<[string, string | undefined]> = [];
  TOKEN.lastIndex = 0;
  const source = text.trimEnd();
  while (TOKEN.lastIndex < source.length) {
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(source);
    if (match === null) {
      return `${where}: cannot read the doc-test directive at "${source.slice(start).trim()}": write KIND then key=value pairs, values with spaces in "double quotes"`;
    }
    const value = match[2];
    words.push([match[1]!, value?.startsWith('"') ? JSON.parse(value) : value]);
  }
  const [first, ...rest] = words;
  if (first === undefined || first[1] !== undefined || !(first[0] in KEYS)) {
    return `${where}: a doc-test directive starts with its kind, one of ${Object.keys(KEYS).join(', ')} (found "${source.trim()}")`;
  }
  const kind = first[0] as DirectiveKind;
  const directive: Directive = { kind, line, redis: false };
  for (const [key, value] of rest) {
    if (!KEYS[kind].includes(key)) {
      return `${where}: "${key}" is not a key of doc-test ${kind}${KEYS[kind].length > 0 ? ` (it takes ${KEYS[kind].join(', ')})` : ' (it takes none)'}`;
    }
    if (key === 'redis') {
      if (value !== undefined) return `${where}: redis is a flag: write just "redis", without a value`;
      directive.redis = true;
      continue;
    }
    if (value === undefined || value === '') return `${where}: ${key} needs a value: ${key}=...`;
    if (key === 'timeout') {
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms <= 0) return `${where}: timeout is in milliseconds, a positive whole number (found "${value}")`;
      directive.timeout = ms;
    } else if (key === 'stdin') {
      directive.stdin = value.replace(/\\n/g, '\n');
    } else {
      (directive as unknown as Record<string, string>)[key] = value;
    }
  }
  if (kind === 'start' && directive.ready === undefined) {
    return `${where}: doc-test start needs ready=PATH (a path, relative to the scenario folder, that exists once it is ready) or ready=stdout (it printed a first line)`;
  }
  if (kind === 'skip' && directive.reason === undefined) {
    return `${where}: doc-test skip needs the reason it is not run: skip reason="..."`;
  }
  if (kind === 'help' && !/^pipe-io( [a-z-]+)?$/.test(directive.cmd ?? '')) {
    return `${where}: doc-test help needs the command: help cmd="pipe-io" or help cmd="pipe-io SUBCOMMAND"`;
  }
  return directive;
}

/** The directives, fenced blocks and scenarios of one Markdown text. */
export function parseDoc(file: string, text: string): DocFile {
  const doc: DocFile = { file, blocks: [], scenarios: [], skipped: [], helps: [], errors: [] };
  const lines = text.split('\n');
  const tokens = markdown.parse(text, {});
  let pending: Directive | undefined;
  // A directive that could not be read still belongs to the fence below it: that fence gets no
  // second error for having none.
  let brokenAbove = false;
  const error = (line: number, message: string): void => {
    doc.errors.push(`${file}:${line}: ${message}`);
  };

  for (const token of tokens) {
    const line = (token.map?.[0] ?? 0) + 1;
    if (token.type === 'html_block' && token.content.includes('doc-test:')) {
      const match = DIRECTIVE.exec(token.content.trim());
      if (match === null) {
        error(line, 'a doc-test directive must be an HTML comment alone on its line: <!-- doc-test: KIND ... -->');
        brokenAbove = true;
        continue;
      }
      if (pending !== undefined) error(pending.line, 'this doc-test directive is not directly above a fenced code block (only blank lines may come between)');
      const parsed = parseDirective(match[1]!, line, `${file}:${line}`);
      if (typeof parsed === 'string') {
        doc.errors.push(parsed);
        pending = undefined;
        brokenAbove = true;
      } else {
        pending = parsed;
      }
      continue;
    }
    if (token.type === 'inline' && token.children?.some((child) => child.type === 'html_inline' && child.content.includes('doc-test:'))) {
      error(line, 'a doc-test directive must be alone on its line, directly above the fenced block it is for');
      continue;
    }
    if (token.type === 'fence') {
      const block = toBlock(file, token, lines);
      if (pending !== undefined) block.directive = pending;
      pending = undefined;
      doc.blocks.push(block);
      if (!brokenAbove) checkBlock(block, error);
      brokenAbove = false;
      continue;
    }
    if (token.type !== 'html_block' && !token.type.endsWith('_close')) {
      if (pending !== undefined) error(pending.line, 'this doc-test directive is not directly above a fenced code block (only blank lines may come between)');
      pending = undefined;
      brokenAbove = false;
    }
  }
  if (pending !== undefined) error(pending.line, 'this doc-test directive is not followed by a fenced code block');

  gatherScenarios(doc, error);
  return doc;
}

function toBlock(file: string, token: Token, lines: string[]): Block {
  const [start, end] = token.map!;
  const info = token.info.trim().split(/\s+/)[0]!.toLowerCase();
  const indent = /^\s*/.exec(lines[start]!)![0];
  // The closing fence is the last line of the map unless the block ran to the end of the file.
  const closed = end - 1 > start && /^\s*(`{3,}|~{3,})\s*$/.test(lines[end - 1] ?? '');
  const block: Block = { file, line: start + 1, info, body: token.content, contentLines: [start + 1, closed ? end - 1 : end], indent };
  const lang = EXAMPLE_LANGS[info];
  if (lang !== undefined) block.lang = lang;
  return block;
}

function checkBlock(block: Block, error: (line: number, message: string) => void): void {
  const { directive } = block;
  if (block.lang === undefined && NEAR_MISSES[block.info] !== undefined) {
    error(block.line, `\`\`\`${block.info} is not a language the doc test knows: write \`\`\`${NEAR_MISSES[block.info]} (an example, run or skipped) or \`\`\`text (shown, not run)`);
    return;
  }
  if (block.lang !== undefined) {
    if (directive === undefined) error(block.line, `this \`\`\`${block.info} example has no doc-test directive: ${HOW}`);
    else if (directive.kind === 'output' || directive.kind === 'help') {
      error(directive.line, `doc-test ${directive.kind} is for a \`\`\`text block, not a \`\`\`${block.info} example`);
    }
    return;
  }
  if (directive === undefined) return;
  if (directive.kind !== 'output' && directive.kind !== 'help') {
    error(directive.line, `doc-test ${directive.kind} is for an example (\`\`\`sh, bash, ts, typescript, js, python or c), not a \`\`\`${block.info || ' (no language)'} block`);
  } else if (block.info !== 'text') {
    error(directive.line, `doc-test ${directive.kind} goes on a \`\`\`text block (found \`\`\`${block.info})`);
  }
}

/** Puts the run/start examples into scenarios (in file order) and attaches each output block. */
function gatherScenarios(doc: DocFile, error: (line: number, message: string) => void): void {
  const named = new Map<string, Scenario>();
  let previous: Block | undefined;
  let previousStep: Step | undefined;
  for (const block of doc.blocks) {
    const { directive } = block;
    if (directive?.kind === 'help' && block.info === 'text') doc.helps.push(block);
    if (directive?.kind === 'output' && block.info === 'text') {
      if (previous?.directive?.kind !== 'run' || previousStep === undefined) {
        error(directive.line, 'doc-test output must follow a `run` example (it is the stdout of the run block just before it)');
      } else if (previousStep.expectedOutput !== undefined) {
        error(directive.line, `the run example at line ${previous.line} already has an output block`);
      } else {
        previousStep.expectedOutput = block;
      }
      continue;
    }
    if (block.lang === undefined) continue;
    previous = block;
    previousStep = undefined;
    if (directive === undefined) continue;
    if (directive.kind === 'skip') {
      doc.skipped.push(block);
      continue;
    }
    if (directive.kind !== 'run' && directive.kind !== 'start') continue;
    const step: Step = { block: block as Step['block'] };
    previousStep = step;
    let scenario = directive.scenario === undefined ? undefined : named.get(directive.scenario);
    if (scenario === undefined) {
      scenario = { file: doc.file, name: directive.scenario, steps: [], redis: false };
      doc.scenarios.push(scenario);
      if (directive.scenario !== undefined) named.set(directive.scenario, scenario);
    }
    scenario.steps.push(step);
    scenario.redis ||= directive.redis;
  }
}

/** The doc files that exist, relative to the checkout (DOC_TEST_FILE=a.md,b.md narrows the set). */
export function docFiles(root = repoRoot): string[] {
  const found: string[] = [];
  for (const pattern of DOC_PATTERNS) {
    if (pattern.endsWith('/*.md')) {
      const dir = pattern.slice(0, -'/*.md'.length);
      const full = path.join(root, dir);
      if (!fs.existsSync(full)) continue;
      for (const name of fs.readdirSync(full).sort()) {
        if (name.endsWith('.md')) found.push(`${dir}/${name}`);
      }
    } else if (fs.existsSync(path.join(root, pattern))) {
      found.push(pattern);
    }
  }
  const only = process.env['DOC_TEST_FILE'];
  if (only === undefined || only === '') return found;
  // A file outside the checkout keeps its absolute path (scratch files for trying the test).
  const wanted = only.split(',').map((name) => {
    const relative = path.relative(root, path.resolve(root, name.trim()));
    return relative.startsWith('..') ? path.resolve(root, name.trim()) : relative;
  });
  for (const name of wanted) {
    if (!found.includes(name) && !fs.existsSync(path.resolve(root, name))) {
      throw new Error(`DOC_TEST_FILE names ${name}, which does not exist under ${root}`);
    }
  }
  return wanted;
}

/** Parses the doc files (all, or those DOC_TEST_FILE names). */
export function readDocs(root = repoRoot): DocFile[] {
  return docFiles(root).map((file) => parseDoc(file, fs.readFileSync(path.resolve(root, file), 'utf8')));
}

/** The first non-empty line of a block, for test titles. */
export function firstLine(block: Block): string {
  const line = block.body.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.trim().length > 60 ? `${line.trim().slice(0, 57)}...` : line.trim();
}

/** Text compared the way output and help blocks are: trailing whitespace trimmed on each line and at the end. */
export function normalizeText(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trimEnd();
}
