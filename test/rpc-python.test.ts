/**
 * The Python RPC client (clients/python/pipe_io_rpc.py) in real python3 plugin processes:
 * the example plugin driven by a Node RpcPeer, calls back into the host, errors without
 * tracebacks, timeouts, and every JSON-RPC 2.0 specification example as raw lines.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PluginHandle, RpcError, RpcErrorCodes, RpcPeer, type RpcWarning, spawnPlugin } from '../lib/index.js';
import { tempDir, waitFor, within } from './helpers/fixtures.js';
import { EXAMPLES, normalize } from './helpers/spec-examples.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = path.join(ROOT, 'clients', 'python');
// No __pycache__ left in clients/python by the test run.
const ENV = { PYTHONDONTWRITEBYTECODE: '1', PYTHONPATH: PYTHON };

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  const error = await promise.then(
    (value) => new Error(`expected a rejection, got ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  if (!(error instanceof RpcError)) throw error;
  return error;
}

/** Collects a piped stream into a string. */
function collect(plugin: PluginHandle): { text: string } {
  const out = { text: '' };
  plugin.stderr!.setEncoding('utf8').on('data', (s: string) => (out.text += s));
  plugin.stdout!.resume();
  return out;
}

describe('RPC: the Python client', () => {
  it('the example plugin serves resize and add, calls back into the host, and checks its params', async () => {
    await using plugin = await spawnPlugin('python3', [path.join(PYTHON, 'example_rpc_plugin.py')], { env: ENV, stdio: 'pipe' });
    const stderr = collect(plugin);
    const logs: unknown[] = [];
    const rpc = new RpcPeer(plugin, { methods: { scale: () => 2, log: (p: unknown) => void logs.push(p) } });
    expect(await rpc.request('resize', { w: 640 })).to.deep.equal({ w: 1280, h: 960 });
    expect(await rpc.request('resize', [100, 50])).to.deep.equal({ w: 200, h: 100 });
    await waitFor(() => logs.length === 2, 'the log notifications');
    expect(logs).to.deep.equal([{ resized: [640, 480] }, { resized: [100, 50] }]);
    expect(await rpc.request('add', [1, 2])).to.equal(3);

    const negative = await rejection(rpc.request('resize', { w: -1 }));
    expect(negative).to.include({ code: RpcErrorCodes.InvalidParams, message: 'w must be a positive number' });
    expect(negative.data).to.deep.equal({ w: -1 });
    const missing = await rejection(rpc.request('resize', { q: 1 }));
    expect(missing.code).to.equal(RpcErrorCodes.InvalidParams);
    expect((await rejection(rpc.request('nope'))).code).to.equal(RpcErrorCodes.MethodNotFound);

    // A plain exception: the host gets its message, never the traceback; stderr gets the traceback.
    const failed = await rejection(rpc.request('add', ['a', 1]));
    expect(failed.code).to.equal(RpcErrorCodes.InternalError);
    expect(failed.message).to.match(/can only concatenate str/);
    expect(failed.data).to.equal(undefined);
    await waitFor(() => stderr.text.includes('Traceback'), 'the traceback on stderr');
    expect(rpc.stats.unknownResponses).to.equal(0);
  });

  describe('as a server of the specification examples', () => {
    let dir: string;
    let cleanup: () => void;
    let plugin: PluginHandle;
    let lines: AsyncIterator<string>;
    before(async () => {
      ({ dir, cleanup } = tempDir('pipe-io-pyrpc-'));
      fs.writeFileSync(
        path.join(dir, 'spec.py'),
        [
          'from pipe_io_rpc import RpcPeer, RpcError',
          'rpc = RpcPeer()',
          'calls = []',
          '@rpc.method',
          'def subtract(minuend, subtrahend): return minuend - subtrahend',
          '@rpc.method("sum")',
          'def sum_(*numbers): return sum(numbers)',
          '@rpc.method',
          'def update(*args): calls.append("update %s" % list(args))',
          '@rpc.method',
          'def notify_hello(*args): calls.append("notify_hello %s" % list(args))',
          '@rpc.method',
          'def get_data(): return ["hello", 5]',
          '@rpc.method',
          'def get_calls(): return calls',
          '@rpc.method',
          'def ask_host(method, timeout):',
          '    try: return {"result": rpc.request(method, timeout=timeout)}',
          '    except RpcError as e: return {"error": e.code}',
          'rpc.serve()',
        ].join('\n'),
      );
      plugin = await spawnPlugin('python3', [path.join(dir, 'spec.py')], { env: ENV, stdio: 'pipe' });
      collect(plugin);
      lines = plugin.messages();
    });
    after(async () => {
      await plugin.stop();
      cleanup();
    });

    async function exchange(line: string): Promise<unknown[]> {
      await plugin.send(line);
      await plugin.send('{"jsonrpc": "2.0", "method": "subtract", "params": [0, 0], "id": "sentinel"}');
      const replies: unknown[] = [];
      for (;;) {
        const next = await within(lines.next(), 10_000, `the reply to ${line}`);
        if (next.done) throw new Error('the plugin ended');
        const reply = JSON.parse(next.value);
        if (reply?.id === 'sentinel') return replies;
        replies.push(reply);
      }
    }

    for (const [name, line, expected] of EXAMPLES) {
      it(`${name}`, async () => {
        const replies = await exchange(line);
        if (expected === undefined) expect(replies).to.deep.equal([]);
        else {
          expect(replies).to.have.length(1);
          expect(normalize(replies[0])).to.deep.equal(normalize(expected));
        }
      });
    }

    it('ran the notifications, and survives a request back to a host that never answers (timeout)', async () => {
      await plugin.send('{"jsonrpc":"2.0","id":"c","method":"get_calls"}');
      const calls = (JSON.parse((await lines.next()).value as string) as { result: unknown }).result;
      expect(calls).to.deep.equal(['update [1, 2, 3, 4, 5]', 'notify_hello [7]', 'notify_hello [7]']);
      // Nobody answers the plugin's request here: its timeout ends it, and it sends $/cancelRequest.
      await plugin.send('{"jsonrpc":"2.0","id":"t","method":"ask_host","params":{"method":"anything","timeout":0.2}}');
      const request = JSON.parse((await lines.next()).value as string);
      expect(request).to.include({ jsonrpc: '2.0', method: 'anything' });
      const cancel = JSON.parse((await lines.next()).value as string);
      expect(cancel).to.deep.equal({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: request.id } });
      expect(JSON.parse((await lines.next()).value as string)).to.deep.equal({ jsonrpc: '2.0', id: 't', result: { error: RpcErrorCodes.RequestTimeout } });
      // The late reply is dropped quietly, and the plugin serves on.
      await plugin.send(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: 'late' }));
      expect(await exchange('{"jsonrpc":"2.0","method":"update","params":[]}')).to.deep.equal([]);
    });

  });

  it('answers a host that cannot parse: the host warns, the plugin serves on', async () => {
    await using plugin = await spawnPlugin('python3', [path.join(PYTHON, 'example_rpc_plugin.py')], { env: ENV, stdio: 'pipe' });
    const stderr = collect(plugin);
    const rpc = new RpcPeer(plugin, { methods: { scale: () => 1 } });
    const warnings: RpcWarning[] = [];
    rpc.on('warning', (w) => warnings.push(w));
    await plugin.send('this is not JSON');
    await waitFor(() => warnings.length === 1, 'the host to hear the -32700');
    expect(warnings[0]!.kind).to.equal('peer-error');
    expect(warnings[0]!.message).to.match(/-32700 Parse error/);
    expect(stderr.text).to.match(/not JSON/);
    expect(await rpc.request('add', [2, 2])).to.equal(4);
  });
});
