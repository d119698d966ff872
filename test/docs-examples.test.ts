/**
 * Every shell, TypeScript, Python and C example in README.md, docs/*.md, clients/README.md and
 * bench/README.md is run here against real processes, or marked as not runnable with the reason,
 * so an example that breaks is seen. `DOC_TEST_FILE=docs/servers.md npx mocha --no-config
 * --timeout 0 dist/test/docs-examples.test.js` runs one file's (comma-separated for several).
 *
 * The directives (the contract between the guides and this test):
 *
 * An example is a fenced block whose info string starts with sh, bash, ts, typescript, js,
 * python or c. Each has exactly one directive, an HTML comment alone on a line directly above
 * the fence (blank lines between are allowed):
 *
 *     <!-- doc-test: KIND [key=value ...] -->      values with spaces in "double quotes"
 *
 * - `run`: runs to completion; must exit 0 within `timeout` ms (default 20000).
 * - `start`: runs in the background until the scenario ends; `ready=PATH` (exists, relative to
 *   the scenario folder) or `ready=stdout` (printed a line) says when the next block may go. It
 *   gets SIGTERM at the end of the scenario (SIGKILL 3 s later); exiting non-zero before fails.
 * - `skip reason="..."`: not run; listed as a pending test with the reason.
 * - `output`, on a ```text block: the exact stdout of the `run` block just before it (trailing
 *   whitespace ignored).
 * - `help cmd="pipe-io SUB"`, on a ```text block: checked by docs-help.test.ts.
 *
 * Keys of run and start: `scenario=NAME` (blocks of a file with one name run in order in one
 * folder, sharing background processes; without it a block is a scenario of its own),
 * `timeout=MS`, `redis` (a redis-server for the scenario; its URL in $REDIS_URL), `stdin="..."`
 * (`\n` allowed; default /dev/null).
 *
 * Each scenario runs in a fresh 0700 folder (the cwd) holding symlinks `clients`, `examples` and
 * `node_modules/pipe-io-server` to the checkout, with `pipe-io` first on PATH and
 * PIPE_IO_DOC_TEST=1. sh/bash: `bash -e -o pipefail`; ts/js: transpiled and run with node (all of
 * them are also type-checked together, strict, against the built package's types); python:
 * python3; c: `cc -std=c99 -Wall -Werror -I clients/c FILE clients/c/pipe_io_client.c`, then run.
 */
import { findRedisServer } from './helpers/redis.js';
import { type DocFile, type Scenario, firstLine, readDocs } from './helpers/doc-blocks.js';
import { ScenarioRun, pipeIoBin, scenarioBudget, typeCheck, where } from './helpers/doc-run.js';

const docs: DocFile[] = readDocs();
/** Files whose scenarios run at the same time (each file's scenarios run in order). */
const JOBS = Math.max(1, Number(process.env['DOC_TEST_JOBS'] ?? 2));
const NO_REDIS = 'redis-server is not on PATH; apt-get install redis-server to run this example';

/** A scenario's outcome, settled by the scheduler; the scenario's `it` awaits it. */
interface Outcome {
  promise: Promise<'done' | 'skipped'>;
  settle: (result: Promise<'done' | 'skipped'>) => void;
}
const outcomes = new Map<Scenario, Outcome>();
for (const scenario of docs.flatMap((doc) => doc.scenarios)) {
  let settle!: Outcome['settle'];
  const promise = new Promise<'done' | 'skipped'>((resolve) => (settle = resolve));
  // Awaited later by the scenario's test; until then a failure must not count as unhandled.
  promise.catch(() => {});
  outcomes.set(scenario, { promise, settle });
}

async function runScenario(scenario: Scenario, binDir: string): Promise<'done' | 'skipped'> {
  if (scenario.redis && findRedisServer() === undefined) {
    if (process.env['CI'] === 'true') throw new Error(`CI=true requires the Redis examples, but ${NO_REDIS}`);
    return 'skipped';
  }
  const run = await ScenarioRun.start(scenario, binDir);
  try {
    for (const step of scenario.steps) await run.step(step);
    run.checkServers();
  } finally {
    await run.end();
  }
  return 'done';
}

/** Runs the files JOBS at a time, the scenarios of a file one after the other. */
function schedule(binDir: string): void {
  const queue = docs.filter((doc) => doc.scenarios.length > 0);
  const worker = async (): Promise<void> => {
    for (let doc = queue.shift(); doc !== undefined; doc = queue.shift()) {
      for (const scenario of doc.scenarios) {
        const result = runScenario(scenario, binDir);
        outcomes.get(scenario)!.settle(result);
        await result.catch(() => {});
      }
    }
  };
  for (let i = 0; i < JOBS; i++) void worker();
}

describe('doc examples', function () {
  let bin: ReturnType<typeof pipeIoBin> | undefined;
  let typeErrors: string[] = [];
  before(function () {
    this.timeout(120_000);
    bin = pipeIoBin();
    // Before any scenario starts: the compiler holds the event loop, which would hold up the
    // scenarios' timers and readiness checks.
    const blocks = docs.flatMap((doc) => doc.scenarios.flatMap((scenario) => scenario.steps.map((step) => step.block).filter((block) => block.lang === 'ts')));
    typeErrors = typeCheck(blocks);
    schedule(bin.dir);
  });
  after(async function () {
    this.timeout(120_000);
    // A failed test does not stop the scheduler: let every scenario end before the folder goes.
    await Promise.allSettled([...outcomes.values()].map((outcome) => outcome.promise));
    bin?.cleanup();
  });

  it('the TypeScript examples type-check (strict, against the built package)', () => {
    if (typeErrors.length > 0) throw new Error(`${typeErrors.length} type error(s) in the examples:\n${typeErrors.join('\n')}`);
  });

  for (const doc of docs) {
    describe(doc.file, () => {
      it('every example has a doc-test directive the test can read', () => {
        if (doc.errors.length > 0) throw new Error(doc.errors.join('\n'));
      });
      for (const scenario of doc.scenarios) {
        it(title(scenario), async function () {
          // Its file may wait for another file's scenarios to end first.
          this.timeout(scenarioBudget(scenario) * 3);
          if ((await outcomes.get(scenario)!.promise) === 'skipped') {
            console.log(`      (skipped: ${NO_REDIS})`);
            this.skip();
          }
        });
      }
      for (const block of doc.skipped) {
        it.skip(`${where(block)} not run: ${block.directive!.reason} (${firstLine(block)})`);
      }
    });
  }
});

function title(scenario: Scenario): string {
  const first = scenario.steps[0]!.block;
  const name = scenario.name === undefined ? '' : `scenario ${scenario.name}, `;
  return `${name}line ${first.line}: ${firstLine(first)}`;
}
