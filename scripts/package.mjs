// Packages the extension as a VSIX under out/: builds every task into a staging folder, adds the
// manifest (publisher and version from package.json), the icon and the details page, and runs
// tfx-cli offline. --dev writes a private variant that installs beside the public one.
//
//   node scripts/package.mjs [--dev]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTasks } from './build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

export const MAX_VSIX_BYTES = 2 * 1024 * 1024;

/**
 * What makes the dev variant another extension: every id and name the Marketplace, an organization
 * or a pipeline tells extensions, tasks and service connection types apart by.
 */
export const DEV_VARIANT = {
  extensionIdSuffix: '-dev',
  displayNameSuffix: ' (dev)',
  taskNameSuffix: 'Dev',
  /** Endpoint type names are unique across the Marketplace, so the dev one needs its own. */
  endpointTypeSuffix: 'dev',
  /** Fixed, so an organization that installed the dev extension keeps its task across versions. */
  taskIds: { VaultAzureLoginV1: '2a856d4f-ccba-4ad9-be59-38100dcc53b7' },
};

const TASK = 'ms.vss-distributed-task.task';
const ENDPOINT_TYPE = 'ms.vss-endpoint.service-endpoint-type';

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const writeJson = (path, value) => writeFileSync(path, JSON.stringify(value, null, 2) + '\n');

export const taskContributions = (manifest) => manifest.contributions.filter((c) => c.type === TASK);
export const endpointTypes = (manifest) => manifest.contributions.filter((c) => c.type === ENDPOINT_TYPE);

/** The manifest of the dev variant: another extension id and name, private, its own endpoint type names. */
export function devManifest(manifest) {
  const dev = structuredClone(manifest);
  dev.id += DEV_VARIANT.extensionIdSuffix;
  dev.name += DEV_VARIANT.displayNameSuffix;
  dev.public = false;
  for (const c of endpointTypes(dev)) {
    c.properties.name += DEV_VARIANT.endpointTypeSuffix;
    c.properties.displayName += DEV_VARIANT.displayNameSuffix;
  }
  return dev;
}

/** task.json of the dev variant: its own id, name and friendly name, and the dev endpoint types. */
export function devTaskJson(taskJson, taskFolder, endpointTypeNames) {
  const id = DEV_VARIANT.taskIds[taskFolder];
  if (!id)
    throw new Error(`DEV_VARIANT.taskIds in scripts/package.mjs has no id for task ${taskFolder}: add a fixed UUID for its dev variant`);
  const dev = structuredClone(taskJson);
  dev.id = id;
  dev.name += DEV_VARIANT.taskNameSuffix;
  dev.friendlyName += DEV_VARIANT.displayNameSuffix;
  for (const input of dev.inputs ?? []) {
    const m = /^connectedService:(.+)$/.exec(input.type);
    if (m && endpointTypeNames.includes(m[1])) input.type = `connectedService:${m[1]}${DEV_VARIANT.endpointTypeSuffix}`;
  }
  return dev;
}

/** Every file or folder the manifest names, relative to the package root. */
function manifestPaths(manifest) {
  return [
    ...(manifest.files ?? []).map((f) => f.path),
    ...Object.values(manifest.icons ?? {}),
    ...Object.values(manifest.content ?? {}).map((c) => c.path),
    ...(manifest.screenshots ?? []).map((s) => s.path),
  ];
}

function runTfx(args) {
  const tfxPackage = require.resolve('tfx-cli/package.json');
  const bin = join(dirname(tfxPackage), readJson(tfxPackage).bin.tfx);
  const run = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`tfx ${args.slice(0, 2).join(' ')} failed (exit ${run.status}):\n${run.stdout}${run.stderr}`);
  return {
    stdout: run.stdout,
    warnings: run.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  };
}

/**
 * Builds and packages the extension. Returns the VSIX path, its size, the manifest it holds, the
 * staging folder it was made from, and tfx's warnings. Throws when the VSIX is over MAX_VSIX_BYTES.
 */
export async function packageExtension({ dev = false, outDir = join(root, 'out') } = {}) {
  const pkg = readJson(join(root, 'package.json'));
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(pkg.publisher ?? '')) {
    throw new Error(
      `package.json "publisher" is '${pkg.publisher ?? ''}': set it to your Marketplace publisher id (letters, digits and -)`,
    );
  }
  const source = readJson(join(root, 'vss-extension.json'));
  const publicManifest = { ...source, publisher: pkg.publisher, version: pkg.version };
  const manifest = dev ? devManifest(publicManifest) : publicManifest;

  const stage = join(outDir, 'stage', manifest.id);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  await buildTasks({ outRoot: join(stage, 'tasks') });

  const typeNames = endpointTypes(source).map((c) => c.properties.name);
  for (const contribution of taskContributions(manifest)) {
    const taskJsonPath = join(stage, contribution.properties.name, 'task.json');
    if (!existsSync(taskJsonPath))
      throw new Error(`contribution ${contribution.id} names ${contribution.properties.name}, but the build wrote no task.json there`);
    if (dev) writeJson(taskJsonPath, devTaskJson(readJson(taskJsonPath), contribution.properties.name.split('/').pop(), typeNames));
  }
  for (const path of manifestPaths(manifest)) {
    if (existsSync(join(stage, path))) continue;
    if (!existsSync(join(root, path))) throw new Error(`vss-extension.json names '${path}', which does not exist`);
    cpSync(join(root, path), join(stage, path), { recursive: true });
  }
  writeJson(join(stage, 'vss-extension.json'), manifest);

  mkdirSync(outDir, { recursive: true });
  const vsix = join(outDir, `${manifest.publisher}.${manifest.id}-${manifest.version}.vsix`);
  rmSync(vsix, { force: true });
  const { warnings } = runTfx([
    'extension',
    'create',
    '--root',
    stage,
    '--manifest-globs',
    'vss-extension.json',
    '--output-path',
    vsix,
    '--no-prompt',
    '--no-color',
  ]);
  if (!existsSync(vsix)) throw new Error(`tfx reported success but wrote no ${vsix}`);
  const size = statSync(vsix).size;
  if (size > MAX_VSIX_BYTES)
    throw new Error(
      `${relative(root, vsix)} is ${size} bytes, over the ${MAX_VSIX_BYTES}-byte limit: look in ${relative(root, stage)} for what grew`,
    );
  return { vsix, size, manifest, stage, warnings };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { vsix, size, warnings } = await packageExtension({ dev: process.argv.includes('--dev') });
  for (const w of warnings) console.warn(w);
  console.log(`wrote ${relative(process.cwd(), vsix)} (${(size / 1024).toFixed(0)} KiB)`);
}
