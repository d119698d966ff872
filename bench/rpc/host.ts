/**
 * One RPC bench measurement, in its own process: the host side of one system.
 *
 *   node dist/bench/rpc/host.js SYSTEM N WARMUP INFLIGHT[,INFLIGHT…]
 *
 * SYSTEM is `vscode` (vscode-jsonrpc to a Node child over stdio: the anchor), `node`
 * (RpcPeer to a Node RpcPeer plugin over its FIFO pair) or `python` (RpcPeer to the Python
 * pipe_io_rpc plugin). For each INFLIGHT it runs WARMUP untimed requests, then N timed ones,
 * keeping INFLIGHT requests outstanding (a closed loop: each reply starts the next request),
 * and checks every result. Prints one JSON line: { "<inflight>": { rps, p50_us, p99_us } }.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { RpcPeer, spawnPlugin } from '../../lib/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench/rpc
const ROOT = path.resolve(HERE, '../../..');

type Call = (a: number) => Promise<unknown>;

async function connect(system: string): Promise<{ call: Call; close: () => Promise<void> }> {
  if (system === 'vscode') {
    const child = spawn(process.execPath, [path.join(HERE, 'vscode-plugin.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    connection.listen();
    return {
      call: (a) => connection.sendRequest('add', { a, b: 1 }),
      close: async () => {
        connection.dispose();
        child.stdin!.end();
        await new Promise((resolve) => child.once('exit', resolve));
      },
    };
  }
  const plugin =
    system === 'node'
      ? await spawnPlugin(process.execPath, [path.join(HERE, 'node-plugin.js')])
      : await spawnPlugin('python3', [path.join(ROOT, 'bench', 'rpc', 'plugin.py')], {
          env: { PYTHONPATH: path.join(ROOT, 'clients', 'python'), PYTHONDONTWRITEBYTECODE: '1' },
        });
  const rpc = new RpcPeer(plugin);
  return {
    call: (a) => rpc.request('add', { a, b: 1 }),
    close: async () => {
      await rpc.close();
      await plugin.stop();
    },
  };
}

async function drive(call: Call, total: number, inflight: number, latencies: Float64Array | undefined): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const started = performance.now();
      const result = await call(i);
      if (result !== i + 1) throw new Error(`add(${i}, 1) answered ${JSON.stringify(result)}`);
      if (latencies) latencies[i] = performance.now() - started;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
}

const [system = '', n = '20000', warmup = '2000', inflights = '1,64'] = process.argv.slice(2);
if (!['vscode', 'node', 'python'].includes(system)) {
  process.stderr.write('usage: node dist/bench/rpc/host.js vscode|node|python N WARMUP INFLIGHT[,INFLIGHT…]\n');
  process.exit(2);
}
const { call, close } = await connect(system);
const out: Record<string, { rps: number; p50_us: number; p99_us: number }> = {};
for (const inflight of inflights.split(',').map(Number)) {
  await drive(call, Number(warmup), inflight, undefined);
  const latencies = new Float64Array(Number(n));
  const started = performance.now();
  await drive(call, latencies.length, inflight, latencies);
  const elapsed = performance.now() - started;
  latencies.sort();
  out[inflight] = {
    rps: (latencies.length / elapsed) * 1000,
    p50_us: latencies[Math.floor(latencies.length * 0.5)]! * 1000,
    p99_us: latencies[Math.floor(latencies.length * 0.99)]! * 1000,
  };
}
process.stdout.write(JSON.stringify(out) + '\n');
await close();
