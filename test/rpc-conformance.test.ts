/**
 * Every example at the end of the JSON-RPC 2.0 specification, sent as raw lines through a
 * real FIFO pair to an RpcPeer, gets exactly the response the specification shows (batch
 * replies in any order, as it allows), and notifications get none.
 */
import { expect } from 'chai';
import { type PipeIOClient, RpcPeer, type RpcWarning } from '../lib/index.js';
import { type FifoPair, LineReader, fifoPair } from './helpers/rpc.js';

/** [request line, expected reply (undefined: none)], in the specification's order. */
const EXAMPLES: [string, string, unknown][] = [
  ['positional params', '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}', { jsonrpc: '2.0', result: 19, id: 1 }],
  ['positional params, reversed', '{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}', { jsonrpc: '2.0', result: -19, id: 2 }],
  ['named params', '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}', { jsonrpc: '2.0', result: 19, id: 3 }],
  ['named params, other order', '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}', { jsonrpc: '2.0', result: 19, id: 4 }],
  ['a notification', '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', undefined],
  ['a notification of a missing method', '{"jsonrpc": "2.0", "method": "foobar"}', undefined],
  ['a non-existent method', '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}', { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: '1' }],
  ['invalid JSON', '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]', { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }],
  ['an invalid Request object', '{"jsonrpc": "2.0", "method": 1, "params": "bar"}', { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }],
  [
    'a batch of invalid JSON',
    '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]',
    { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null },
  ],
  ['an empty array', '[]', { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }],
  ['an invalid batch, not empty', '[1]', [{ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null }]],
  [
    'an invalid batch',
    '[1,2,3]',
    [
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
    ],
  ],
  [
    'a batch',
    '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}, {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"}, {"foo": "boo"}, {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"}, {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]',
    [
      { jsonrpc: '2.0', result: 7, id: '1' },
      { jsonrpc: '2.0', result: 19, id: '2' },
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
      { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: '5' },
      { jsonrpc: '2.0', result: ['hello', 5], id: '9' },
    ],
  ],
  ['a batch of notifications', '[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]', undefined],
];

/** JSON with sorted keys: member order means nothing in JSON. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
/** Batch replies compared as sets (the specification lets them come in any order). */
const normalize = (value: unknown): unknown => (Array.isArray(value) ? value.map(canonical).sort() : canonical(value));

describe('RPC: the JSON-RPC 2.0 specification examples', () => {
  let pair: FifoPair;
  let peer: RpcPeer;
  const calls: string[] = [];
  const warnings: RpcWarning[] = [];

  before(async () => {
    pair = await fifoPair();
    peer = new RpcPeer(pair.server, {
      methods: {
        subtract: (p: number[] | { minuend: number; subtrahend: number }) => (Array.isArray(p) ? p[0]! - p[1]! : p.minuend - p.subtrahend),
        sum: (p: number[]) => p.reduce((a, b) => a + b, 0),
        update: (p: unknown) => void calls.push(`update ${JSON.stringify(p)}`),
        notify_hello: (p: unknown) => void calls.push(`notify_hello ${JSON.stringify(p)}`),
        // Async on purpose: a batch waits for its slowest entry.
        get_data: async () => ['hello', 5],
      },
    });
    peer.on('warning', (w) => warnings.push(w));
  });
  after(async () => {
    await peer.close();
    await pair.close();
  });

  /** Sends `line`, then a sentinel request; returns every reply that came before the sentinel's. */
  async function exchange(client: PipeIOClient, reader: LineReader, line: string): Promise<unknown[]> {
    await client.send(line);
    await client.send('{"jsonrpc": "2.0", "method": "subtract", "params": [0, 0], "id": "sentinel"}');
    const replies: unknown[] = [];
    for (;;) {
      const reply = JSON.parse(await reader.next(5000, `the reply to ${line}`));
      if (reply?.id === 'sentinel') return replies;
      replies.push(reply);
    }
  }

  for (const [name, line, expected] of EXAMPLES) {
    it(`${name}: ${line.length > 60 ? line.slice(0, 60) + '…' : line}`, async () => {
      const reader = new LineReader(pair.client);
      const replies = await exchange(pair.client, reader, line);
      if (expected === undefined) expect(replies, 'a notification gets no reply').to.deep.equal([]);
      else {
        expect(replies).to.have.length(1);
        expect(normalize(replies[0])).to.deep.equal(normalize(expected));
      }
    });
  }

  it('ran the notifications it received, in order, and reported the bad lines as warnings', () => {
    expect(calls).to.deep.equal(['update [1,2,3,4,5]', 'notify_hello [7]', 'notify_hello [7]']);
    const kinds = warnings.map((w) => w.kind);
    // foobar and notify_sum (notifications nobody serves), the parse errors, the invalid requests.
    expect(kinds.filter((k) => k === 'unknown-notification')).to.have.length(2);
    expect(kinds.filter((k) => k === 'parse')).to.have.length(2);
    expect(kinds.filter((k) => k === 'invalid')).to.have.length(1 + 1 + 1 + 3 + 1);
    expect(peer.state).to.equal('open');
  });
});
