#!/usr/bin/env node
// Runs a command inside a private network + mount namespace where the Azure, Azure DevOps and
// Vault host names resolve to loopback addresses, so the emulators in test/emulators can stand in
// for the real services without touching the machine's own network or /etc/hosts.
//
//   node scripts/netns.mjs <command> [args...]
//
// Inside: `lo` is up, 169.254.169.254/32 (IMDS) is on `lo`, a generated hosts file is bind-mounted
// over /etc/hosts, and VAL_NETNS=1 is set. Exit code and stdio are the command's. When VAL_NETNS=1
// is already set the command is run as it is. Keep the table in step with test/emulators/hosts.ts
// (the e2e suite checks that the two agree).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOSTS = [
  ['127.0.0.1', ['localhost', 'login.microsoftonline.com', 'login.windows.net', 'sts.windows.net']],
  ['::1', ['localhost']],
  ['127.0.0.2', ['dev.azure.com', 'vstoken.dev.azure.com']],
  ['127.0.0.3', ['vault.example.com']],
  ['127.0.0.8', ['k8s.example.com', 'kubernetes.default.svc']],
  ['127.0.0.10', ['sts.amazonaws.com', 'sts.us-east-1.amazonaws.com', 'sts.eu-west-1.amazonaws.com']],
  ['169.254.169.254', ['metadata.google.internal']],
];
const IMDS_ADDRESS = '169.254.169.254/32';
const INNER_FLAG = '--netns-inner';
const SETUP_FAILED = 125;
const SELF = fileURLToPath(import.meta.url);

function fail(message) {
  process.stderr.write(`netns: ${message}\n`);
  process.exit(SETUP_FAILED);
}

/** Runs the command with inherited stdio and exits with its exit code (128+n on signal n). */
function runAndExit(command, args, env) {
  const child = spawn(command, args, { stdio: 'inherit', env });
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (err) => fail(`cannot start \`${command}\`: ${err.message}`));
  child.on('exit', (code, signal) => {
    process.exit(signal ? 128 + (constants.signals[signal] ?? 1) : (code ?? 1));
  });
}

function hostsFileText() {
  return HOSTS.map(([ip, names]) => `${ip}\t${names.join(' ')}`).join('\n') + '\n';
}

/** Outside: create the hosts file and re-enter this script under `unshare -r -n -m`. */
function outer(argv) {
  const probe = spawnSync('unshare', ['--version'], { stdio: 'ignore' });
  if (probe.error) {
    fail('`unshare` (util-linux) is not installed; it is needed to create the private network namespace the tests run in.');
  }
  const dir = mkdtempSync(join(tmpdir(), 'val-netns-'));
  writeFileSync(join(dir, 'hosts'), hostsFileText(), { mode: 0o644 });
  const marker = join(dir, 'entered');
  const child = spawn('unshare', ['-r', '-n', '-m', '--', process.execPath, SELF, INNER_FLAG, dir, ...argv], {
    stdio: 'inherit',
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (err) => fail(`cannot start \`unshare\`: ${err.message}`));
  child.on('exit', (code, signal) => {
    const entered = existsSync(marker);
    rmSync(dir, { recursive: true, force: true });
    if (!entered) {
      fail(
        'could not create a private user+network+mount namespace (`unshare -r -n -m` failed, see its message above). ' +
          'Unprivileged user namespaces must be allowed: check `sysctl user.max_user_namespaces` (> 0), ' +
          '`kernel.unprivileged_userns_clone` (1, Debian/Ubuntu) and `kernel.apparmor_restrict_unprivileged_userns` (0, Ubuntu 24.04+), ' +
          'or run inside a container started with user namespaces permitted. The command was NOT run.',
      );
    }
    process.exit(signal ? 128 + (constants.signals[signal] ?? 1) : (code ?? 1));
  });
}

/** Inside the new namespaces (as the mapped root): set up loopback, IMDS address and /etc/hosts, then run. */
function inner(dir, argv) {
  writeFileSync(join(dir, 'entered'), '');
  const steps = [
    ['ip', ['link', 'set', 'lo', 'up'], 'iproute2 `ip` is needed to bring up loopback'],
    ['ip', ['addr', 'add', IMDS_ADDRESS, 'dev', 'lo'], 'iproute2 `ip` is needed to add the IMDS address'],
    ['mount', ['--bind', join(dir, 'hosts'), '/etc/hosts'], '/etc/hosts must exist and bind mounts must be allowed in the mount namespace'],
  ];
  for (const [command, args, need] of steps) {
    const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (result.error || result.status !== 0) {
      const why = result.error ? result.error.message : (result.stderr || '').trim() || `exit ${result.status}`;
      fail(`\`${command} ${args.join(' ')}\` failed inside the namespace (${why}); ${need}. The command was NOT run.`);
    }
  }
  runAndExit(argv[0], argv.slice(1), { ...process.env, VAL_NETNS: '1' });
}

const argv = process.argv.slice(2);
if (argv[0] === INNER_FLAG) {
  inner(argv[1], argv.slice(2));
} else if (argv.length === 0) {
  process.stderr.write('usage: node scripts/netns.mjs <command> [args...]\n');
  process.exit(2);
} else if (process.env.VAL_NETNS === '1') {
  runAndExit(argv[0], argv.slice(1), process.env);
} else {
  outer(argv);
}
