// The test suite itself prints no agent command: run in a pipeline, a ##vso[...] line printed
// while the spec files load (before any test) would become the pipeline's own warning, variable
// or error. Mocha's dry run loads every spec file of the configuration and runs no test.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

describe('the test suite', function () {
  this.timeout(120_000);

  it('prints no ##vso command while its spec files load', () => {
    const repo = join(__dirname, '..', '..');
    const r = spawnSync(process.execPath, [join(repo, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--dry-run', '--reporter', 'dot'], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, VAL_RUNTIMES: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /passing/, 'the dry run listed the tests');
    const lines = `${r.stdout}\n${r.stderr}`.split(/\r\n|\r|\n/).filter((l) => l.includes('##vso[') || l.includes('##['));
    assert.deepEqual(lines, []);
  });
});
