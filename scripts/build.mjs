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
      plugins: [staticMsal, proxyAgentShim],
    });
    for (const file of runtimeResources) cpSync(file, join(out, parse(file).base));
    taskJson.version = taskVersion(version, name);
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
