/**
 * Interoperability with an implementation written elsewhere: the `json-rpc-2.0` package, in
 * a real plugin process across a FIFO pair, in both directions (the host's RpcPeer calls it,
 * and it calls the host's RpcPeer, alone and in a batch).
 */
import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PluginHandle, RpcError, RpcErrorCodes, RpcPeer, type RpcWarning, spawnPlugin } from '../lib/index.js';
import { waitFor } from './helpers/fixtures.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('RPC: interop with the json-rpc-2.0 package', () => {
  let plugin: PluginHandle;
  let rpc: RpcPeer;
  const told: unknown[] = [];
  const warnings: RpcWarning[] = [];

  before(async () => {
    plugin = await spawnPlugin('node', [path.join(FIXTURES, 'jsonrpc2-plugin.js')]);
    rpc = new RpcPeer(plugin, {
      methods: {
        mul: ([a, b]: number[]) => a! * b!,
        greet: async ({ name }: { name: string }) => `hello ${name}`,
        refuse: () => {
          throw new RpcError(-32050, 'not today', { retryAfter: 5 });
        },
        told: (params: unknown) => void told.push(params),
      },
    });
    rpc.on('warning', (w) => warnings.push(w));
  });
  after(async () => {
    await rpc.close();
    await plugin.stop();
  });

  it('RpcPeer calls json-rpc-2.0: results, its errors, an unknown method', async () => {
    expect(await rpc.request('add', [2, 40])).to.equal(42);
    const fail = await rpc.request('fail').catch((e: RpcError) => e);
    expect(fail).to.be.instanceOf(RpcError).and.include({ code: 42, message: 'nope' });
    expect((fail as RpcError).data).to.deep.equal({ x: 1 });
    const missing = await rpc.request('nope').catch((e: RpcError) => e);
    expect(missing).to.be.instanceOf(RpcError).and.include({ code: RpcErrorCodes.MethodNotFound });
  });

  it('json-rpc-2.0 calls RpcPeer: results, RpcError, an unknown method', async () => {
    expect(await rpc.request('askHost', { method: 'mul', params: [6, 7] })).to.deep.equal({ result: 42 });
    expect(await rpc.request('askHost', { method: 'greet', params: { name: 'ada' } })).to.deep.equal({ result: 'hello ada' });
    expect(await rpc.request('askHost', { method: 'refuse' })).to.deep.equal({ error: { code: -32050, message: 'not today', data: { retryAfter: 5 } } });
    expect(await rpc.request('askHost', { method: 'absent' })).to.deep.equal({ error: { code: -32601, message: 'Method not found' } });
  });

  it('json-rpc-2.0 sends RpcPeer a batch and gets every answer', async () => {
    const responses = (await rpc.request('askHostBatch', { calls: [['mul', [2, 3]], ['greet', { name: 'bo' }], ['absent', []]] })) as { id: number }[];
    expect(responses.sort((a, b) => a.id - b.id)).to.deep.equal([
      { jsonrpc: '2.0', id: 1, result: 6 },
      { jsonrpc: '2.0', id: 2, result: 'hello bo' },
      { jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'Method not found' } },
    ]);
  });

  it('notifications go both ways', async () => {
    await rpc.notify('tell', { n: 1 });
    await waitFor(() => told.length === 1, 'the notification back');
    expect(told).to.deep.equal([{ n: 1 }]);
    expect(warnings).to.deep.equal([]);
  });
});
