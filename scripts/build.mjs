// Bundles every task under tasks/ into dist/tasks/<Task>/: task.json, one JavaScript file per
// execution target, and the resource files the bundled libraries read at run time.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nm = join(root, 'node_modules');

// arm-rest picks its MSAL major with a computed require(); tasks here run on Node 20 only.
const staticMsal = {
  name: 'static-msal',
  setup(b) {
    b.onLoad({ filter: /azure-pipelines-tasks-azure-arm-rest[\\/]azure-arm-common\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      if (!src.includes('require(msalVer)')) throw new Error('arm-rest no longer loads MSAL with require(msalVer); review the bundle plugin');
      return { contents: src.replace('require(msalVer)', 'require("msalv3")'), loader: 'js' };
    });
  },
};

// arm-rest builds MSAL's proxy client with https-proxy-agent 4, which fails on Node 16 and later
// ('Protocol "https:" not supported', azure-pipelines-tasks #19639): give it the maintained major
// behind the same call shape.
const proxyAgentShim = {
  name: 'arm-rest-proxy-agent',
  setup(b) {
    b.onResolve({ filter: /^https-proxy-agent$/ }, (args) =>
      /azure-pipelines-tasks-azure-arm-rest/.test(args.importer) ? { path: 'https-proxy-agent-shim', namespace: 'shim' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'shim' }, () => ({
      contents:
        "const { HttpsProxyAgent } = require('https-proxy-agent');\n" +
        'module.exports = function createHttpsProxyAgent(proxy, options) { return new HttpsProxyAgent(proxy, options); };\n',
      resolveDir: root,
      loader: 'js',
    }));
  },
};

// The task imports axios as ESM and node-vault requires it: without this the bundle holds and
// loads two copies. Both get the CommonJS build, patched so that loading it does not touch
// Node's lazy fetch globals (FormData, Request, ...), whose first use loads undici (~20 ms per
// start): the fetch adapter probe at load is dropped (the http adapter always wins in Node; the
// fetch adapter still works if asked for), and isFormData rules out what cannot be a FormData
// (not an object, a plain object, no append method) before it looks up FormData.
const axiosCjs = join(nm, 'axios', 'dist', 'node', 'axios.cjs');
const axiosPatches = [
  ['\ngetFetch();\n', '\n'],
  [
    "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;\n" +
      'const isFormData = thing => {\n' +
      '  if (!thing) return false;\n' +
      '  if (FormDataCtor && thing instanceof FormDataCtor) return true;\n',
    'let FormDataCtor;\n' +
      'const isFormData = thing => {\n' +
      '  if (!thing) return false;\n' +
      "  if (typeof thing !== 'object' || getPrototypeOf(thing) === Object.prototype || !isFunction$1(thing.append)) return false;\n" +
      "  if (FormDataCtor === undefined) FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : null;\n" +
      '  if (FormDataCtor && thing instanceof FormDataCtor) return true;\n',
  ],
];
const oneAxios = {
  name: 'one-axios',
  setup(b) {
    b.onResolve({ filter: /^axios$/ }, () => ({ path: axiosCjs }));
    b.onLoad({ filter: /axios[\\/]dist[\\/]node[\\/]axios\.cjs$/ }, (args) => {
      let src = readFileSync(args.path, 'utf8');
      for (const [from, to] of axiosPatches) {
        if (!src.includes(from)) throw new Error(`axios no longer contains ${JSON.stringify(from.split('\n')[0])}; review the one-axios bundle plugin`);
        src = src.replace(from, to);
      }
      return { contents: src, loader: 'js' };
    });
  },
};

// tunnel (azure-devops-node-api's proxy client) builds the Proxy-Authorization header with
// new Buffer(), which makes Node print a deprecation warning on stderr for code outside
// node_modules, which bundled code is.
const tunnelBuffer = {
  name: 'tunnel-buffer-from',
  setup(b) {
    b.onLoad({ filter: /[\\/]tunnel[\\/]lib[\\/]tunnel\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const from = 'new Buffer(connectOptions.proxyAuth)';
      if (!src.includes(from)) throw new Error('tunnel no longer calls new Buffer(connectOptions.proxyAuth); review the tunnel-buffer-from plugin');
      return { contents: src.replace(from, 'Buffer.from(connectOptions.proxyAuth)'), loader: 'js' };
    });
  },
};

