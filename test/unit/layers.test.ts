// The shape of src/: which folder may import which, that only the pipeline edge touches task-lib
// and arm-rest, and that no module imports itself back through others. Read from the sources'
// import statements, so a change that breaks the layering fails here before review.
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = join(__dirname, '..', '..', 'tasks', 'VaultAzureLoginV1', 'src');

interface Module {
  /** Path under src/ without `.ts`, e.g. "vault/client". */
  name: string;
  /** Modules of src/ it imports (by name), and packages it imports. */
  local: string[];
  packages: string[];
}

/** Every `from '…'`, `import '…'`, `import('…')` and `require('…')` specifier of a source. */
function specifiers(text: string): string[] {
  const found = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
  return [...new Set(found)];
}

function readModules(): Module[] {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const known = new Set(files.map((f) => f.replace(/\\/g, '/').replace(/\.ts$/, '')));
  // A folder imported by its name is its index module.
  const resolve = (name: string) => (known.has(name) ? name : known.has(`${name}/index`) ? `${name}/index` : name);
  return files.map((file) => {
    const name = file.replace(/\\/g, '/').replace(/\.ts$/, '');
    const specs = specifiers(readFileSync(join(SRC, file), 'utf8'));
    const local = specs
      .filter((s) => s.startsWith('.'))
      .map((s) => resolve(relative(SRC, normalize(join(SRC, dirname(file), s))).replace(/\\/g, '/')));
    const packages = specs.filter((s) => !s.startsWith('.') && !s.startsWith('node:'));
    return { name, local, packages };
  });
}

/** The layer of a module: its folder, or the role of a top-level file. */
function layerOf(name: string): string {
  if (name.includes('/')) return name.split('/')[0];
  // step: the work the main and pre-job entries share, wired to the real dependencies.
  if (name === 'main' || name === 'prejob' || name === 'post' || name === 'step') return 'entry';
  if (name === 'run' || name === 'cleanup') return 'flow';
  return name; // config
}

/** What each layer may import; a layer not listed here fails the test until it is placed. */
const ALLOWED: Record<string, string[]> = {
  entry: ['entry', 'flow', 'config', 'pipeline', 'auth', 'vault', 'net', 'core'],
  flow: ['flow', 'config', 'pipeline', 'auth', 'vault', 'net', 'core'],
  pipeline: ['pipeline', 'config', 'auth', 'vault', 'net', 'core'],
  config: ['auth', 'vault', 'net', 'core'],
  auth: ['auth', 'net', 'core'],
  vault: ['vault', 'net', 'core'],
  // The one outside HTTP client, under both auth/ (the metadata servers) and vault/ (Vault's
  // connections): core/ stays free of I/O.
  net: ['net', 'core'],
  core: ['core'],
};

/** Packages that talk to the agent or Azure DevOps: the pipeline edge's alone. */
const EDGE_PACKAGES = /^azure-pipelines-task-lib|^azure-pipelines-tasks-azure-arm-rest/;

describe('src layout: layers and imports', () => {
  const modules = readModules();
  const names = new Set(modules.map((m) => m.name));

  it('finds the sources and resolves every relative import to one of them', () => {
    assert.ok(modules.length > 20, `read ${modules.length} modules`);
    for (const m of modules) for (const l of m.local) assert.ok(names.has(l), `${m.name} imports ${l}, which is not a module of src/`);
  });

  it('the import reader sees every import form the sources use', () => {
    const text =
      "import { a } from './a';\nimport type { B } from '../b';\nconst { c } = await import('x/c');\nimport './d';\nrequire('e');";
    assert.deepEqual(specifiers(text), ['./a', '../b', 'x/c', './d', 'e']);
  });

  it('every module sits in a known layer and imports only the layers below it', () => {
    const wrong: string[] = [];
    for (const m of modules) {
      const allowed = ALLOWED[layerOf(m.name)];
      assert.ok(allowed, `${m.name} is in no known layer (${Object.keys(ALLOWED).join(', ')})`);
      for (const l of m.local) if (!allowed.includes(layerOf(l))) wrong.push(`${m.name} → ${l}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('only the pipeline folder imports task-lib and arm-rest', () => {
    const users = modules.filter((m) => m.packages.some((p) => EDGE_PACKAGES.test(p))).map((m) => m.name);
    assert.ok(users.length > 0, 'the pipeline edge is found');
    assert.deepEqual(
      users.filter((n) => layerOf(n) !== 'pipeline'),
      [],
    );
  });

  it('no module imports itself back through others', () => {
    const graph = new Map(modules.map((m) => [m.name, m.local]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      if (state.get(name) === 'open') {
        cycles.push([...path.slice(path.indexOf(name)), name].join(' → '));
        return;
      }
      state.set(name, 'open');
      for (const next of graph.get(name) ?? []) visit(next, [...path, name]);
      state.set(name, 'done');
    };
    for (const name of graph.keys()) visit(name, []);
    assert.deepEqual(cycles, []);
  });
});
