import { expect } from 'chai';
import { PipeReaderServer, PipeWriterServer } from '../lib/index.js';
import { bash, tempDir, waitFor } from './helpers/fixtures.js';

const expected = Array.from({ length: 1000 }, (_, i) => `m${i + 1}`);

describe('client open/close cycles (real bash clients)', function () {
  this.timeout(120_000);
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('1,000 clients that each open the in pipe, write one line and close: nothing lost, nothing merged', async () => {
    const server = new PipeReaderServer(`${dir}/in`);
    const got: string[] = [];
    server.on('message', (message) => got.push(message));
    await server.start();
    const writer = await bash(`for i in $(seq 1 1000); do printf 'm%d\\n' "$i" > "$IN"; done`, { IN: `${dir}/in` }).done;
    expect(writer.code, writer.stderr).to.equal(0);
    await waitFor(() => got.length >= 1000, '1,000 messages');
    expect(got).to.deep.equal(expected);
    await server.stop();
  });

  it('1,000 clients that each open the out pipe, read one line and close receive the 1,000 messages in order', async () => {
    const server = new PipeWriterServer(`${dir}/out`);
    await server.start();
    const sent = Promise.all(expected.map((message) => server.send(message)));
    const reader = bash(`for i in $(seq 1 1000); do IFS= read -r line < "$OUT"; printf '%s\\n' "$line"; done`, { OUT: `${dir}/out` });
    await sent;
    const result = await reader.done;
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.split('\n').slice(0, -1)).to.deep.equal(expected);
    await server.stop();
  });

  it('a reader that starts before the messages are sent gets them all, across its open/close cycles', async () => {
    const server = new PipeWriterServer(`${dir}/out`);
    await server.start();
    const reader = bash(`for i in $(seq 1 200); do IFS= read -r line < "$OUT"; printf '%s\\n' "$line"; done`, { OUT: `${dir}/out` });
    for (const message of expected.slice(0, 200)) await server.send(message);
    const result = await reader.done;
    expect(result.stdout.split('\n').slice(0, -1)).to.deep.equal(expected.slice(0, 200));
    await server.stop();
  });
});