// Modules that libraries require at load but that no path of these tasks calls: each becomes a
// stub that throws, naming the module, if anything touches it (or the given contents). With
// one-axios this takes main.js from 3.1 to 1.05 MB and a run's start-up from ~405 to ~233 ms
// (npm run bench, P1).
const unused = [
  // arm-rest loads @azure/identity (with a second MSAL, core-rest-pipeline and ts-http-runtime)
  // only for acquireTokenForScope / buildCredentialByScheme; the task calls getToken().
  { importer: /azure-pipelines-tasks-azure-arm-rest[\\/]azure-arm-common\.js$/, module: /^@azure\/identity$/ },
  // azure-devops-node-api's WebApi loads all of its REST clients and credential handlers; arm-rest
  // uses getTaskApi() (the OIDC token) with a bearer token only. The NTLM handler is also what
  // loads underscore and the NTLM crypto.
  { importer: /azure-devops-node-api[\\/]WebApi\.js$/, module: /^\.\/((?!TaskApi$)\w+Api|handlers\/ntlm)$/ },
  { importer: /typed-rest-client[\\/]Handlers\.js$/, module: /^\.\/handlers\/ntlm$/ },
  // node-fetch uses Node's URL; whatwg-url (and its 260 kB tr46 table) is its fallback.
  { importer: /node-fetch[\\/]lib[\\/]index\.js$/, module: /^whatwg-url$/ },
  // form-data (axios) looks up MIME types of uploaded files only; nothing here uploads files.
  { importer: /mime-types[\\/]index\.js$/, module: /^mime-db$/, contents: 'module.exports = {};\n' },
  // jsonwebtoken asks its own semver whether Node has RSA-PSS and key details (Node >= 16.9);
  // these tasks run on Node 20 or later.
  { importer: /jsonwebtoken[\\/]lib[\\/]\w+Supported\.js$/, module: /^semver$/, contents: 'module.exports = { satisfies: () => true };\n' },
];
const stubUnused = {
  name: 'stub-unused',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const index = unused.findIndex((u) => u.module.test(args.path) && u.importer.test(args.importer));
      if (index < 0) return undefined;
      return { path: `${index}:${args.path}`, namespace: 'unused', pluginData: { contents: unused[index].contents, name: args.path } };
    });
    b.onLoad({ filter: /.*/, namespace: 'unused' }, ({ pluginData: { contents, name } }) => ({
      contents:
        contents ??
        'module.exports = new Proxy({}, { get(_, key) {\n' +
          "  if (typeof key === 'symbol' || key === '__esModule') return undefined;\n" +
          `  throw new Error(${JSON.stringify(`${name} is not bundled with this task`)} + ' (' + key + ')');\n` +
          '} });\n',
      loader: 'js',
    }));
  },
};

// Files the libraries load with computed paths (tl.setResourcePath(__dirname + ...)).
const runtimeResources = [
  join(nm, 'azure-pipelines-task-lib', 'lib.json'),
  join(nm, 'azure-pipelines-tasks-azure-arm-rest', 'module.json'),
];

/**
 * The task version for package.json's version (the one source of truth for the task and the
 * extension). A task folder named <Task>V<n> must carry major version n.
 */
export function taskVersion(version, taskFolder) {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version ?? '');
  if (!m) throw new Error(`package.json version '${version}' is not MAJOR.MINOR.PATCH: a task version is three whole numbers`);
  const [Major, Minor, Patch] = m.slice(1).map(Number);
  const folderMajor = /V(\d+)$/.exec(taskFolder)?.[1];
  if (folderMajor !== undefined && Number(folderMajor) !== Major) {
    throw new Error(`package.json version ${version} has major ${Major}, but the task folder ${taskFolder} is major ${folderMajor}: add a ${taskFolder.replace(/V\d+$/, `V${Major}`)} folder for a new major version`);
  }
  return { Major, Minor, Patch };
}

export function entriesOf(taskJson) {
  const targets = new Set();
  for (const section of ['execution', 'prejobexecution', 'postjobexecution']) {
    for (const handler of Object.values(taskJson[section] ?? {})) targets.add(handler.target);
  }
  return [...targets];
}

export async function buildTasks({ outRoot = join(root, 'dist', 'tasks'), minify = true } = {}) {
  rmSync(outRoot, { recursive: true, force: true });
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const built = [];
  for (const name of readdirSync(join(root, 'tasks'))) {
    const taskDir = join(root, 'tasks', name);
    const taskJsonPath = join(taskDir, 'task.json');
    if (!existsSync(taskJsonPath)) continue;
    const taskJson = JSON.parse(readFileSync(taskJsonPath, 'utf8'));
    taskJson.version = taskVersion(version, name);
    const out = join(outRoot, name);
    mkdirSync(out, { recursive: true });
    const entryPoints = entriesOf(taskJson).map((target) => join(taskDir, 'src', `${parse(target).name}.ts`));
    await build({
      entryPoints,
      outdir: out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify,
      keepNames: true,
      legalComments: 'external',
      logLevel: 'error',
      plugins: [staticMsal, proxyAgentShim, oneAxios, stubUnused, tunnelBuffer],
    });
    for (const file of runtimeResources) cpSync(file, join(out, parse(file).base));
    writeFileSync(join(out, 'task.json'), JSON.stringify(taskJson, null, 2) + '\n');
    // One icon for the extension and its tasks.
    const icon = join(root, 'images', 'icon.png');
    if (existsSync(icon)) cpSync(icon, join(out, 'icon.png'));
    built.push(out);
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dirs = await buildTasks({ minify: !process.argv.includes('--no-minify') });
  for (const d of dirs) console.log(`built ${d}`);
}
