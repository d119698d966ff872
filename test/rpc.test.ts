/**
 * RpcPeer between two ends of a real FIFO pair, and with a real Node plugin process:
 * requests both ways, errors, timeouts, cancellation both ways, closing, concurrency.
 */
import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipeIOClient, PipeIOServer, RpcError, RpcErrorCodes, RpcPeer, type RpcWarning, spawnPlugin } from '../lib/index.js';
import { tempDir, waitFor, within } from './helpers/fixtures.js';
import { type FifoPair, LineReader, fifoPair } from './helpers/rpc.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Rejection of `promise`, or a failure if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    return error;
  }
}

describe('RPC: RpcPeer over a FIFO pair', () => {
  let pair: FifoPair;
  const peers: RpcPeer[] = [];
  const warnings: RpcWarning[] = [];
  const peer = (channel: ConstructorParameters<typeof RpcPeer>[0], options?: ConstructorParameters<typeof RpcPeer>[1]): RpcPeer => {
    const p = new RpcPeer(channel, options);
    p.on('warning', (w) => warnings.push(w));
    peers.push(p);
    return p;
  };
  beforeEach(async () => {
    warnings.length = 0;
    pair = await fifoPair();
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) await p.close();
    await pair.close();
  });

  it('requests and notifies both ways, with positional and named params', async () => {
    const notes: unknown[] = [];
    const host = peer(pair.server, { methods: { mul: ([a, b]: number[]) => a! * b!, note: (p: unknown) => void notes.push(p) } });
    const guest = peer(pair.client);
    guest.method('greet', async ({ name }: { name: string }) => `hello ${name}`).method('nothing', () => undefined);
    expect(await host.request('greet', { name: 'ada' })).to.equal('hello ada');
    expect(await host.request('nothing')).to.equal(null);
    expect(await guest.request('mul', [6, 7])).to.equal(42);
    await guest.notify('note', { theme: 'dark' });
    await waitFor(() => notes.length === 1, 'the notification');
    expect(notes).to.deep.equal([{ theme: 'dark' }]);
    expect(host.stats).to.include({ requestsSent: 2, responsesSent: 1, notificationsHandled: 1, pending: 0, lateResponses: 0 });
    expect(warnings).to.deep.equal([]);
  });

  it('answers with the RpcError a handler throws, and never sends a stack trace unless asked', async () => {
    const secret = () => {
      throw new Error('disk full at /srv/secret');
    };
    const host = peer(pair.server, {
      methods: {
        picky: () => {
          throw new RpcError(RpcErrorCodes.InvalidParams, 'w must be positive', { w: -1 });
        },
        secret,
      },
    });
    const guest = peer(pair.client);
    const lines: string[] = [];
    const reader = pair.client.messages();
    void (async () => {
      for await (const line of reader) lines.push(line);
    })();
    const picky = await rejection(guest.request('picky'));
    expect(picky).to.include({ code: -32602, message: 'w must be positive' });
    expect(picky.data).to.deep.equal({ w: -1 });
    const hidden = await rejection(guest.request('secret'));
    expect(hidden).to.include({ code: RpcErrorCodes.InternalError, message: 'disk full at /srv/secret' });
    expect(hidden.data).to.equal(undefined);
    expect(lines.join('\n')).not.to.match(/\\n +at |\.js:\d/);
    // Reported locally in full.
    expect(warnings.map((w) => w.kind)).to.deep.equal(['handler']);
    expect((warnings[0]!.cause as Error).stack).to.match(/secret/);
    await host.close();

    const quiet = peer(pair.server, { exposeErrors: 'none', methods: { secret } });
    expect(await rejection(guest.request('secret'))).to.include({ code: -32603, message: 'Internal error' });
    await quiet.close();
    peer(pair.server, { exposeErrors: 'stack', methods: { secret } });
    const loud = await rejection(guest.request('secret'));
    expect((loud.data as { stack: string }).stack).to.match(/Error: disk full[^]*\n\s+at /);
  });

  it('times out; the late reply is dropped and counted, never given to another caller', async () => {
    const answered: string[] = [];
    peer(pair.server, {
      methods: {
        // Ignores its signal on purpose, so that its reply comes late.
        echoAfter: async ({ value, ms }: { value: string; ms: number }) => (await sleep(ms), answered.push(value), value),
      },
    });
    const guest = peer(pair.client);
    const timedOut = await rejection(guest.request('echoAfter', { value: 'A', ms: 200 }, { timeout: 50 }));
    expect(timedOut.code).to.equal(RpcErrorCodes.RequestTimeout);
    expect(timedOut.message).to.match(/echoAfter.*50 ms/);
    // Rejected before the handler answered, whatever the machine's load (a clock bound was not).
    expect(answered).to.deep.equal([]);
    // B is pending while A's reply arrives.
    expect(await guest.request('echoAfter', { value: 'B', ms: 400 })).to.equal('B');
    expect(guest.stats).to.include({ lateResponses: 1, unknownResponses: 0, pending: 0 });
    expect(warnings).to.deep.equal([]);
  });

  it('cancels through the signal: rejects at once, and the serving handler sees its signal abort', async () => {
    let handlerSignal: AbortSignal | undefined;
    peer(pair.server, {
      methods: {
        hold: (_p: unknown, { signal }: { signal: AbortSignal }) =>
          new Promise((_resolve, reject) => {
            handlerSignal = signal;
            signal.addEventListener('abort', () => reject(signal.reason));
          }),
      },
    });
    const guest = peer(pair.client);
    const controller = new AbortController();
    const call = guest.request('hold', [], { signal: controller.signal });
    await waitFor(() => handlerSignal !== undefined, 'the handler to start');
    controller.abort(new Error('user gave up'));
    const cancelled = await rejection(call);
    expect(cancelled.code).to.equal(RpcErrorCodes.RequestCancelled);
    expect((cancelled.cause as Error).message).to.equal('user gave up');
    await waitFor(() => handlerSignal!.aborted, 'the $/cancelRequest to abort the handler');
    expect((handlerSignal!.reason as RpcError).code).to.equal(RpcErrorCodes.RequestCancelled);
    // Its -32800 reply comes back late and is dropped quietly.
    await waitFor(() => guest.stats.lateResponses === 1, 'the late -32800 reply');
    expect(await rejection(guest.request('hold', [], { signal: AbortSignal.abort() }))).to.include({ code: RpcErrorCodes.RequestCancelled });
    expect(warnings).to.deep.equal([]);
  });

  it('serves $/cancelRequest from the wire: -32800 for a running request, and for a queued one without running it', async () => {
    const started: string[] = [];
    peer(pair.server, {
      concurrency: 1,
      methods: {
        hold: (p: { tag: string }, { signal }: { signal: AbortSignal }) =>
          new Promise((_resolve, reject) => {
            started.push(p.tag);
            signal.addEventListener('abort', () => reject(new Error('stopped')));
          }),
      },
    });
    const reader = new LineReader(pair.client);
    await pair.client.send('{"jsonrpc":"2.0","id":7,"method":"hold","params":{"tag":"first"}}');
    await pair.client.send('{"jsonrpc":"2.0","id":"q","method":"hold","params":{"tag":"queued"}}');
    await waitFor(() => started.length === 1, 'the first handler');
    await pair.client.send('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"q"}}');
    expect(JSON.parse(await reader.next())).to.deep.equal({ jsonrpc: '2.0', id: 'q', error: { code: -32800, message: 'Request cancelled' } });
    await pair.client.send('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":7}}');
    expect(JSON.parse(await reader.next())).to.deep.equal({ jsonrpc: '2.0', id: 7, error: { code: -32800, message: 'Request cancelled' } });
    await sleep(50);
    expect(started).to.deep.equal(['first']);
    // A handler that stops because it was cancelled is not a failure worth a warning.
    expect(warnings).to.deep.equal([]);
  });

  it('rejects pending requests at once when the channel closes, and aborts running handlers', async () => {
    let handlerSignal: AbortSignal | undefined;
    const host = peer(pair.server);
    const guest = peer(pair.client, {
      methods: { hold: (_p: unknown, { signal }: { signal: AbortSignal }) => ((handlerSignal = signal), new Promise(() => {})) },
    });
    const call = host.request('hold');
    await waitFor(() => handlerSignal !== undefined, 'the handler to start');
    const closedAt = Date.now();
    await pair.server.stop();
    const closed = await rejection(call);
    expect(closed.code).to.equal(RpcErrorCodes.ConnectionClosed);
    expect(Date.now() - closedAt).to.be.lessThan(500);
    expect(host.state).to.equal('closed');
    // The client sees end of stream and closes: so does its peer, aborting its handler.
    await within(guest.closed, 5000, 'the client-side peer to close');
    expect(handlerSignal!.aborted).to.equal(true);
    expect(await rejection(host.request('hold'))).to.include({ code: RpcErrorCodes.ConnectionClosed });
    expect(await rejection(guest.notify('x'))).to.include({ code: RpcErrorCodes.ConnectionClosed });
  });

  it('reports malformed lines as warnings and keeps serving', async () => {
    const host = peer(pair.server, { methods: { ping: () => 'pong' } });
    const reader = new LineReader(pair.client);
    for (const line of ['not json', '{"jsonrpc":"2.0","result":1}', '{"jsonrpc":"1.0","id":1,"result":1}', '{"jsonrpc":"2.0","id":99,"result":1}', '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}', '"a string"', 'null']) {
      await pair.client.send(line);
    }
    await pair.client.send('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    const replies: unknown[] = [];
    for (;;) {
      const reply = JSON.parse(await reader.next()) as { id: unknown };
      replies.push(reply);
      if (reply.id === 1) break;
    }
    expect(replies).to.deep.equal([
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } },
      { jsonrpc: '2.0', id: 1, result: 'pong' },
    ]);
    expect(warnings.map((w) => w.kind)).to.deep.equal(['parse', 'invalid', 'invalid', 'unknown-response', 'peer-error', 'invalid', 'invalid']);
    expect(warnings[0]!.line).to.equal('not json');
    expect(host.stats).to.include({ malformed: 5, unknownResponses: 1 });
    expect(host.state).to.equal('open');
  });

  it('with no warning listener, a bad line becomes a process warning, not a crash', async () => {
    const host = new RpcPeer(pair.server, { methods: { ping: () => 'pong' } });
    peers.push(host);
    const seen: Error[] = [];
    const onWarning = (w: Error): number => seen.push(w);
    process.on('warning', onWarning);
    try {
      await pair.client.send('{{{');
      await waitFor(() => seen.some((w) => w.name === 'RpcWarning'), 'the process warning');
    } finally {
      process.off('warning', onWarning);
    }
    expect(await peer(pair.client).request('ping')).to.equal('pong');
  });

  it('refuses what cannot be JSON-RPC on the way out, and answers a result JSON cannot carry with an internal error', async () => {
    const host = peer(pair.server, { methods: { big: () => 10n, fine: () => 1 } });
    const guest = peer(pair.client);
    expect(await guest.request('x', 5 as never).catch((e: unknown) => e)).to.be.instanceOf(TypeError);
    expect(await guest.request('x', { n: 1n }).catch((e: unknown) => e)).to.be.instanceOf(TypeError);
    expect(() => host.method('rpc.discover', () => 1)).to.throw(TypeError, /reserved/);
    expect(() => new RpcPeer(pair.server, { concurrency: 0 })).to.throw(RangeError, /concurrency/);
    const big = await rejection(guest.request('big'));
    expect(big).to.include({ code: RpcErrorCodes.InternalError, message: 'The result could not be encoded as JSON' });
    expect(await guest.request('fine')).to.equal(1);
    expect(warnings.map((w) => w.kind)).to.deep.equal(['handler']);
  });

  it('says so once when the channel is not in the text codec', async () => {
    const { dir, cleanup } = tempDir('pipe-io-rpc-json-');
    const server = new PipeIOServer<unknown>(path.join(dir, 'in'), path.join(dir, 'out'), { codec: 'json' });
    await server.start();
    const client = new PipeIOClient({ send: server.inPipe, recv: server.outPipe });
    await client.connect();
    try {
      const host = peer(server);
      await client.send('{"jsonrpc":"2.0","id":1,"method":"x"}');
      await client.send('{"jsonrpc":"2.0","id":2,"method":"x"}');
      await waitFor(() => host.stats.malformed === 2, 'both lines');
      expect(warnings.map((w) => w.kind)).to.deep.equal(['not-text']);
      expect(warnings[0]!.message).to.match(/text codec/);
    } finally {
      await client.close();
      await server.stop();
      cleanup();
    }
  });

  it('runs handlers concurrently up to `concurrency`, in arrival order, and stops reading when the queue is full', async () => {
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const release: (() => void)[] = [];
    const host = peer(pair.server, {
      concurrency: 3,
      maxQueued: 4,
      methods: {
        work: async ([n]: number[]) => {
          order.push(n!);
          most = Math.max(most, ++running);
          await new Promise<void>((resolve) => release.push(resolve));
          running--;
          return n;
        },
      },
    });
    const guest = peer(pair.client);
    const calls = Array.from({ length: 40 }, (_, n) => guest.request('work', [n]));
    await waitFor(() => release.length === 3, 'three handlers');
    await waitFor(() => host.stats.queued === 4, 'four queued');
    await sleep(100); // time enough to queue more, if it would
    // 3 running, 4 queued, and the rest left unread in the channel.
    expect(host.stats).to.include({ active: 3, queued: 4 });
    let released = 0;
    while (released < 40) {
      const now = release.splice(0);
      now.forEach((r) => r());
      released += now.length;
      await sleep(5);
    }
    expect(await Promise.all(calls)).to.deep.equal(Array.from({ length: 40 }, (_, n) => n));
    expect(most).to.equal(3);
    expect(order).to.deep.equal(Array.from({ length: 40 }, (_, n) => n));
  });
});

