/**
 * A real FIFO pair for the RPC tests: a PipeIOServer on one end, a PipeIOClient on the other,
 * both in the text codec, as an RpcPeer wants them.
 */
import path from 'node:path';
import { PipeIOClient, PipeIOServer } from '../../lib/index.js';
import { tempDir, within } from './fixtures.js';

/** Both ends of a FIFO pair, started; `close()` stops them and removes the folder. */
export interface FifoPair {
  server: PipeIOServer;
  client: PipeIOClient;
  close(): Promise<void>;
}

/** Makes a folder with a served FIFO pair and connects a client to it. */
export async function fifoPair(): Promise<FifoPair> {
  const { dir, cleanup } = tempDir('pipe-io-rpc-');
  const server = new PipeIOServer(path.join(dir, 'in'), path.join(dir, 'out'));
  await server.start();
  const client = new PipeIOClient({ send: server.inPipe, recv: server.outPipe });
  await client.connect();
  return {
    server,
    client,
    async close() {
      await client.close();
      await server.stop();
      cleanup();
    },
  };
}

/** Reads lines from an iterator one at a time, each within `ms`. */
export class LineReader {
  readonly #it: AsyncIterator<string>;
  constructor(source: { messages(): AsyncIterableIterator<string> }) {
    this.#it = source.messages();
  }
  async next(ms = 5000, what = 'a line'): Promise<string> {
    const next = await within(this.#it.next(), ms, what);
    if (next.done) throw new Error(`The channel ended while waiting for ${what}`);
    return next.value;
  }
}
