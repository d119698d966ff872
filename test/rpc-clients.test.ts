/**
 * The bash (jq) and C RPC example plugins, driven by a Node RpcPeer and by raw lines, and the
 * `pipe-io call` command against them and the Python example.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PluginHandle, RpcError, RpcErrorCodes, RpcPeer, spawnPlugin } from '../lib/index.js';
import { run, tempDir, within } from './helpers/fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLIENTS = path.join(ROOT, 'clients');
const CLI = path.join(ROOT, 'dist', 'lib', 'cli', 'main.js');
const BASH_PLUGIN = path.join(CLIENTS, 'bash', 'example-rpc-plugin.sh');
const PY_PLUGIN = path.join(CLIENTS, 'python', 'example_rpc_plugin.py');
const CC_FLAGS = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-D_POSIX_C_SOURCE=200809L', '-pthread', '-O2'];

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  const error = await promise.then(
    (value) => new Error(`expected a rejection, got ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  if (!(error instanceof RpcError)) throw error;
  return error;
}

/** Sends raw lines, then a sentinel request; returns the replies that came before the sentinel's. */
async function exchange(plugin: PluginHandle, lines: AsyncIterator<string>, sent: string[]): Promise<unknown[]> {
  for (const line of sent) await plugin.send(line);
  await plugin.send('{"jsonrpc":"2.0","id":"sentinel","method":"add","params":[0,0]}');
  const replies: unknown[] = [];
  for (;;) {
    const next = await within(lines.next(), 10_000, `the replies to ${sent.join(' ')}`);
    if (next.done) throw new Error('the plugin ended');
    const reply = JSON.parse(next.value) as { id?: unknown };
    if (reply.id === 'sentinel') return replies;
    replies.push(reply);
  }
}

const err = (id: unknown, code: number, message: string): unknown => ({ jsonrpc: '2.0', id, error: { code, message } });

/** What both example plugins must do, whatever they are written in. */
function commonBehaviour(start: () => Promise<PluginHandle>): void {
  it('answers add through RpcPeer, with -32602 and -32601 for bad params and other methods', async () => {
    await using plugin = await start();
    const rpc = new RpcPeer(plugin);
    expect(await rpc.request('add', [2, 40])).to.equal(42);
    expect((await rejection(rpc.request('add', [1]))).code).to.equal(RpcErrorCodes.InvalidParams);
    expect((await rejection(rpc.request('add', { a: 1 }))).code).to.equal(RpcErrorCodes.InvalidParams);
    expect((await rejection(rpc.request('nope'))).code).to.equal(RpcErrorCodes.MethodNotFound);
    expect(rpc.stats).to.include({ unknownResponses: 0, malformed: 0 });
  });

  it('echoes any id, ignores notifications and responses, answers garbage with -32700', async () => {
    await using plugin = await start();
    const lines = plugin.messages();
    expect(
      await exchange(plugin, lines, [
        '{"jsonrpc":"2.0","id":"a b","method":"add","params":[1,2]}',
        '{"jsonrpc":"2.0","method":"add","params":[1,2]}',
        '{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}',
        '{"jsonrpc":"2.0","id":5,"result":1}',
        '{"jsonrpc":"2.0","id":null,"method":"add","params":[-5,2]}',
        '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
      ]),
    ).to.deep.equal([
      { jsonrpc: '2.0', id: 'a b', result: 3 },
      { jsonrpc: '2.0', id: null, result: -3 },
      err(null, -32700, 'Parse error'),
    ]);
  });
}

describe('RPC: the bash example plugin (jq)', () => {
  const start = () => spawnPlugin('bash', [BASH_PLUGIN]);
  commonBehaviour(start);

  it('serves upper by name, and answers batches as the specification says', async () => {
    await using plugin = await start();
    const lines = plugin.messages();
    expect(
      await exchange(plugin, lines, [
        '{"jsonrpc":"2.0","id":1,"method":"upper","params":{"text":"héllo"}}',
        '[{"jsonrpc":"2.0","id":2,"method":"add","params":[1,1]},{"jsonrpc":"2.0","method":"add","params":[0,0]},{"foo":"boo"}]',
        '[]',
        '[{"jsonrpc":"2.0","method":"add","params":[0,0]}]',
        '{"jsonrpc":"2.0","method":1,"params":"bar"}',
      ]),
    ).to.deep.equal([
      { jsonrpc: '2.0', id: 1, result: 'HéLLO' },
      [{ jsonrpc: '2.0', id: 2, result: 2 }, err(null, -32600, 'Invalid Request')],
      err(null, -32600, 'Invalid Request'),
      err(null, -32600, 'Invalid Request'),
    ]);
  });
});

