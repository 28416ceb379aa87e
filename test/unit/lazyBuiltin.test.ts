// The build hands some libraries a stand-in for a Node module they require at load but seldom use
// (scripts/build.mjs, lazyBuiltins): it must load the real module on first use only, and then
// behave as that module, including through the interop helpers bundled code wraps modules in.
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Zlib from 'node:zlib';

// The module object itself, as require() gives it to the libraries.
const zlib = require('node:zlib') as typeof Zlib;

const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<{ lazyModuleSource: (name: string) => string }>;

/** Evaluates the stand-in for `name` as a CommonJS module whose require() is counted. */
async function standIn(name: string): Promise<{ exports: any; loads: () => number }> {
  const { lazyModuleSource } = await importModule(pathToFileURL(join(__dirname, '..', '..', 'scripts', 'build.mjs')).href);
  let loads = 0;
  const counted = (id: string) => {
    assert.equal(id, name);
    loads++;
    return require(id);
  };
  const module = { exports: {} as any };
  new Function('module', 'exports', 'require', lazyModuleSource(name))(module, module.exports, counted);
  return { exports: module.exports, loads: () => loads };
}

describe('build: a Node module loaded on first use', () => {
  it('loads nothing while bundled interop helpers look for default and __esModule', async () => {
    const m = await standIn('zlib');
    // node-fetch: ex && typeof ex === 'object' && 'default' in ex ? ex.default : ex
    const interopDefault = (ex: any) => (ex && typeof ex === 'object' && 'default' in ex ? ex.default : ex);
    // esbuild / TypeScript: mod && mod.__esModule ? mod : { default: mod }
    const importDefault = (mod: any) => (mod && mod.__esModule ? mod : { default: mod });
    assert.equal(interopDefault(m.exports), m.exports);
    assert.equal(importDefault(m.exports).default, m.exports);
    assert.equal(m.loads(), 0);
  });

  it('is the real module from the first use on', async () => {
    const m = await standIn('zlib');
    const packed = zlib.gzipSync('secret-free text');
    assert.equal(m.exports.gunzipSync(packed).toString(), 'secret-free text');
    assert.ok(m.loads() >= 1);
    assert.equal(m.exports.constants, zlib.constants);
    assert.ok('createGunzip' in m.exports);
    assert.ok(!('noSuchExport' in m.exports));
    assert.deepEqual(Object.keys(m.exports).sort(), Object.keys(zlib).sort(), 'enumerates as the module does');
    assert.equal({ ...m.exports }.inflateSync, zlib.inflateSync);
  });
});
