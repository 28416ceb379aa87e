// A throwaway PostgreSQL server for the database secrets engine against real OpenBao: Debian's
// binaries (/usr/lib/postgresql/<version>/bin, not on PATH), a cluster made with initdb in a
// temporary folder, listening on 127.0.0.1 inside the private network namespace, where OpenBao runs
// too, with password (SCRAM) authentication for the admin user OpenBao manages roles with. Stopped
// and removed afterwards.
//
// PostgreSQL refuses to run as root, and the tests run as root: as the namespace's mapped root, or
// as the machine's. Inside `unshare -r` no other user exists to switch to, so initdb and postgres
// run in a user namespace of their own where the caller is `nobody` (65534): the same files, the
// same network, a user that is not root.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const POSTGRES_HOST = '127.0.0.1';
export const POSTGRES_PORT = 5432;
/** The superuser initdb creates, with a password: what OpenBao's connection logs in as. */
export const POSTGRES_ADMIN = 'vaultadmin';

export interface Psql {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Postgres {
  host: string;
  port: number;
  adminUser: string;
  adminPassword: string;
  /** Runs one SQL text with psql over TCP as `user` with `password`; the admin unless given. */
  psql(sql: string, user?: string, password?: string): Promise<Psql>;
  /** Whether a role of that name exists (asked as the admin). */
  roleExists(name: string): Promise<boolean>;
  /** Lets the test process end while the server runs (it is killed when the process exits). */
  detach(): void;
  stop(): Promise<void>;
}

/** The folder of initdb, postgres and psql: the newest /usr/lib/postgresql/<version>/bin, else PATH. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length) return join(root, versions[0], 'bin');
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  throw new Error('PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): apt-get install postgresql');
}

/** The command line that runs `bin` as a user that is not root. */
function unprivileged(bin: string, args: string[]): [string, string[]] {
  if (process.geteuid?.() !== 0) return [bin, args];
  return ['unshare', ['--user', '--map-user=65534', '--map-group=65534', '--', bin, ...args]];
}

const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '', LC_ALL: 'C', TZ: 'UTC' });

function execute(command: string, args: string[], more: NodeJS.ProcessEnv = {}): Promise<Psql> {
  return new Promise((done) => {
    execFile(command, args, { env: { ...env(), ...more }, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export async function startPostgres(port = POSTGRES_PORT): Promise<Postgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'val-postgres-'));
  const data = join(dir, 'data');
  const adminPassword = randomBytes(18).toString('base64url');
  const pwfile = join(dir, 'admin-password');
  writeFileSync(pwfile, `${adminPassword}\n`, { mode: 0o600 });

  const [initCmd, initArgs] = unprivileged(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    POSTGRES_ADMIN,
    `--pwfile=${pwfile}`,
    '--auth-host=scram-sha-256',
    '--auth-local=scram-sha-256',
    '--no-locale',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const init = await execute(initCmd, initArgs);
  rmSync(pwfile, { force: true });
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.code}):\n${init.stdout}${init.stderr}`);
  }

  const [cmd, args] = unprivileged(join(bin, 'postgres'), [
    '-D',
    data,
    '-c',
    `listen_addresses=${POSTGRES_HOST}`,
    '-c',
    `port=${port}`,
    '-c',
    'unix_socket_directories=',
    '-c',
    'fsync=off',
    '-c',
    'log_min_messages=warning',
  ]);
  let log = '';
  const server: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env() });
  server.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  server.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  let exited = false;
  const exit = new Promise<void>((done) => server.on('exit', () => ((exited = true), done())));
  // Whatever ends the test process, the server and its folder go with it.
  const atExit = () => {
    if (!exited) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', atExit);

  const psql = (sql: string, user = POSTGRES_ADMIN, password = adminPassword): Promise<Psql> =>
    execute(
      join(bin, 'psql'),
      ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', POSTGRES_HOST, '-p', String(port), '-U', user, '-d', 'postgres', '-c', sql],
      {
        PGPASSWORD: password,
        PGCONNECT_TIMEOUT: '5',
      },
    );

  const stop = async (): Promise<void> => {
    process.removeListener('exit', atExit);
    if (!exited) {
      server.kill('SIGINT'); // fast shutdown: ends the sessions OpenBao holds open
      const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; ; i++) {
      if (exited) throw new Error(`postgres exited:\n${log}`);
      const ready = await psql('select 1');
      if (ready.code === 0 && ready.stdout.trim() === '1') break;
      if (i > 300) throw new Error(`postgres did not accept the admin within 30 s: ${ready.stderr}\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    host: POSTGRES_HOST,
    port,
    adminUser: POSTGRES_ADMIN,
    adminPassword,
    psql,
    async roleExists(name) {
      if (!/^[\w.-]+$/.test(name)) throw new Error(`unexpected role name ${JSON.stringify(name)}`);
      const r = await psql(`select count(*) from pg_roles where rolname = '${name}'`);
      if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
      return r.stdout.trim() === '1';
    },
    detach() {
      server.unref();
      for (const s of [server.stdout, server.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    },
    stop,
  };
}

let shared: Promise<Postgres> | undefined;

/** The one PostgreSQL of a test run (the e2e tests' database secrets engine), started at the first call and ended with the process. */
export function sharedPostgres(): Promise<Postgres> {
  shared ??= startPostgres(POSTGRES_PORT + 1).then((pg) => (pg.detach(), pg));
  return shared;
}
