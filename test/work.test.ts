/**
 * `pipe-io work` and `pipe-io ls` against a real redis-server, with real CLI processes
 * standing in for machines, real filters (tr, sed, a C program using printf) and a real
 * Python JSON-RPC plugin. Skipped with a message when redis-server is missing, unless CI=true.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { RedisTransport } from '../lib/bridge/redis.js';
import { type RedisServer, redisForSuite } from './helpers/redis.js';
import { CliProcess, ROOT, runPipeline, until } from './helpers/work.js';

const PLUGIN = `
import os, sys, time
sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'clients/python'))})
from pipe_io_rpc import RpcPeer, RpcError
rpc = RpcPeer()
delay = float(os.environ.get('DELAY', '0'))

@rpc.method
def process(message, meta=None):
    if message == 'poison':
        raise RpcError(-32000, 'cannot take poison')
    if delay:
        time.sleep(delay)
    return message.upper()

with rpc:
    rpc.serve()
`;

/** The pid of the child of `parent` whose command line holds `needle` (from /proc). */
function childRunning(parent: number, needle: string): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no child of ${parent} runs ${needle}`);
}

describe('work: any program as a worker on a topic; ls: who serves', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let transport: RedisTransport;
  let dir: string;
  let prefix: string;
  let count = 0;
  const procs: CliProcess[] = [];

  redisForSuite((server) => (redis = server));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-work-test-'));
    prefix = `w${++count}-${process.pid}-`;
    transport = new RedisTransport({ url: redis.url });
  });

  afterEach(async () => {
    for (const proc of procs.splice(0)) proc.killGroup();
    await transport.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function work(...args: string[]): CliProcess {
    return workWith({}, ...args);
  }

  function workWith(env: NodeJS.ProcessEnv, ...args: string[]): CliProcess {
    const proc = new CliProcess(redis.url, ['work', ...args], env);
    procs.push(proc);
    return proc;
  }

  async function ready(proc: CliProcess): Promise<void> {
    await until(`the worker to start (${proc.stderr})`, () => / in group '/.test(proc.stderr) || !proc.running, 20_000);
    expect(proc.running, proc.stderr).to.equal(true);
  }

  /** Every message of a topic, from its start. */
  async function contents(topic: string): Promise<string[]> {
    const reply = (await transport.command(['XRANGE', topic, '-', '+'])) as Array<[Buffer, Buffer[]]>;
    return reply.map(([, fields]) => fields[1]!.toString('utf8'));
  }

  it('a three-stage pipeline, two workers per stage, carries 100,000 lines: nothing lost, nothing doubled, and SIGTERM exits 0', async () => {
    const result = await runPipeline(redis.url, 100_000, prefix);
    expect(result).to.deep.include({ missing: 0, duplicates: 0, wrong: 0, received: 100_000 });
    expect(result.exitCodes).to.deep.equal([0, 0, 0, 0, 0, 0]);
  });

  it('stdio: tr and a C filter using printf deliver each line promptly, while they keep running (stdbuf -oL)', async function () {
    const source = path.join(dir, 'filter.c');
    fs.writeFileSync(source, '#include <stdio.h>\nint main(void){char b[4096];while(fgets(b,sizeof b,stdin))printf("C:%s",b);return 0;}\n');
    const binary = path.join(dir, 'filter');
    try {
      execFileSync('cc', ['-O2', '-o', binary, source]);
    } catch {
      this.skip();
    }
    const tr = work('--from', `${prefix}in`, '--to', `${prefix}tr`, '--group', 'tr', '--', 'tr', 'a-z', 'A-Z');
    const c = work('--from', `${prefix}tr`, '--to', `${prefix}c`, '--group', 'c', '--', binary);
    await Promise.all([ready(tr), ready(c)]);
    for (const word of ['one', 'two', 'three']) {
      await transport.append(`${prefix}in`, [word]);
      // One line in, its line out: nothing waits for a 4 KiB buffer to fill or the program to exit.
      await until(`'${word}' through tr and the C filter`, async () => (await contents(`${prefix}c`)).includes(`C:${word.toUpperCase()}`), 5000);
    }
    expect(await contents(`${prefix}c`)).to.deep.equal(['C:ONE', 'C:TWO', 'C:THREE']);
  });

  it('bad entries are reported and skipped (acknowledged), the good ones go through', async () => {
    const worker = work('--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--codec', 'json', '--', 'cat');
    await ready(worker);
    const topic = `${prefix}in`;
    await transport.command(['XADD', topic, '*', 'message', '{"n":1}']);
    await transport.command(['XADD', topic, '*', 'other', 'x']);
    await transport.command(['XADD', topic, '*', 'message', Buffer.from([0xff, 0xfe]).toString('latin1')]);
    await transport.command(['XADD', topic, '*', 'message', 'not json']);
    await transport.command(['XADD', topic, '*', 'message', '{"n":2}']);
    await until('the good entries', async () => (await contents(`${prefix}out`)).length === 2, 10_000);
    expect((await contents(`${prefix}out`)).map((line) => JSON.parse(line) as unknown)).to.deep.equal([{ n: 1 }, { n: 2 }]);
    await until('the bad entries to be acknowledged', async () => Number(((await transport.command(['XPENDING', topic, 'g'])) as unknown[])[0]) === 0, 5000);
    expect(worker.stderr).to.include('has no message field; it was skipped');
    expect(worker.stderr).to.include('is not JSON');
    expect(worker.running).to.equal(true);
  });

  it('--reply survives SIGKILL of its program and of a worker: nothing lost, duplicates bounded by what was in flight', async () => {
    const plugin = path.join(dir, 'plugin.py');
    fs.writeFileSync(plugin, PLUGIN);
    const total = 600;
    const maxInFlight = 16;
    const args = ['--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--reply', '--restart', 'on-failure', '--claim-idle', '1000', '--max-in-flight', String(maxInFlight)];
    // 5 ms a message: the kills land mid-stream, with requests in flight in both workers.
    const a = workWith({ DELAY: '0.005' }, ...args, '--name', 'a', '--', 'python3', plugin);
    const b = workWith({ DELAY: '0.005' }, ...args, '--name', 'b', '--', 'python3', plugin);
    await Promise.all([ready(a), ready(b)]);
    const inputs = Array.from({ length: total }, (_, i) => `m${i}`);
    await transport.append(`${prefix}in`, inputs);
    await until('some output', async () => (await contents(`${prefix}out`)).length > 50, 20_000);
    // The program of worker a: the one python3 whose parent is a.
    const programPid = childRunning(a.pid, plugin);
    process.kill(programPid, 'SIGKILL');
    await until('a to restart its program', () => /restarting it/.test(a.stderr), 5000);
    await until('more output', async () => (await contents(`${prefix}out`)).length > 250, 20_000);
    const beforeKill = new Set(await contents(`${prefix}out`)).size;
    b.signal('SIGKILL');
    expect(beforeKill, 'b killed mid-stream').to.be.below(total - 50);
    // What b held goes to a after --claim-idle.
    await until('every message', async () => new Set(await contents(`${prefix}out`)).size === total, 60_000);
    const out = await contents(`${prefix}out`);
    for (const input of inputs) expect(out, input).to.include(input.toUpperCase());
    const duplicates = out.length - new Set(out).size;
    // At most b's in-flight window (appended, not acknowledged when it died) plus one read.
    expect(duplicates).to.be.at.most(maxInFlight + 16);
    console.log(`      (${duplicates} duplicates after SIGKILL of a worker, bound ${maxInFlight + 16})`);
    a.signal('SIGTERM');
    expect((await a.exited).code).to.equal(0);
  });

  it('stdio --one-to-one survives SIGKILL of its program and of a worker: nothing lost, duplicates bounded by what was in flight', async () => {
    const total = 600;
    const maxInFlight = 16;
    // A slow line filter (bash's read takes one byte at a time, echo is unbuffered): kills land mid-stream.
    const filter = 'while IFS= read -r line; do echo "${line^^}"; sleep 0.003; done';
    const args = ['--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--one-to-one', '--restart', 'on-failure', '--claim-idle', '1000', '--max-in-flight', String(maxInFlight)];
    const a = work(...args, '--name', 'a', '--', 'bash', '-c', filter);
    const b = work(...args, '--name', 'b', '--', 'bash', '-c', filter);
    await Promise.all([ready(a), ready(b)]);
    const inputs = Array.from({ length: total }, (_, i) => `m${i}`);
    await transport.append(`${prefix}in`, inputs);
    await until('some output', async () => (await contents(`${prefix}out`)).length > 50, 20_000);
    process.kill(childRunning(a.pid, 'read -r line'), 'SIGKILL');
    await until('a to restart its program', () => /restarting it/.test(a.stderr), 5000);
    await until('more output', async () => (await contents(`${prefix}out`)).length > 250, 20_000);
    const beforeKill = new Set(await contents(`${prefix}out`)).size;
    b.signal('SIGKILL');
    expect(beforeKill, 'b killed mid-stream').to.be.below(total - 50);
    await until('every message', async () => new Set(await contents(`${prefix}out`)).size === total, 60_000);
    const out = await contents(`${prefix}out`);
    for (const input of inputs) expect(out, input).to.include(input.toUpperCase());
    const duplicates = out.length - new Set(out).size;
    // The program's death: its unanswered lines again (up to the window); the worker's: its window again.
    expect(duplicates).to.be.at.most(2 * (maxInFlight + 16));
    console.log(`      (${duplicates} duplicates after SIGKILL of a program and of a worker, bound ${2 * (maxInFlight + 16)})`);
    a.signal('SIGTERM');
    expect((await a.exited).code).to.equal(0);
  });

  it('stdio (plain) under SIGKILL of its program and of a worker: what was not yet written comes again, the loss stays within the channels to and from the program', async () => {
    const total = 600;
    const filter = 'while IFS= read -r line; do echo "${line^^}"; sleep 0.003; done';
    const args = ['--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--restart', 'on-failure', '--claim-idle', '1000', '--max-in-flight', '16'];
    const a = work(...args, '--name', 'a', '--', 'bash', '-c', filter);
    const b = work(...args, '--name', 'b', '--', 'bash', '-c', filter);
    await Promise.all([ready(a), ready(b)]);
    // 1000-byte messages. Node gives a child a UNIX socket pair, not a pipe, as stdin and stdout:
    // with Linux's defaults (net.core.wmem_default, 208 KiB) each direction holds about 213 of them.
    const inputs = Array.from({ length: total }, (_, i) => `m${String(i).padStart(4, '0')}-${'x'.repeat(994)}`);
    await transport.append(`${prefix}in`, inputs);
    await until('some output', async () => (await contents(`${prefix}out`)).length > 50, 20_000);
    process.kill(childRunning(a.pid, 'read -r line'), 'SIGKILL');
    await until('a to restart its program', () => /restarting it/.test(a.stderr), 5000);
    await until('more output', async () => (await contents(`${prefix}out`)).length > 250, 20_000);
    b.signal('SIGKILL');
    // Everything read and acknowledged, and the output quiet: what is missing now is lost for good.
    await until('the group to be done', async () => {
      const groups = (await transport.command(['XINFO', 'GROUPS', `${prefix}in`])) as unknown[][];
      const info = new Map<string, string>();
      for (let i = 0; i + 1 < groups[0]!.length; i += 2) info.set(String(groups[0]![i]), String(groups[0]![i + 1]));
      return info.get('pending') === '0' && info.get('lag') === '0';
    }, 60_000);
    await sleep(1000);
    const out = new Set(await contents(`${prefix}out`));
    const lost = inputs.filter((input) => !out.has(input.toUpperCase())).length;
    // The program's death: its stdin channel and the line it held; the worker's: that again, plus
    // its program's stdout channel and the output of one turn not yet appended.
    const channel = Math.ceil(Number(fs.readFileSync('/proc/sys/net/core/wmem_default', 'utf8')) / 1000);
    const bound = channel + 1 + (channel + 1 + channel + 16);
    console.log(`      (${lost} lost of ${total}, bound ${bound}; --one-to-one and --reply lose none)`);
    expect(lost).to.be.at.most(bound);
  });

  it('--reply: SIGTERM drains what is in flight and exits 0; a slow program leaves the rest in the stream (bounded in flight)', async () => {
    const plugin = path.join(dir, 'plugin.py');
    fs.writeFileSync(plugin, PLUGIN);
    const proc = new CliProcess(redis.url, ['work', '--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--reply', '--max-in-flight', '4', '--', 'python3', plugin], {
      DELAY: '0.05',
    });
    procs.push(proc);
    await ready(proc);
    await transport.append(`${prefix}in`, ['poison', ...Array.from({ length: 200 }, (_, i) => `m${i}`)]);
    await until('some output', async () => (await contents(`${prefix}out`)).length >= 5, 10_000);
    // Backpressure: the worker holds its window (plus one read), the stream holds the rest.
    const pending = Number(((await transport.command(['XPENDING', `${prefix}in`, 'g'])) as unknown[])[0]);
    expect(pending).to.be.at.most(4 + 4);
    proc.signal('SIGTERM');
    expect((await proc.exited).code).to.equal(0);
    // Drained: what it held was answered and appended before the acknowledgement, so nothing is left pending.
    const after = Number(((await transport.command(['XPENDING', `${prefix}in`, 'g'])) as unknown[])[0]);
    expect(after).to.equal(0);
    const done = (await contents(`${prefix}out`)).length;
    expect(done).to.be.below(200);
    // An error the program answers is a bad entry: reported and skipped, not a crash.
    expect(proc.stderr).to.include('answered error -32000 (cannot take poison); it was skipped');
  });

  it('ls lists topics, groups and live workers (table and --json); a killed worker disappears after its TTL', async () => {
    const a = work('--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--name', 'alive', '--ttl', '1000', '--', 'cat');
    const b = work('--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--name', 'doomed', '--ttl', '1000', '--', 'cat');
    await Promise.all([ready(a), ready(b)]);
    const ls = async (): Promise<{ topics: Array<{ name: string; groups: Array<{ name: string; consumers: Array<{ name: string; live: boolean }> }> }>; services: Array<{ name: string; pid: number; from: string[]; to: string[]; group: string }> }> =>
      JSON.parse(execFileSync(process.execPath, [path.join(ROOT, 'dist/lib/cli/main.js'), 'ls', '--redis', redis.url, '--json']).toString());
    let listing = await ls();
    const mine = (): Array<{ name: string; pid: number; from: string[]; group: string }> => listing.services.filter((service) => service.from.includes(`${prefix}in`));
    expect(mine().map((service) => service.name).sort()).to.deep.equal(['alive', 'doomed']);
    expect(mine().find((service) => service.name === 'alive')).to.deep.include({ pid: a.pid, group: 'g' });
    const topic = listing.topics.find((each) => each.name === `${prefix}in`)!;
    expect(topic.groups[0]!.consumers.map((each) => [each.name, each.live]).sort()).to.deep.equal([
      ['alive', true],
      ['doomed', true],
    ]);
    const table = execFileSync(process.execPath, [path.join(ROOT, 'dist/lib/cli/main.js'), 'ls', '--redis', redis.url]).toString();
    expect(table).to.match(/^TOPIC\s+LENGTH\s+GROUP/m);
    expect(table).to.match(new RegExp(`worker\\s+\\S+\\s+${b.pid}\\s+doomed\\s+g\\s+${prefix}in\\s+${prefix}out`));
    b.signal('SIGKILL');
    const killedAt = Date.now();
    await until('the killed worker to leave the listing', async () => {
      listing = await ls();
      return mine().length === 1;
    }, 5000);
    // Not before its TTL: a killed process cannot say goodbye.
    expect(Date.now() - killedAt).to.be.at.least(500);
    expect(mine()[0]!.name).to.equal('alive');
    a.signal('SIGTERM');
    expect((await a.exited).code).to.equal(0);
    listing = await ls();
    expect(mine()).to.deep.equal([]);
    // A clean exit with nothing pending also takes the name out of the group; the killed one's stays.
    const group = listing.topics.find((each) => each.name === `${prefix}in`)!.groups[0]!;
    expect(group.consumers.map((each) => [each.name, each.live])).to.deep.equal([['doomed', false]]);
  });

  it('ls shows a dead group member holding pending entries as such, and lists bridges too', async () => {
    const plugin = path.join(dir, 'plugin.py');
    fs.writeFileSync(plugin, PLUGIN);
    // A program that takes its time: the worker holds the entries, unacknowledged, when it dies.
    const stuck = workWith({ DELAY: '100' }, '--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'h', '--name', 'stuck', '--ttl', '500', '--reply', '--', 'python3', plugin);
    const bridge = new CliProcess(redis.url, ['bridge', '--topic', `${prefix}in`, '--group', 'b', '--name', 'br', '--out', path.join(dir, 'out')]);
    procs.push(bridge);
    await ready(stuck);
    await transport.append(`${prefix}in`, ['a', 'b', 'c']);
    await until('the entries to be pending', async () => Number(((await transport.command(['XPENDING', `${prefix}in`, 'h'])) as unknown[])[0]) === 3, 5000);
    stuck.signal('SIGKILL');
    const main = path.join(ROOT, 'dist/lib/cli/main.js');
    let table = '';
    const bridgeRow = new RegExp(`bridge\\s+\\S+\\s+${bridge.pid}\\s+br\\s+b\\s+${prefix}in\\s`);
    await until('the dead member and the bridge in the table', () => {
      table = execFileSync(process.execPath, [main, 'ls', '--redis', redis.url]).toString();
      return table.includes('stuck (dead, 3 pending)') && bridgeRow.test(table);
    }, 10_000);
    expect(table).to.not.match(/worker\s+\S+\s+\d+\s+stuck\s/);
  });

  it('codec yaml and --meta: a YAML program and a JSON topic share a pipeline; outputs carry where they came from', async () => {
    // The program edits YAML flow text: it sees `{ a: 1, s: x y }`, not JSON.
    const worker = work('--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--name', 'yam', '--codec', 'yaml', '--meta', '--', 'sed', 's/ }$/, seen: yes }/');
    await ready(worker);
    await transport.append(`${prefix}in`, ['{"a":1,"s":"x y"}']);
    await until('the output', async () => (await contents(`${prefix}out`)).length === 1, 10_000);
    const value = JSON.parse((await contents(`${prefix}out`))[0]!) as Record<string, unknown>;
    expect(value).to.deep.include({ a: 1, s: 'x y', seen: 'yes' });
    expect(value['__pipe_io']).to.deep.include({ worker: 'yam', from: `${prefix}in`, pid: worker.pid, host: os.hostname() });
  });

  it('--max-len trims the output topic to about N entries (XADD MAXLEN ~), oldest first', async () => {
    const worker = work('--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--max-len', '100', '--', 'cat');
    await ready(worker);
    const inputs = Array.from({ length: 3000 }, (_, i) => `m${i}`);
    await transport.append(`${prefix}in`, inputs);
    await until('the last message out', async () => {
      const last = (await transport.command(['XREVRANGE', `${prefix}out`, '+', '-', 'COUNT', '1'])) as Array<[Buffer, Buffer[]]>;
      return last[0]?.[1][1]?.toString() === 'm2999';
    }, 20_000);
    const length = Number(await transport.command(['XLEN', `${prefix}out`]));
    // '~' trims whole stream nodes (stream-node-max-entries, 100 by default): N plus one node at most.
    expect(length).to.be.within(100, 200);
    const kept = await contents(`${prefix}out`);
    expect(kept.at(-1)).to.equal('m2999');
    expect(kept).to.not.include('m0');
  });

  it('stdio: a slow program leaves the rest in the stream; the worker reads only what its pipe takes', async () => {
    const worker = work('--from', `${prefix}in`, '--to', `${prefix}out`, '--group', 'g', '--', 'bash', '-c', 'while IFS= read -r line; do echo "${#line}"; sleep 0.005; done');
    await ready(worker);
    // 1000-byte messages: the program's 64 KiB pipe holds about 64, the worker's write buffer a few dozen more.
    const body = 'x'.repeat(999);
    await transport.append(`${prefix}in`, Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(4, '0')}${body.slice(4)}`));
    await until('some output', async () => (await contents(`${prefix}out`)).length >= 20, 10_000);
    await sleep(500);
    const groups = (await transport.command(['XINFO', 'GROUPS', `${prefix}in`])) as unknown[][];
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < groups[0]!.length; i += 2) info.set(String(groups[0]![i]), groups[0]![i + 1]);
    const read = Number(String(info.get('entries-read')));
    const done = (await contents(`${prefix}out`)).length;
    // Read from the stream: what was handled, plus the pipe and a read or two; never the whole topic.
    expect(read - done).to.be.at.most(64 + 16 + 2 * 128 + 20);
    expect(read).to.be.below(3000);
  });

  it('without --to the worker is a sink: the output comes out on its stdout', async () => {
    const sink = work('--from', `${prefix}in`, '--group', 'g', '--', 'tr', 'a-z', 'A-Z');
    await ready(sink);
    await transport.append(`${prefix}in`, ['first', 'second']);
    await until('the output on stdout', () => sink.lines.length === 2, 10_000);
    expect(sink.lines).to.deep.equal(['FIRST', 'SECOND']);
  });

  it('usage errors: --meta without a structured codec, a missing --group, an unknown program', async () => {
    const run = (...args: string[]): { status: number | null; stderr: string } => {
      try {
        execFileSync(process.execPath, [path.join(ROOT, 'dist/lib/cli/main.js'), 'work', '--redis', redis.url, ...args], { stdio: 'pipe' });
        return { status: 0, stderr: '' };
      } catch (error) {
        const failed = error as { status: number | null; stderr: Buffer };
        return { status: failed.status, stderr: failed.stderr.toString() };
      }
    };
    expect(run('--from', 'x', '--group', 'g', '--meta', '--', 'cat')).to.deep.include({ status: 2 });
    expect(run('--from', 'x', '--', 'cat')).to.deep.include({ status: 2 });
    const missing = run('--from', `${prefix}x`, '--group', 'g', '--', 'no-such-program-here');
    expect(missing.status).to.equal(127);
    expect(missing.stderr).to.include('command not found');
    await sleep(0);
  });
});
