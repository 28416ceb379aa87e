// Bundles every task under tasks/ into dist/tasks/<Task>/: task.json, one JavaScript file per
// execution target, and the resource files the bundled libraries read at run time.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nm = join(root, 'node_modules');

// Edits of arm-rest's files, each failing the build when its text is gone:
// - azure-arm-common.js picks its MSAL major with a computed require(): msalv3 on Node 16 and
//   later, which is every Node these tasks run on (Node20_1 and Node24 handlers);
// - it makes the Azure DevOps client for the OIDC token without keep-alive, so the token request
//   opens a second TLS connection after the location request (azure-devops-node-api's
//   typed-rest-client makes a new agent per request then). With keepAlive the two share one
//   connection: one TCP and TLS handshake less to Azure DevOps on every run. Idle kept-alive
//   sockets do not hold the process open; through a proxy the tunnel agent closes them;
// - modules the files require at load that serve one path each are required when it runs:
//   azure-devops-node-api only where arm-rest asks Azure DevOps for the federated assertion itself
//   (the task asks for it at System.OidcRequestUri when the agent sets it); node-fetch and
//   https-proxy-agent only for MSAL's requests through the agent's proxy; arm-rest's webClient
//   (typed-rest-client, which reads the agent's proxy variables at load) only for the ADAL, IMDS
//   and Azure Stack requests; jsonwebtoken only for ADAL's certificate assertion. The files use
//   them as `module.member`, `fetch(…)` and `new HttpsProxyAgent(…)`, which read the module when
//   they run.
const required = (name, wrap) => (wrap ? `${wrap}(require(${JSON.stringify(name)}))` : `require(${JSON.stringify(name)})`);
/** `const <variable> = require('<name>')`, whose members are read from the module when used. */
const onUse = (variable, name, wrap) => [
  `const ${variable} = ${required(name, wrap)};`,
  `const ${variable} = new Proxy({}, { get: (_, key) => ${required(name, wrap)}[key] });`,
];
/** `const <variable> = require('<name>')`, a function (or class, with `construct`) the file calls. */
const onCall = (variable, name, construct = false) => [
  `const ${variable} = ${required(name)};`,
  `const ${variable} = function (...args) { return ${construct ? 'new ' : ''}(${required(name)})(...args); };`,
];
const armRestEdits = {
  'azure-arm-common.js': [
    ['require(msalVer)', 'require("msalv3")'],
    ['new azure_devops_node_api_1.WebApi(uri, authHandler)', 'new azure_devops_node_api_1.WebApi(uri, authHandler, { keepAlive: true })'],
    onUse('azure_devops_node_api_1', 'azure-devops-node-api'),
    onUse('webClient', './webClient'),
    onUse('jwt', 'jsonwebtoken'),
    onCall('fetch', 'node-fetch'),
    onCall('HttpsProxyAgent', 'https-proxy-agent', true),
  ],
  'azure-arm-endpoint.js': [onUse('webClient', './webClient')],
  'azCliUtility.js': [onUse('azure_devops_node_api_1', 'azure-devops-node-api'), onUse('webClient', './webClient', '__importStar')],
};
const armRestFiles = {
  name: 'arm-rest-edits',
  setup(b) {
    b.onLoad({ filter: /azure-pipelines-tasks-azure-arm-rest[\\/][\w-]+\.js$/ }, (args) => {
      const file = parse(args.path).base;
      if (!armRestEdits[file]) return undefined;
      let src = readFileSync(args.path, 'utf8');
      for (const [from, to] of armRestEdits[file]) {
        if (!src.includes(from)) throw new Error(`arm-rest's ${file} no longer has ${from}; review the arm-rest-edits bundle plugin`);
        src = src.replace(from, to);
      }
      return { contents: src, loader: 'js' };
    });
  },
};

// arm-rest calls two things of MSAL: ConfidentialClientApplication and LogLevel. Its require()
// would take MSAL's single-file CommonJS build whole (0.85 MB unminified, every byte parsed and
// compiled at each start); re-exporting the two from MSAL's ES modules lets the bundler leave out
// the public-client, device-code, on-behalf-of, username-password, cache-plugin and other code.
// They are msal.js, a file of its own (below).
const msalUsed = ['ConfidentialClientApplication', 'LogLevel'];
function msalEntry() {
  const arm = readFileSync(join(nm, 'azure-pipelines-tasks-azure-arm-rest', 'azure-arm-common.js'), 'utf8');
  const called = new Set([...arm.matchAll(/\bmsal\.(\w+)/g)].map((m) => m[1]));
  const types = [
    'AppTokenProviderParameters',
    'AppTokenProviderResult',
    'ClientCredentialRequest',
    'Configuration',
    'IAppTokenProvider',
    'INetworkModule',
  ];
  const unknown = [...called].filter((n) => !msalUsed.includes(n) && !types.includes(n));
  if (unknown.length) throw new Error(`arm-rest now uses msal.${unknown.join(', msal.')}; add it to msalUsed in scripts/build.mjs`);
  return `export { ${msalUsed.join(', ')} } from ${JSON.stringify(join(nm, 'msalv3', 'dist', 'index.mjs'))};\n`;
}

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

