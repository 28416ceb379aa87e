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

  it('loads neither child_process nor zlib in a run that needs neither', async () => {
    const list = join(dir, 'modules');
    const reporter = join(dir, 'reporter.js');
    writeFileSync(reporter, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
    const inputs = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets: 'secret/ci/production/db password | DB_PASSWORD' };
    const run = await world.runTask({ connection: world.ids.wif, inputs, nodeArgs: ['--require', reporter] });
    assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    const loaded = new Set(readFileSync(list, 'utf8').split('\n'));
    assert.ok(loaded.has('NativeModule https') && loaded.has('NativeModule http2'), 'the list is of this run');
    assert.ok(!loaded.has('NativeModule child_process'), 'child_process loaded');
    assert.ok(!loaded.has('NativeModule zlib'), 'zlib loaded');
  });

  // Reading the frames of a stack trace makes V8 parse the bundle again for their line numbers
  // (the code cache holds no source positions): milliseconds that a successful run need not pay.
  it('reads no stack trace with frames of the bundle in a successful run', async () => {
    const list = join(dir, 'stacks');
    const reporter = join(dir, 'stacks.js');
    writeFileSync(
      reporter,
      'const read = [];\n' +
        "Error.prepareStackTrace = (error, frames) => { read.push(frames.map((f) => String(f.getFileName())).join(' ')); return String(error); };\n" +
        `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(read)));\n`,
    );
    const inputs = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets: 'secret/ci/production/db password | DB_PASSWORD' };
    const run = await world.runTask({ connection: world.ids.wif, inputs, nodeArgs: ['--require', reporter] });
    assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    const read = JSON.parse(readFileSync(list, 'utf8')) as string[];
    assert.deepEqual(read.filter((frames) => frames.includes('.bundle.js')), []);
  });
});
