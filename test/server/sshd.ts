// A throwaway OpenSSH server (Debian's openssh-server, /usr/sbin/sshd) on 127.0.0.1 inside the
// private network namespace, trusting one SSH CA for user certificates (TrustedUserCAKeys), with
// no authorized_keys, no password and no PAM: a login succeeds only with a certificate that CA
// signed for the user. Stopped and removed afterwards.
//
// As root, sshd's privilege separation calls setgroups, which the namespace's user namespace
// (`unshare -r`) denies. Run as any other user, sshd separates nothing and lets only that user
// log in: so it runs as `deploy` (uid 1000) of a user namespace of its own, with a passwd and
// group file naming `deploy` bind-mounted, in a mount namespace of its own, over the system's.
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';

export const SSHD_BINARY = '/usr/sbin/sshd';
export const SSH_USER = 'deploy';
const UID = 1000;

export interface Sshd {
  port: number;
  /**
   * Runs `command` on the server as `user` with the private key `keyFile` and, when given, the
   * certificate `certFile` (and no other key, agent or configuration).
   */
  ssh(
    keyFile: string,
    certFile: string | undefined,
    command: string,
    user?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** What sshd logged (its -e output). */
  log(): string;
  stop(): Promise<void>;
}

function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  return new Promise((done, fail) => {
    const attempt = () => {
      if (child.exitCode !== null) return fail(new Error(`sshd exited (${child.exitCode}):\n${log()}`));
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) fail(new Error(`sshd did not listen on ${port} within 15 s:\n${log()}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/** Starts sshd trusting `caPublicKey` (an `ssh-… AAAA…` line) for user certificates. */
export async function startSshd(caPublicKey: string, port = 2222): Promise<Sshd> {
  if (!existsSync(SSHD_BINARY)) throw new Error(`${SSHD_BINARY} is missing: apt-get install openssh-server`);
  const dir = mkdtempSync(join(tmpdir(), 'val-sshd-'));
  const file = (name: string) => join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file('host_key')]);
  writeFileSync(file('trusted-user-ca-keys.pem'), `${caPublicKey.trim()}\n`);
  writeFileSync(file('passwd'), `root:x:0:0:root:/root:/bin/sh\n${SSH_USER}:x:${UID}:${UID}:${SSH_USER}:${dir}:/bin/sh\n`);
  writeFileSync(file('group'), `root:x:0:\n${SSH_USER}:x:${UID}:\n`);
  writeFileSync(
    file('sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${file('host_key')}`,
      `TrustedUserCAKeys ${file('trusted-user-ca-keys.pem')}`,
      'AuthorizedKeysFile none',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${file('sshd.pid')}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const script = `mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group && exec unshare --user --map-user=${UID} --map-group=${UID} -- ${SSHD_BINARY} -D -e -f "$1/sshd_config"`;
  const child = spawn('unshare', ['--mount', '--', 'sh', '-c', script, 'sh', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    log: () => log,
    stop,
    ssh(keyFile, certFile, command, user = SSH_USER) {
      const args = [
        '-F',
        'none',
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'IdentityAgent=none',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        '-o',
        'ConnectTimeout=10',
        '-i',
        keyFile,
        ...(certFile ? ['-o', `CertificateFile=${certFile}`] : []),
        '-p',
        String(port),
        `${user}@127.0.0.1`,
        command,
      ];
      return new Promise((done) => {
        execFile(
          'ssh',
          args,
          { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: dir } },
          (err, stdout, stderr) => {
            done({ code: err ? (typeof err.code === 'number' ? err.code : 255) : 0, stdout, stderr });
          },
        );
      });
    },
  };
}
