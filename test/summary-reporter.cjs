// Mocha's spec output, plus the run's real counts written as JSON to $PIPE_IO_TEST_SUMMARY
// (when set), so .ci/run can print its `N passed, N failed` line from mocha's own results.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const file = process.env.PIPE_IO_TEST_SUMMARY;
    if (!file) return;
    runner.once('end', () => {
      const { passes, failures, pending, tests } = this.stats;
      fs.writeFileSync(file, JSON.stringify({ passes, failures, pending, tests }));
    });
  }
}

module.exports = SummaryReporter;
