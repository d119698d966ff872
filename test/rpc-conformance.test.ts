/**
 * Every example at the end of the JSON-RPC 2.0 specification, sent as raw lines through a
 * real FIFO pair to an RpcPeer, gets exactly the response the specification shows (batch
 * replies in any order, as it allows), and notifications get none.
 */
import { expect } from 'chai';
import { type PipeIOClient, RpcPeer, type RpcWarning } from '../lib/index.js';
import { type FifoPair, LineReader, fifoPair } from './helpers/rpc.js';
import { EXAMPLES, normalize } from './helpers/spec-examples.js';


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
