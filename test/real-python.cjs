// pyenv's `python3` is a shim, a bash script that runs `pyenv exec`: on the machines this
// project is built on it costs ~0.4 s of CPU per start, 13 times the interpreter's own start.
// The suite starts Python a few hundred times, 100 at once in the sessions test, where the
// shims alone took longer than the test's bound on 2 CPUs. So, once, put the interpreter the
// shim would pick first on PATH, for the tests and every process they start: the same Python,
// without the detour. Loaded by mocha (.mocharc.json "require").
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

try {
  const exe = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  if (exe && path.isAbsolute(exe)) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipe-io-test-python-'));
    fs.symlinkSync(exe, path.join(dir, 'python3'));
    process.env.PATH = dir + path.delimiter + process.env.PATH;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
} catch {
  // No python3: the tests that need it say so.
}
