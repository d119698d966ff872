/**
 * Plugins do not outlive their host, however it dies: real hosts, real plugins in bash,
 * Python and C, real signals, the real watchdog.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killGroup, procState, sleep, waitFor, within } from './helpers/fixtures.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, 'fixtures');
const CLI = path.resolve(HERE, '../lib/cli/main.js');


/** Whether `pid` runs (a zombie does not: this sandbox's pid 1 may never reap orphans). */
const running = (pid: number): boolean => ![null, 'Z', 'X'].includes(procState(pid));

/** Live (not zombie) members of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

/** The first line `child` prints on stdout. */
function firstLine(child: ChildProcess, what: string): Promise<string> {
  let out = '';
  return within(
    new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
      child.once('exit', (code, signal) => reject(new Error(`${what} exited (${code ?? signal}) before printing a line: ${out}`)));
    }),
    15_000,
    what,
  );
}

describe('plugins do not outlive their host', function () {
  this.timeout(30_000);
  let dir: string;
  let children: ChildProcess[];
  /** Plugin groups to kill if a test fails: a failure must not leave orphans behind. */
  let groups: number[];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-host-death-'));
    children = [];
    groups = [];
  });

  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pgid of groups) killGroup(pgid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('SIGKILL of the host: three plugins that ignore SIGTERM or their pipe are gone, with their groups and folders, within 1 s', async () => {
    const busy = path.join(dir, 'busy');
    const source = path.join(dir, 'busy.c');
    fs.writeFileSync(source, '#include <signal.h>\nint main(void) { volatile unsigned long n = 0; signal(SIGTERM, SIG_IGN); for (;;) n++; }\n');
    const cc = spawnSync('cc', ['-O0', '-o', busy, source], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).to.equal(0);

    const host = spawn(process.execPath, [path.join(FIXTURES, 'kill-host.js'), dir, busy], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(host);
    const { pids, dirs, grandchild } = JSON.parse(await firstLine(host, 'the host')) as { pids: number[]; dirs: string[]; grandchild: number };
    expect(pids).to.have.length(3);
    groups.push(...pids);
    // Each leads its own group, runs, and has its folder with the FIFOs.
    for (const pid of pids) expect(groupMembers(pid), `group ${pid}`).to.include(pid);
    expect(running(grandchild), 'the bash plugin\'s child').to.equal(true);
    for (const folder of dirs) expect(fs.statSync(path.join(folder, 'recv')).isFIFO(), folder).to.equal(true);
    await sleep(100); // every plugin settled in its blocking read, busy loop or sleep

    const killed = Date.now();
    host.kill('SIGKILL');
    const everythingGone = (): boolean => pids.every((pid) => groupMembers(pid).length === 0) && !running(grandchild) && dirs.every((folder) => !fs.existsSync(folder));
    await waitFor(everythingGone, 'all three plugin groups and their folders gone', 1000).catch((error: Error) => {
      const left = pids.map((pid) => `${pid}: [${groupMembers(pid).join(' ')}]`).join(', ');
      throw new Error(`${error.message}; groups left: ${left}; folders left: ${dirs.filter((d) => fs.existsSync(d)).join(' ')}`);
    });
    expect(Date.now() - killed).to.be.below(1000);
  });

  it('an orderly exit (process.exit) still stops the plugin gently: SIGTERM first, SIGKILL only after its gracePeriod', async () => {
    const marker = path.join(dir, 'marker');
    const grace = 1500;
    const host = spawn(process.execPath, [path.join(FIXTURES, 'exit-host.js'), marker, String(grace)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(host);
    const [pid, grandchild, folder] = (await firstLine(host, 'the host')).split(' ');
    groups.push(Number(pid));
    const exited = await within(new Promise((resolve) => host.on('exit', resolve)), 10_000, 'host exit');
    const exitedAt = Date.now();
    expect(exited).to.equal(0);
    expect(folder).to.match(/pipe-io-plugin-/);
    // SIGTERM reaches it at once; it ignores it and must be left alone for the grace period.
    await waitFor(() => fs.existsSync(marker), 'SIGTERM to reach the plugin', 1000);
    await sleep(Math.max(0, exitedAt + grace / 2 - Date.now()));
    expect(running(Number(pid)), 'the plugin, halfway through its grace period').to.equal(true);
    expect(fs.existsSync(folder!), 'its folder, halfway through the grace period').to.equal(true);
    await waitFor(() => !running(Number(pid)) && !running(Number(grandchild)) && !fs.existsSync(folder!), 'the plugin group SIGKILLed and its folder removed', grace + 2000);
    expect(Date.now() - exitedAt).to.be.at.least(grace - 100);
    expect(fs.readFileSync(marker, 'utf8')).to.equal('term\n'); // one SIGTERM, not one per party
  });

  it('SIGKILL of `pipe-io run`: its plugin (ignoring SIGTERM) is gone and its folder removed within 1 s', async () => {
    const script = `trap '' TERM; echo "$$ $(dirname "$PIPE_IO_SEND")" > "$PIPE_IO_SEND"; while :; do sleep 0.05; done`;
    const cli = spawn(process.execPath, [CLI, 'run', '--', 'bash', '-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(cli);
    const [pid, folder] = (await firstLine(cli, 'pipe-io run')).split(' ');
    groups.push(Number(pid));
    expect(running(Number(pid))).to.equal(true);
    const killed = Date.now();
    cli.kill('SIGKILL');
    await waitFor(() => groupMembers(Number(pid)).length === 0 && !fs.existsSync(folder!), 'the plugin group gone and its folder removed', 1000);
    expect(Date.now() - killed).to.be.below(1000);
  });

  it('a killed watchdog is replaced and told everything: a SIGKILL of the host afterwards still takes the plugin', async () => {
    const host = spawn(process.execPath, [path.join(FIXTURES, 'watchdog-host.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(host);
    const lines: string[] = [];
    let buffer = '';
    host.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buffer += s;
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      lines.push(...parts);
    });
    await waitFor(() => lines.length >= 1, 'the host starts its plugin', 15_000);
    const [watchdog, pid, folder] = lines[0]!.split(' ');
    groups.push(Number(pid));
    process.kill(Number(watchdog), 'SIGKILL');
    await waitFor(() => lines.length >= 2, 'a new watchdog', 5000);
    expect(lines[1]).to.not.equal(watchdog);
    await sleep(50); // the new watchdog reads what the host told it
    expect(running(Number(pid)), 'the plugin, while its host lives').to.equal(true);
    host.kill('SIGKILL');
    await waitFor(() => groupMembers(Number(pid)).length === 0 && !fs.existsSync(folder!), 'the plugin gone and its folder removed', 1000);
  });
});
