// What a run loads and does at start: Node modules that the bundled libraries require at load but
// that no step of a run uses are left until first use (scripts/build.mjs, lazyBuiltins), no stack
// trace is read (q-stack-probe), and the run still works.
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_MOUNT, ROLE, SECRETS } from '../emulators/seed';
import { startWorld, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';

describe('e2e: start-up', function () {
  this.timeout(120_000);
  let world: World;
  let dir: string;
  before(async () => {
    world = await startWorld();
    dir = mkdtempSync(join(tmpdir(), 'val-startup-'));
  });
  after(async () => {
    await world?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const inputs = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets: 'secret/ci/production/db password | DB_PASSWORD' };

  /**
   * Runs the task with `setup` preloaded, checks the run, and returns what the `report()` that
   * `setup` defines gives at exit.
   */
  async function runReporting(name: string, setup: string): Promise<unknown> {
    const out = join(dir, `${name}.json`);
    const reporter = join(dir, `${name}.js`);
    writeFileSync(reporter, `${setup}\nprocess.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(report())));\n`);
    const run = await world.runTask({ connection: world.ids.wif, inputs, nodeArgs: ['--require', reporter] });
    assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    return JSON.parse(readFileSync(out, 'utf8'));
  }

  it('loads neither child_process nor zlib in a run that needs neither', async () => {
    const loaded = new Set((await runReporting('modules', 'const report = () => process.moduleLoadList;')) as string[]);
    assert.ok(loaded.has('NativeModule https') && loaded.has('NativeModule http2'), 'the list is of this run');
    assert.ok(!loaded.has('NativeModule child_process'), 'child_process loaded');
    assert.ok(!loaded.has('NativeModule zlib'), 'zlib loaded');
  });

  // Reading the frames of a stack trace makes V8 parse the bundle again for their line numbers
  // (the code cache holds no source positions): milliseconds that a successful run need not pay.
  it('reads no stack trace with frames of the bundle in a successful run', async () => {
    const read = (await runReporting(
      'stacks',
      'const read = [];\n' +
        "Error.prepareStackTrace = (error, frames) => { read.push(frames.map((f) => String(f.getFileName())).join(' ')); return String(error); };\n" +
        'const report = () => read;',
    )) as string[];
    assert.deepEqual(read.filter((frames) => frames.includes('.bundle.js')), []);
  });
});