describe('RPC: RpcPeer with a Node plugin process', () => {
  it('calls the plugin, which calls back into the host, and a plain error keeps its stack at home', async () => {
    await using plugin = await spawnPlugin('node', [path.join(FIXTURES, 'rpc-plugin.js')]);
    const rpc = new RpcPeer(plugin, { methods: { mul: ([a, b]: number[]) => a! * b! } });
    expect(await rpc.request('add', [2, 3])).to.equal(5);
    expect(await rpc.request('callHost', { method: 'mul', params: [6, 7] })).to.equal(42);
    const boom = await rejection(rpc.request('boom'));
    expect(boom).to.include({ code: -32603, message: 'disk full at /srv/secret/path' });
    expect(boom.data).to.equal(undefined);
  });

  it('cancels a request in the plugin: its handler sees the abort', async () => {
    await using plugin = await spawnPlugin('node', [path.join(FIXTURES, 'rpc-plugin.js')]);
    const cancelled: unknown[] = [];
    const rpc = new RpcPeer(plugin, { methods: { cancelled: (p: unknown) => void cancelled.push(p) } });
    const started = Date.now();
    const timedOut = await rejection(rpc.request('hold', { ms: 10_000 }, { timeout: 100 }));
    expect(timedOut.code).to.equal(RpcErrorCodes.RequestTimeout);
    await waitFor(() => cancelled.length === 1, 'the plugin to report the cancellation');
    expect(cancelled[0]).to.deep.include({ method: 'hold' });
    expect(Date.now() - started).to.be.lessThan(5000);
    expect(await rpc.request('hold', { ms: 10 })).to.equal('held');
  });

  it('a plugin that crashes mid-request with restart on-failure: the request rejects at once, the next instance serves', async () => {
    await using plugin = await spawnPlugin('node', [path.join(FIXTURES, 'rpc-plugin.js')], { restart: 'on-failure', restartDelay: 10 });
    const rpc = new RpcPeer(plugin);
    const firstPid = await rpc.request<number>('pid');
    const held = rpc.request('hold', { ms: 10_000 });
    // A request sent the moment the instance is gone waits for the next one instead.
    plugin.once('exit', () => void (afterExit = rpc.request<number>('add', [1, 1])));
    let afterExit: Promise<number> | undefined;
    const crashed = await rejection(rpc.request('crash'));
    expect(crashed.code).to.equal(RpcErrorCodes.PeerExited);
    expect(crashed.message).to.match(/crash.*exited with code 3/);
    expect(crashed.data).to.deep.equal({ code: 3, signal: null });
    expect((await rejection(held)).code).to.equal(RpcErrorCodes.PeerExited);
    expect(await within(afterExit!, 10_000, 'the request sent at the exit')).to.equal(2);
    const secondPid = await within(rpc.request<number>('pid'), 10_000, 'the restarted plugin');
    expect(secondPid).to.not.equal(firstPid);
    expect(plugin.restarts).to.equal(1);
    expect(rpc.state).to.equal('open');
    await plugin.stop();
    await within(rpc.closed, 5000, 'the peer to close with the plugin');
  });
});
