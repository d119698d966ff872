import { expect } from 'chai';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, within } from './helpers/fixtures.js';

const host = fileURLToPath(new URL('../examples/plugin-host.js', import.meta.url));
const clients = fileURLToPath(new URL('../../clients/', import.meta.url));

describe('the plugin-host example, end to end', function () {
  this.timeout(30_000);

  for (const [name, plugin] of [
    ['the default Python client', [] as string[]],
    ['the bash example client', ['bash', `${clients}bash/example-client.sh`]],
  ] as const) {
    it(`runs ${name}, prints its replies, and leaves no folder and no process behind`, async () => {
      const result = await within(run(process.execPath, [host, ...plugin]).done, 20_000, 'plugin host');
      expect(result.code, result.stderr).to.equal(0);
      const lines = result.stdout.trim().split('\n');
      const started = /^started (\S+) \(pid (\d+)\); pipes in (\S+)$/.exec(lines[0]!);
      expect(started, lines[0]).to.not.equal(null);
      expect(lines.slice(1, 4)).to.deep.equal([
        '"hello" -> "echo: hello"',
        '"tab\\there" -> "echo: tab\\there"',
        '"é 漢字 😀" -> "echo: é 漢字 😀"',
      ]);
      expect(lines[4]).to.equal('plugin exited: code 0, signal null; folder removed');
      expect(fs.existsSync(started![3]!), 'private folder removed').to.equal(false);
      expect(() => process.kill(Number(started![2]), 0), 'plugin process gone').to.throw();
    });
  }
});
