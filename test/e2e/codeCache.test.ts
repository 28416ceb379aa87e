// The entries are loaders that run <entry>.bundle.js with the V8 code cache the build made
// (scripts/build.mjs): the SHA-256 of the bundle, then V8's data. The cache must be one this
// Node's V8 takes, and a run must work the same with a cache that is not used (another Node, a
// damaged file, another bundle) or none at all.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { wrap } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { AUTH_MOUNT, ROLE, SECRETS } from '../emulators/seed';
import { BUILT_TASK, startWorld, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';

const ENTRIES = ['main', 'post'];

describe('code cache: the bundled entries and the V8 code cache beside them', function () {
  this.timeout(120_000);

  for (const entry of ENTRIES) {
    it(`${entry}.bundle.cache is taken by this Node's V8 for ${entry}.bundle.js`, () => {
      const file = join(BUILT_TASK, `${entry}.bundle.js`);
      const source = readFileSync(file, 'utf8');
      const cache = readFileSync(join(BUILT_TASK, `${entry}.bundle.cache`));
      assert.deepEqual(cache.subarray(0, 32), createHash('sha256').update(source).digest(), 'made from this bundle');
      const script = new Script(wrap(source), { filename: file, cachedData: cache.subarray(32) });
      assert.equal(script.cachedDataRejected, false);
    });

    // V8 keeps the name the script had when the cache was made; the build must not make it the
    // build machine's folder, which would then show in every stack trace on an agent.
    it(`stack traces from ${entry}.bundle.js run from its cache name the file, not the folder it was built in`, () => {
      const probe = `
        const { readFileSync } = require('fs');
        const { Script } = require('vm');
        const { wrap } = require('module');
        const [bundle, cache, installed] = process.argv.slice(1);
        const script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename: installed, cachedData: readFileSync(cache).subarray(32) });
        if (script.cachedDataRejected) throw new Error('cache refused');
        Error.prepareStackTrace = (error, frames) => frames.map((f) => f.getFileName());
        try {
          script.runInThisContext()({}, undefined, {}, installed, '/agent/_work/_tasks/VaultAzureLogin/1.0.0');
        } catch (err) {
          console.log(JSON.stringify(err.stack));
        }`;
      const installed = `/agent/_work/_tasks/VaultAzureLogin/1.0.0/${entry}.bundle.js`;
      const out = execFileSync(process.execPath, ['-e', probe, join(BUILT_TASK, `${entry}.bundle.js`), join(BUILT_TASK, `${entry}.bundle.cache`), installed], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
      const files = JSON.parse(out) as string[];
      const inBundle = files.filter((f) => f && f.endsWith(`${entry}.bundle.js`));
      assert.ok(inBundle.length > 0, `frames: ${files.join(', ')}`);
      for (const f of inBundle) assert.ok(f === `${entry}.bundle.js` || f === installed, f);
    });

    it(`${entry}.js is only the loader: the code is in ${entry}.bundle.js`, () => {
      const loader = readFileSync(join(BUILT_TASK, `${entry}.js`), 'utf8');
      assert.ok(loader.length < 2000, `${loader.length} bytes`);
      assert.match(loader, new RegExp(`'${entry}\\.bundle\\.js'`));
      assert.match(loader, new RegExp(`'${entry}\\.bundle\\.cache'`));
    });
  }

  describe('a run with a cache V8 refuses, or none', () => {
    let world: World;
    const cache = () => join(world.taskDir, 'main.bundle.cache');
    let original: string;

    before(async () => {
      world = await startWorld();
      original = join(world.taskDir, 'main.bundle.cache.orig');
      copyFileSync(cache(), original);
    });
    afterEach(() => copyFileSync(original, cache()));
    after(async () => world?.stop());

    const cases: Array<[string, () => void]> = [
      ['a damaged cache file', () => writeFileSync(cache(), Buffer.alloc(4096, 7))],
      ['a cache whose V8 data V8 refuses', () => {
        const good = readFileSync(original);
        writeFileSync(cache(), Buffer.concat([good.subarray(0, 32), new Script(wrap('module.exports = 1;')).createCachedData()]));
      }],
      // V8 compares the length of the source only: it would take the cache of an edited bundle of
      // the same length and run the old code. The hash is what refuses it.
      ['the cache of an edited bundle of the same length', () => {
        const source = readFileSync(join(world.taskDir, 'main.bundle.js'), 'utf8');
        const edited = source.replace('Reading ', 'READING ');
        assert.ok(edited !== source && edited.length === source.length);
        const other = new Script(wrap(edited)).createCachedData();
        assert.equal(new Script(wrap(source), { cachedData: other }).cachedDataRejected, false, 'V8 alone would take it');
        writeFileSync(cache(), Buffer.concat([createHash('sha256').update(edited).digest(), other]));
      }],
      ['no cache file', () => rmSync(cache())],
    ];
    const inputs = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets: 'secret/ci/production/db password | DB_PASSWORD' };
    const refused = /^##vso\[task\.debug\]V8 refused the code cache/m;

    it('uses the cache, saying nothing about it', async () => {
      const run = await world.runTask({ connection: world.ids.wif, inputs });
      assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      assert.doesNotMatch(run.stdout, refused);
    });

    for (const [title, spoil] of cases) {
      it(`works with ${title}, as with the cache`, async () => {
        spoil();
        const run = await world.runTask({ connection: world.ids.wif, inputs });
        assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
        // Only a cache that matches the bundle reaches V8; only V8's refusal is worth a debug line.
        if (title === 'a cache whose V8 data V8 refuses') assert.match(run.stdout, refused);
        else assert.doesNotMatch(run.stdout, refused);
      });
    }

    it('says so in a debug line when V8 flags (as NODE_OPTIONS can carry) make V8 refuse the cache', async () => {
      const run = await world.runTask({ connection: world.ids.wif, inputs, nodeArgs: ['--max-old-space-size=512'] });
      assert.equal(checkRun(world, run, true).vars.get('DB_PASSWORD'), SECRETS.dbPassword);
      assert.match(run.stdout, refused);
    });
  });
});