// azure-devops-node-api and typed-rest-client call the legacy url.parse(), which Node 24 reports
// (DEP0169) on stderr for code outside node_modules, which bundled code is: the libraries get
// scripts/shims/legacy-url.cjs, Node's own parse, resolve and format without the warning.
const legacyUrl = {
  name: 'legacy-url',
  setup(b) {
    b.onResolve({ filter: /^(node:)?url$/ }, (args) =>
      /[\\/]node_modules[\\/](azure-devops-node-api|typed-rest-client)[\\/]/.test(args.importer)
        ? { path: join(root, 'scripts', 'shims', 'legacy-url.cjs') }
        : undefined,
    );
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
      if (!src.includes(from))
        throw new Error('tunnel no longer calls new Buffer(connectOptions.proxyAuth); review the tunnel-buffer-from plugin');
      return { contents: src.replace(from, 'Buffer.from(connectOptions.proxyAuth)'), loader: 'js' };
    });
  },
};

// Modules that libraries require at load but that no path of these tasks calls: each becomes a
// stub that throws, naming the module, if anything touches it (or the given contents). This took
// main.js from 3.1 to 1.05 MB and a run's start-up from ~405 to ~233 ms (npm run bench, P1).
const unused = [
  // node-vault requires axios for its default transport; the task always gives it its own
  // (src/transport.ts), so axios and its form-data, proxy and redirect modules are never used.
  { importer: /node-vault[\\/]src[\\/]index\.js$/, module: /^axios$/ },
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
  // jsonwebtoken asks its own semver whether Node has RSA-PSS and key details (Node >= 16.9);
  // these tasks run on Node 20 or later.
  { importer: /jsonwebtoken[\\/]lib[\\/]\w+Supported\.js$/, module: /^semver$/, contents: 'module.exports = { satisfies: () => true };\n' },
];
// Each module of `unused`, required by an importer its entry names, is replaced by the entry's
// contents, or by a stub that throws, naming the module, if anything touches it.
const replaceModules = {
  name: 'replace-modules',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const index = unused.findIndex((u) => u.module.test(args.path) && u.importer.test(args.importer));
      if (index < 0) return undefined;
      return { path: `${index}:${args.path}`, namespace: 'replaced', pluginData: { contents: unused[index].contents, name: args.path } };
    });
    b.onLoad({ filter: /.*/, namespace: 'replaced' }, ({ pluginData: { contents, name } }) => ({
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

/**
 * A plugin that leaves each `require()` for which `fileOf` names a file to that file, beside the
 * bundle, at run time: the file is a bundle of its own (below).
 */
const requiredFromFile = (name, filter, fileOf) => ({
  name,
  setup(b) {
    b.onResolve({ filter }, (args) => {
      const file = args.kind === 'require-call' ? fileOf(args) : undefined;
      return file ? { path: file, external: true } : undefined;
    });
  },
});

// Modules a login method loads only when it runs (`require('./awsSdk')` in a function, the AWS SDK
// of the aws method, about 0.35 MB): each is bundled as a file of its own beside the entries, which
// require it at run time, so a run of another method neither reads nor compiles it. Taken from the
// packages' ES modules (mainFields), which leave out what the chain and the signer do not use.
const lazyModules = [{ source: /[\\/]src[\\/]auth[\\/]awsSdk(\.ts)?$/, name: 'awsSdk', file: join('src', 'auth', 'awsSdk.ts') }];
const lazyExternal = requiredFromFile('lazy-modules', /^\./, (args) => {
  const lazy = lazyModules.find((m) => m.source.test(join(args.resolveDir, args.path)));
  return lazy && `./${lazy.name}.js`;
});

// arm-rest and what it needs (about 0.4 MB, most of what a start would parse) is three files of its
// own, which src/pipeline/azureToken.ts requires only when an AzureRM connection's token is asked
// for (with workload identity federation, once the assertion's connection has sent its first
// flight or its request is on its way):
// - msal.js, MSAL (above), which the task requires first, on its own;
// - armRest.js, arm-rest and the rest, required on a later turn of the event loop: a TLS handshake
//   that completes while one of the two loads goes on in between instead of after both;
// - azureDevOpsApi.js, azure-devops-node-api, which armRest.js requires only where arm-rest asks
//   Azure DevOps for the federated assertion itself.
// arm-rest calls task-lib, which holds the inputs and endpoints it read at load and removed from
// the environment: armRest.js takes the one instance step.js loaded, which step.js puts in a
// process-wide slot before the require (a copy of its own would find no endpoint).
const ARM_REST = 'azure-pipelines-tasks-azure-arm-rest/azure-arm-endpoint';
const TASK_LIB_SLOT = 'vault-azure-login.task-lib';
const onDemandFiles = [
  { module: /^azure-pipelines-tasks-azure-arm-rest[\\/]azure-arm-endpoint$/, importer: /[\\/]src[\\/]/, file: './armRest.js' },
  { module: /^msalv3$/, importer: /[\\/]src[\\/]|azure-pipelines-tasks-azure-arm-rest/, file: './msal.js' },
  { module: /^azure-devops-node-api$/, importer: /azure-pipelines-tasks-azure-arm-rest/, file: './azureDevOpsApi.js' },
];
const armRestExternal = requiredFromFile(
  'arm-rest-files',
  /^[@\w]/,
  (args) => onDemandFiles.find((o) => o.module.test(args.path) && o.importer.test(args.importer))?.file,
);
const sharedTaskLib = {
  name: 'shared-task-lib',
  setup(b) {
    b.onResolve({ filter: /^azure-pipelines-task-lib([\\/].*)?$/ }, (args) => {
      if (args.path !== 'azure-pipelines-task-lib/task')
        throw new Error(`armRest.js would bundle ${args.path}: share it as task is shared`);
      return { path: args.path, namespace: 'shared-task-lib' };
    });
    b.onLoad({ filter: /.*/, namespace: 'shared-task-lib' }, () => ({
      contents:
        `const lib = globalThis[Symbol.for(${JSON.stringify(TASK_LIB_SLOT)})];\n` +
        "if (!lib) throw new Error('armRest.js is loaded by step.js, which gives it its task library');\n" +
        'module.exports = lib;\n',
      loader: 'js',
    }));
  },
};

// The task's work (src/step.ts) is a file of its own that the main and pre-job entries require
// after opening the step's first connections (src/pipeline/startup.ts): the entries stay a few KB,
// loaded in a millisecond, and the connections' handshakes overlap the loading of step.js.
const sharedModules = [{ source: /[\\/]src[\\/]step(\.ts)?$/, name: 'step', file: join('src', 'step.ts') }];
const sharedExternal = requiredFromFile('shared-modules', /^\./, (args) => {
  const shared = sharedModules.find((m) => m.source.test(join(args.resolveDir, args.path)));
  return shared && `./${shared.name}.js`;
});

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
    throw new Error(
      `package.json version ${version} has major ${Major}, but the task folder ${taskFolder} is major ${folderMajor}: add a ${taskFolder.replace(/V\d+$/, `V${Major}`)} folder for a new major version`,
    );
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
    const names = entriesOf(taskJson).map((target) => parse(target).name);
    for (const m of sharedModules) if (existsSync(join(taskDir, m.file)) && !names.includes(m.name)) names.push(m.name);
    const entryPoints = names.map((n) => ({ in: join(taskDir, 'src', `${n}.ts`), out: n }));
    // Every bundle: CommonJS for the agents' Node 20 and later, names kept for stack traces.
    const bundling = {
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify,
      keepNames: true,
      legalComments: 'external',
      logLevel: 'error',
    };
    await build({
      entryPoints,
      outdir: out,
      ...bundling,
      plugins: [armRestExternal, lazyExternal, legacyUrl, replaceModules, sharedExternal],
    });
    if (names.includes('step')) {
      const armRestDir = join(nm, 'azure-pipelines-tasks-azure-arm-rest');
      await build({
        stdin: { contents: `module.exports = require(${JSON.stringify(ARM_REST)});\n`, resolveDir: root, sourcefile: 'armRest.js' },
        outfile: join(out, 'armRest.js'),
        ...bundling,
        plugins: [armRestExternal, armRestFiles, legacyUrl, proxyAgentShim, replaceModules, sharedTaskLib, tunnelBuffer],
      });
      await build({
        stdin: { contents: msalEntry(), resolveDir: nm, sourcefile: 'msal.js' },
        outfile: join(out, 'msal.js'),
        ...bundling,
        plugins: [replaceModules],
      });
      await build({
        stdin: {
          contents: "module.exports = require('azure-devops-node-api');\n",
          resolveDir: armRestDir,
          sourcefile: 'azureDevOpsApi.js',
        },
        outfile: join(out, 'azureDevOpsApi.js'),
        ...bundling,
        plugins: [legacyUrl, replaceModules, tunnelBuffer],
      });
    }
    const lazy = lazyModules.filter((m) => existsSync(join(taskDir, m.file)));
    if (lazy.length) {
      await build({
        entryPoints: lazy.map((m) => ({ in: join(taskDir, m.file), out: m.name })),
        outdir: out,
        ...bundling,
        mainFields: ['module', 'main'],
      });
    }
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