describe('RPC: the C example plugin', () => {
  let dir: string;
  let cleanup: () => void;
  let binary: string;
  before(() => {
    ({ dir, cleanup } = tempDir('pipe-io-crpc-'));
    binary = path.join(dir, 'example_rpc');
    const cc = spawnSync('cc', [...CC_FLAGS, '-I', path.join(CLIENTS, 'c'), '-o', binary, path.join(CLIENTS, 'c', 'example_rpc.c'), path.join(CLIENTS, 'c', 'pipe_io_client.c')], {
      encoding: 'utf8',
    });
    if (cc.status !== 0) throw new Error(`cc failed:\n${cc.stderr}`);
  });
  after(() => cleanup());
  commonBehaviour(() => spawnPlugin(binary));

  it('answers a batch with one -32600 (it does not do batches), and refuses an overflowing sum', async () => {
    await using plugin = await spawnPlugin(binary);
    const lines = plugin.messages();
    expect(await exchange(plugin, lines, ['[{"jsonrpc":"2.0","id":2,"method":"add","params":[1,1]}]', '{"jsonrpc":"2.0","id":3,"method":"add","params":[9223372036854775807,1]}'])).to.deep.equal([
      err(null, -32600, 'Invalid Request'),
      err(3, -32602, 'Invalid params: the sum overflows'),
    ]);
  });

  it('works with pipe-io call', async () => {
    const result = await run('node', [CLI, 'call', 'add', '[20, 22]', '--', binary]).done;
    expect(result).to.include({ code: 0, stdout: '42\n' });
  });
});

describe('RPC: pipe-io call', () => {
  const call = (...args: string[]) => run('node', [CLI, 'call', ...args], { PYTHONDONTWRITEBYTECODE: '1' }).done;

  it('prints the result as JSON and exits 0', async () => {
    expect(await call('upper', '{"text": "shout"}', '--', 'bash', BASH_PLUGIN)).to.include({ code: 0, stdout: '"SHOUT"\n', stderr: '' });
    expect(await call('add', '[2, 3]', '--', 'python3', PY_PLUGIN)).to.include({ code: 0, stdout: '5\n' });
  });

  it('prints an error reply on stderr (code, message, data) and exits 1', async () => {
    const failed = await call('resize', '{"w": -1}', '--', 'python3', PY_PLUGIN);
    expect(failed).to.include({ code: 1, stdout: '' });
    expect(failed.stderr).to.equal('-32602 w must be a positive number\n{"w":-1}\n');
    expect(await call('nope', '--', 'bash', BASH_PLUGIN)).to.include({ code: 1, stderr: '-32601 Method not found\n' });
  });

  it('exits 124 on timeout, 1 when the plugin dies first, 127 for a missing command, 2 for bad usage', async () => {
    const started = Date.now();
    const slow = await call('--timeout', '200', 'add', '[1, 2]', '--', 'bash', '-c', 'exec 3<"$PIPE_IO_RECV"; sleep 30');
    expect(slow.code).to.equal(124);
    expect(slow.stderr).to.match(/no reply to 'add' within 200 ms/);
    expect(Date.now() - started).to.be.lessThan(8000);
    const dead = await call('add', '[1, 2]', '--', 'bash', '-c', 'exec 3<"$PIPE_IO_RECV"; read -r line <&3; exit 7');
    expect(dead.code).to.equal(1);
    expect(dead.stderr).to.match(/exited with status 7 before answering 'add'/);
    expect((await call('add', '--', 'no-such-command-here')).code).to.equal(127);
    for (const args of [['add', '[1,2]'], ['add', '7', '--', 'true'], ['add', 'nope{', '--', 'true'], ['--', 'true']]) {
      const bad = await call(...args);
      expect(bad.code, args.join(' ')).to.equal(2);
    }
  });
});
