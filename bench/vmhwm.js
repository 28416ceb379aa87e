// biome-ignore lint/suspicious/noRedundantUseStrict: CommonJS, not a module: the directive is what makes this file strict
'use strict';
// Preloaded by `npm run bench` (node --require) into the task's runs of the N = 200 case at RTT 0,
// never shipped: appends the process's peak resident memory (VmHWM, in bytes) at exit as a line to
// the file globalThis.__vmhwmOut names. Nothing else: the runs are timed as the others are.
const fs = require('node:fs');

const out = globalThis.__vmhwmOut;
process.on('exit', () => {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (m && out) fs.appendFileSync(out, `${Number(m[1]) * 1024}\n`);
});
