/**
 * Runs the examples of the docs the way a reader would: each scenario in a fresh 0700 folder
 * with `pipe-io` on PATH and `pipe-io-server` importable, real bash/node/python3/cc, every
 * process in a group of its own that is ended with the scenario. See doc-blocks.ts for the
 * directives and test/docs-examples.test.ts for the contract.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { type Block, type Scenario, type Step, normalizeText, repoRoot } from './doc-blocks.js';
import { killGroup } from './fixtures.js';
import { RedisServer } from './redis.js';

const DEFAULT_TIMEOUT_MS = 20_000;
/** How long a group has between SIGTERM and SIGKILL at the end of a scenario. */
const TERM_GRACE_MS = 3000;

/** `file:line` of a block. */
export const where = (block: Block): string => `${block.file}:${block.line}`;

/** Links the repo's `clients`, `examples` and the package itself into `dir`, as the contract says. */
function linkRepo(dir: string): void {
  fs.symlinkSync(path.join(repoRoot, 'clients'), path.join(dir, 'clients'));
  fs.symlinkSync(path.join(repoRoot, 'examples'), path.join(dir, 'examples'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'pipe-io-server'));
}

/** A folder with `pipe-io` in it, for the front of PATH; removed by `cleanup`. */
export function pipeIoBin(): { dir: string; cleanup: () => void } {
  const main = path.join(repoRoot, 'dist/lib/cli/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-doc-bin-'));
  fs.symlinkSync(main, path.join(dir, 'pipe-io'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The name a TypeScript example gets in the type-check program: its place in the docs. */
const moduleName = (block: Block): string => `${block.file.replace(/[^\w]+/g, '_')}_L${block.line}.mts`;

/**
 * Type-checks the TypeScript examples together in one strict program, with `pipe-io-server`
 * resolved to the built package's types as a reader's project would resolve it. Returns the
 * errors, each as `file.md:line: message`.
 */
export function typeCheck(blocks: Block[]): string[] {
  if (blocks.length === 0) return [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-doc-types-'));
  try {
    linkRepo(dir);
    const byFile = new Map<string, Block>();
    for (const block of blocks) {
      const file = path.join(dir, moduleName(block));
      fs.writeFileSync(file, block.body);
      byFile.set(file, block);
    }
    const program = ts.createProgram([...byFile.keys()], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [path.join(repoRoot, 'node_modules/@types')],
    });
    const errors: string[] = [];
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const block = diagnostic.file === undefined ? undefined : byFile.get(path.resolve(diagnostic.file.fileName));
      if (diagnostic.file === undefined || block === undefined || diagnostic.start === undefined) {
        errors.push(`(type-check) ${message}`);
        continue;
      }
      const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      // The block's first code line is the line after its fence.
      errors.push(`${block.file}:${block.line + 1 + line}:${character + 1}: TS${diagnostic.code}: ${message}`);
    }
    return errors;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The last lines of a text, for failure messages. */
function tail(text: string, lines = 30): string {
  const all = text.trimEnd().split('\n');
  const shown = all.slice(-lines).join('\n');
  return all.length > lines ? `[... ${all.length - lines} lines before]\n${shown}` : shown;
}

/** One process group the scenario started. */
interface Child {
  step: Step;
  pid: number;
  stdoutFile: string;
  stderrFile: string;
  /** Set once the group leader exited. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
}

/** A scenario under way: its folder, its processes, its Redis. */
export class ScenarioRun {
  readonly dir: string;
  /** Where the block files and their output go: `.doc-test` in the scenario folder, out of the examples' way. */
  readonly #work: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #children: Child[] = [];
  #redis: RedisServer | undefined;

  private constructor(dir: string, env: NodeJS.ProcessEnv) {
    this.dir = dir;
    this.#work = path.join(dir, '.doc-test');
    this.#env = env;
  }

  /** Makes the folder (and starts redis-server when the scenario asks for it). */
  static async start(scenario: Scenario, binDir: string): Promise<ScenarioRun> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-doc-'));
    linkRepo(dir);
    fs.mkdirSync(path.join(dir, '.doc-test'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env['PATH'] ?? ''}`, PIPE_IO_DOC_TEST: '1' };
    const run = new ScenarioRun(dir, env);
    if (scenario.redis) {
      try {
        run.#redis = await RedisServer.start();
      } catch (error) {
        await run.end();
        throw error;
      }
      env['REDIS_URL'] = run.#redis.url;
    }
    return run;
  }

  /** Runs one step; throws an Error that says what went wrong, with the output's tail. */
  async step(step: Step): Promise<void> {
    const { block } = step;
    const child = await this.#spawn(step);
    const timeout = block.directive.timeout ?? DEFAULT_TIMEOUT_MS;
    if (block.directive.kind === 'run') {
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        child.exited.then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeout))),
      ]);
      clearTimeout(timer);
      if (!finished) {
        killGroup(child.pid, 'SIGKILL');
        throw new Error(`${where(block)}: the run block did not end within ${timeout} ms (timeout=MS raises the limit)\n${this.#outputOf(child)}${this.#servers(child)}`);
      }
      if (child.exit!.code !== 0) {
        throw new Error(`${where(block)}: the run block exited with ${describeExit(child.exit!)}\n${this.#outputOf(child)}${this.#servers(child)}`);
      }
      if (step.expectedOutput !== undefined) this.#compareOutput(step, child);
    } else {
      await this.#ready(child, timeout);
    }
    this.checkServers();
  }

  /** Fails if a background (`start`) block has exited non-zero so far. */
  checkServers(): void {
    for (const child of this.#children) {
      if (child.step.block.directive.kind !== 'start' || child.exit === undefined) continue;
      if (child.exit.code !== 0) {
        throw new Error(`${where(child.step.block)}: the start block exited with ${describeExit(child.exit)} before the scenario ended\n${this.#outputOf(child)}`);
      }
    }
  }

  /** Ends every process group (SIGTERM, SIGKILL after 3 s), stops Redis, removes the folder. */
  async end(): Promise<void> {
    const groups = this.#children.map((child) => child.pid);
    for (const pid of groups) killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + TERM_GRACE_MS;
    while (groups.some(groupAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const pid of groups) killGroup(pid, 'SIGKILL');
    await Promise.all(this.#children.map((child) => child.exited));
    await this.#redis?.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  async #spawn(step: Step): Promise<Child> {
    const { block } = step;
    const base = path.join(this.#work, `L${block.line}`);
    const [command, args] = this.#prepare(block, base);
    const stdoutFile = `${base}.stdout`;
    const stderrFile = `${base}.stderr`;
    // Files, not pipes: a block's background children keep its stdout open, and a file does not
    // make anyone wait for them.
    const stdin = block.directive.stdin === undefined ? 'ignore' : fs.openSync(writeFile(`${base}.stdin`, block.directive.stdin), 'r');
    const out = fs.openSync(stdoutFile, 'w');
    const err = fs.openSync(stderrFile, 'w');
    try {
      const child = spawn(command, args, { cwd: this.dir, env: this.#env, detached: true, stdio: [stdin, out, err] });
      const record: Child = { step, pid: child.pid ?? -1, stdoutFile, stderrFile, exited: Promise.resolve() };
      record.exited = new Promise<void>((resolve) => {
        child.once('error', (error) => {
          fs.appendFileSync(stderrFile, `\n(could not start ${command}: ${error.message})\n`);
          record.exit = { code: 127, signal: null };
          resolve();
        });
        child.once('exit', (code, signal) => {
          record.exit = { code, signal };
          resolve();
        });
      });
      if (child.pid !== undefined) this.#children.push(record);
      return record;
    } finally {
      for (const fd of [out, err, stdin]) if (typeof fd === 'number') fs.closeSync(fd);
    }
  }

  /** Writes the block where it can run, compiling C; returns the command to run it. */
  #prepare(block: Step['block'], base: string): [string, string[]] {
    switch (block.lang) {
      case 'sh':
        return ['bash', ['-e', '-o', 'pipefail', writeFile(`${base}.sh`, block.body)]];
      case 'python':
        return ['python3', [writeFile(`${base}.py`, block.body)]];
      case 'ts': {
        const { outputText } = ts.transpileModule(block.body, {
          fileName: `${base}.mts`,
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
        });
        return [process.execPath, [writeFile(`${base}.mjs`, outputText)]];
      }
      case 'c': {
        // #line makes the compiler's messages point into the Markdown file.
        const source = writeFile(`${base}.c`, `#line ${block.line + 1} "${block.file}"\n${block.body}`);
        const program = `${base}.prog`;
        const compile = spawnSync('cc', ['-std=c99', '-Wall', '-Werror', '-I', 'clients/c', source, 'clients/c/pipe_io_client.c', '-o', program], {
          cwd: this.dir,
          encoding: 'utf8',
        });
        if (compile.status !== 0) {
          throw new Error(`${where(block)}: the C example does not compile (cc -std=c99 -Wall -Werror -I clients/c FILE clients/c/pipe_io_client.c):\n${tail(compile.stderr || compile.error?.message || '')}`);
        }
        return [program, []];
      }
    }
  }

  async #ready(child: Child, timeout: number): Promise<void> {
    const { block } = child.step;
    const ready = block.directive.ready!;
    const isReady = (): boolean =>
      ready === 'stdout' ? fs.readFileSync(child.stdoutFile, 'utf8').includes('\n') : fs.existsSync(path.resolve(this.dir, ready));
    const deadline = Date.now() + timeout;
    while (!isReady()) {
      if (child.exit !== undefined) {
        throw new Error(`${where(block)}: the start block exited with ${describeExit(child.exit)} before it was ready (ready=${ready})\n${this.#outputOf(child)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${where(block)}: the start block was not ready within ${timeout} ms: ${ready === 'stdout' ? 'it printed no line' : `${ready} does not exist`}\n${this.#outputOf(child)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #compareOutput(step: Step, child: Child): void {
    const expected = normalizeText(step.expectedOutput!.body);
    const actual = normalizeText(fs.readFileSync(child.stdoutFile, 'utf8'));
    if (actual === expected) return;
    const error = new Error(
      `${where(step.expectedOutput!)}: the output block differs from what the run block at line ${step.block.line} printed\n` +
        `(-: what it printed, +: the output block)\n${this.#outputOf(child, false)}`,
    ) as Error & { expected: string; actual: string; showDiff: boolean };
    Object.assign(error, { expected, actual, showDiff: true });
    throw error;
  }

  #outputOf(child: Child, withStdout = true): string {
    const stdout = fs.existsSync(child.stdoutFile) ? fs.readFileSync(child.stdoutFile, 'utf8') : '';
    const stderr = fs.existsSync(child.stderrFile) ? fs.readFileSync(child.stderrFile, 'utf8') : '';
    const parts: string[] = [];
    if (withStdout) parts.push(stdout.trim() === '' ? '--- stdout: (empty)' : `--- stdout (tail):\n${tail(stdout)}`);
    parts.push(stderr.trim() === '' ? '--- stderr: (empty)' : `--- stderr (tail):\n${tail(stderr)}`);
    return parts.join('\n');
  }

  /** The output of the background blocks, which often holds the reason a client failed. */
  #servers(except: Child): string {
    return this.#children
      .filter((child) => child !== except && child.step.block.directive.kind === 'start')
      .map((child) => `\n--- background block ${where(child.step.block)}${child.exit ? `, exited with ${describeExit(child.exit)}` : ', still running'}:\n${this.#outputOf(child)}`)
      .join('');
  }
}

function writeFile(file: string, text: string): string {
  fs.writeFileSync(file, text, { mode: 0o700 });
  return file;
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The longest a scenario can take: every step's timeout, plus the end's grace and some slack. */
export function scenarioBudget(scenario: Scenario): number {
  return scenario.steps.reduce((sum, step) => sum + (step.block.directive.timeout ?? DEFAULT_TIMEOUT_MS), 0) + TERM_GRACE_MS + 15_000;
}
