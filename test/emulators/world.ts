// Everything a pipeline run touches, on loopback inside the private network namespace: Azure
// DevOps (OIDC), Entra ID, IMDS and Vault over TLS at https://vault.example.com:8200, with the
// identities of five service connections, and a runner that starts the bundled task as the agent
// does. Shared by the e2e tests and the demo.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agentEnv, AzureRmConnection, ServiceEndpoint } from './agentEnv';
import { Azdo, PipelineRun, startAzdo } from './azdo';
import { Entra, startEntra } from './entra';
import { AZDO_HOST, ENTRA_CERT_NAMES, ENTRA_HOST, VAULT_HOST, VAULT_IP, VSTOKEN_HOST } from './hosts';
import { Imds, startImds } from './imds';
import { Ca, ClientCert, createCa, selfSignedClientCert } from './pki';
import { SeedOptions, SECRETS, seedVault, TENANT_ID } from './seed';
import { sharedOpenBao } from '../server/openbao';
import { FrontOptions, VaultFront } from '../server/vaultFront';

export const REPO = resolve(__dirname, '..', '..');
export const BUILT_TASK = join(REPO, 'dist', 'tasks', 'VaultAzureLoginV1');
export const ORG = 'contoso';
export const ORG_ID = 'b2c6e1b7-5d8e-4d43-9a4a-1c2f0e4c7a11';
export const PROJECT = { id: '590cfd2a-581c-4dcb-a12e-6568ce786175', name: 'Platform' };
export const VAULT_PORT = 8200;
export const VAULT_ADDRESS = `https://${VAULT_HOST}:${VAULT_PORT}`;

export interface Identity {
  connectionId: string;
  name: string;
  clientId: string;
  objectId: string;
}

const identity = (name: string): Identity => ({ connectionId: randomUUID(), name, clientId: randomUUID(), objectId: randomUUID() });

export interface TaskRun {
  code: number | null;
  stdout: string;
  stderr: string;
  tempDir: string;
  /** Files left in Agent.TempDirectory after the run. */
  tempFiles: string[];
}

export interface RunOptions {
  connection: Identity;
  inputs: Record<string, string>;
  variables?: Record<string, string>;
  /** Secret pipeline variables (SECRET_<NAME>, as the agent passes them). */
  secretVariables?: Record<string, string>;
  /** Entry file of the task; default the main execution target. */
  entry?: string;
  /**
   * Another Node program to run in the task's place, with the same environment (the bench's
   * stand-in for AzureCLI@2); an absolute path.
   */
  program?: string;
  /** Entries added to the environment the agent gives, after it is built. */
  env?: Record<string, string>;
  /** Agent.TempDirectory to use (kept across main and post steps); default a fresh one. */
  tempDir?: string;
  /** System.DefaultWorkingDirectory, the process's working directory; default the world's sources folder. */
  workingDirectory?: string;
  /** Leave out the test CA (as on an agent that does not trust it). */
  withoutCa?: boolean;
  /** Service connections of other types the step references (e.g. a HashiCorp Vault connection). */
  endpoints?: ServiceEndpoint[];
  /** The pipeline run the job belongs to, for its pipeline OIDC token (default the emulator's). */
  pipelineRun?: Partial<PipelineRun>;
  /** Node options put before the entry file (e.g. `--require`, `--cpu-prof`). */
  nodeArgs?: string[];
  /** The Node binary that runs the task, as an agent's handler does; default this process's. */
  node?: string;
  /**
   * Cancels the job as the agent does (SIGINT to the task process, then SIGKILL 5 s later) as soon
   * as the output so far satisfies this.
   */
  cancelWhen?: (stdout: string) => boolean;
}

export interface ScriptOptions {
  script: string;
  /** The step's `env:` mapping. */
  env?: Record<string, string>;
  variables?: Record<string, string>;
  tempDir: string;
  workingDirectory?: string;
}

export interface WorldOptions {
  /** Delay Vault, Entra and Azure DevOps add before answering each request; default 0. */
  latencyMs?: number;
  /** Folder the task is copied from (e.g. an unpacked VSIX's task); default BUILT_TASK. */
  taskSource?: string;
  /**
   * Other loopback addresses for Entra ID and Azure DevOps to listen on (port 443, same names and
   * URLs), leaving theirs free for something in front of them (the bench's delaying proxies).
   */
  listenHosts?: { entra?: string; azdo?: string };
  /** Vault's database engine over the run's PostgreSQL (database/creds/ci), for the tests that read leases. */
  database?: boolean;
  /** The CA that issues the servers' certificates, the caller's to dispose of; default a new one of the world's own. */
  ca?: Ca;
}

export interface World {
  ca: Ca;
  entra: Entra;
  azdo: Azdo;
  imds: Imds;
  vault: VaultFront;
  systemAccessToken: string;
  spSecret: string;
  clientCert: ClientCert;
  /** Service connections: WIF (Azure DevOps issuer), WIF (Entra-issued assertion), SP key, SP certificate, managed identity, and a WIF connection whose service principal no role binds. */
  ids: { wif: Identity; wifEntra: Identity; spKey: Identity; spCert: Identity; msi: Identity; unbound: Identity };
  /** Folder the bundled task was copied to, away from any node_modules. */
  taskDir: string;
  runTask(opts: RunOptions): Promise<TaskRun>;
  /**
   * Runs a script step (`/bin/sh -c script`) as the agent does: the job's variables in its
   * environment, secret ones only where the step maps them (`env`, values already expanded).
   */
  runScript(opts: ScriptOptions): Promise<TaskRun>;
  /** Sets the delay Vault, Entra and Azure DevOps add before answering each request. */
  setLatency(ms: number): void;
  /** Every secret, token and assertion the run could leak, for the leak scan. */
  secrets(): Array<{ what: string; value: string }>;
  stop(): Promise<void>;
}

/**
 * The world, with the run's real OpenBao as its Vault: a front at vault.example.com:8200 that works
 * in a namespace of its own (test/server/vaultFront.ts), seeded by ./seed.ts.
 */
export function startWorld(options: WorldOptions = {}): Promise<World> {
  return buildWorld(options, async (tls, seed) => {
    const vault = new VaultFront(await sharedOpenBao(), { tls });
    await vault.start(VAULT_PORT, VAULT_IP);
    await seedVault(vault, seed);
    return vault;
  });
}

/**
 * Another Vault at vault.example.com:`port` on the run's OpenBao: a front in a namespace of its own,
 * seeded as the world's (the role binding the WIF connection unless `seed` says otherwise).
 */
export async function startOtherVault(
  world: World,
  port: number,
  opts: FrontOptions,
  seed: Partial<SeedOptions> = {},
): Promise<VaultFront> {
  const vault = new VaultFront(world.vault.bao, opts);
  await vault.start(port, VAULT_IP);
  await seedVault(vault, { jwks: () => world.entra.jwks() as never, boundOids: [world.ids.wif.objectId], ...seed });
  return vault;
}

async function buildWorld(
  options: WorldOptions,
  startVault: (tls: { cert: string; key: string }, seed: SeedOptions) => Promise<VaultFront>,
): Promise<World> {
  if (process.env.VAL_NETNS !== '1') {
    throw new Error('The e2e tests and the demo run inside the private network namespace: node scripts/netns.mjs <command>');
  }
  const taskSource = options.taskSource ?? BUILT_TASK;
  if (!existsSync(join(taskSource, 'main.js'))) throw new Error(`No bundled task at ${taskSource}: run npm run build first.`);

  const systemAccessToken = `eyJ0eXAiOiJKV1QifQ.${Buffer.from(JSON.stringify({ scp: 'app_token', jti: randomUUID() })).toString('base64url')}.c2lnbmF0dXJl`;
  const spSecret = `Q~spn-secret-${randomUUID()}`;
  const ids = {
    wif: identity('sc-vault-prod'),
    wifEntra: identity('sc-vault-entra'),
    spKey: identity('sc-vault-spkey'),
    spCert: identity('sc-vault-spcert'),
    msi: identity('sc-vault-msi'),
    unbound: identity('sc-vault-unbound'),
  };

  const ca = options.ca ?? (await createCa());
  const clientCert = await selfSignedClientCert('vault-login-spn');
  const entra = await startEntra({ tls: await ca.issue([...ENTRA_CERT_NAMES]), host: options.listenHosts?.entra, publicHost: ENTRA_HOST });
  const azdo = await startAzdo({
    tls: await ca.issue([AZDO_HOST, VSTOKEN_HOST]),
    host: options.listenHosts?.azdo,
    publicHost: AZDO_HOST,
    organization: ORG,
    organizationId: ORG_ID,
    project: PROJECT,
    systemAccessToken,
  });
  const imds = await startImds({ entra });

  for (const who of [ids.wif, ids.unbound])
    azdo.addServiceConnection({ id: who.connectionId, name: who.name, tenantId: TENANT_ID, issuerShape: 'azdo' });
  azdo.addServiceConnection({ id: ids.wifEntra.connectionId, name: ids.wifEntra.name, tenantId: TENANT_ID, issuerShape: 'entra' });
  for (const who of [ids.wif, ids.wifEntra, ids.unbound]) {
    entra.trustIssuer(azdo.oidcIssuer(who.connectionId), () => azdo.jwks());
    entra.addApp({
      tenantId: TENANT_ID,
      clientId: who.clientId,
      objectId: who.objectId,
      federated: [azdo.federatedCredential(who.connectionId)],
    });
  }
  entra.addApp({ tenantId: TENANT_ID, clientId: ids.spKey.clientId, objectId: ids.spKey.objectId, secret: spSecret });
  entra.addApp({ tenantId: TENANT_ID, clientId: ids.spCert.clientId, objectId: ids.spCert.objectId, certificatePem: clientCert.certPem });
  entra.addManagedIdentity({ tenantId: TENANT_ID, clientId: ids.msi.clientId, objectId: ids.msi.objectId, systemAssigned: true });
  // Entra signs the assertions it issues for service connections: its key sets hold their keys.
  entra.publishKeys(() => azdo.entraJwks());

  const vaultTls = await ca.issue([VAULT_HOST]);
  const vault = await startVault(
    { cert: vaultTls.certPem, key: vaultTls.keyPem },
    {
      jwks: () => entra.jwks() as unknown as { keys: Array<Record<string, unknown>> },
      boundOids: [ids.wif, ids.wifEntra, ids.spKey, ids.spCert, ids.msi].map((i) => i.objectId),
      database: options.database,
    },
  );

  // The task runs from a copy of the bundle in a folder with no node_modules above it.
  const taskRoot = mkdtempSync(join(tmpdir(), 'val-task-'));
  const taskDir = join(taskRoot, 'VaultAzureLoginV1');
  cpSync(taskSource, taskDir, { recursive: true });
  const tempDirs: string[] = [taskRoot];
  // The agent passes every input of task.json, with its default unless the step sets it.
  const taskInputs = (
    JSON.parse(readFileSync(join(taskDir, 'task.json'), 'utf8')) as { inputs: Array<{ name: string; defaultValue?: string }> }
  ).inputs;
  // System.DefaultWorkingDirectory (the sources folder), the task's working directory.
  const workingDirectory = join(taskRoot, 's');
  mkdirSync(workingDirectory);

  const connections = (): AzureRmConnection[] => [
    ...[ids.wif, ids.wifEntra, ids.unbound].map((who) => ({
      id: who.connectionId,
      name: who.name,
      auth: { scheme: 'WorkloadIdentityFederation' as const, tenantId: TENANT_ID, clientId: who.clientId },
    })),
    {
      id: ids.spKey.connectionId,
      name: ids.spKey.name,
      auth: { scheme: 'ServicePrincipal', tenantId: TENANT_ID, clientId: ids.spKey.clientId, secret: spSecret },
    },
    {
      id: ids.spCert.connectionId,
      name: ids.spCert.name,
      auth: {
        scheme: 'ServicePrincipal',
        authenticationType: 'spnCertificate',
        tenantId: TENANT_ID,
        clientId: ids.spCert.clientId,
        certificatePem: clientCert.combinedPem,
      },
    },
    { id: ids.msi.connectionId, name: ids.msi.name, auth: { scheme: 'ManagedServiceIdentity', tenantId: TENANT_ID } },
  ];

  async function runTask(opts: RunOptions): Promise<TaskRun> {
    const tempDir = opts.tempDir ?? mkdtempSync(join(tmpdir(), 'val-agent-temp-'));
    if (!opts.tempDir) tempDirs.push(tempDir);
    const inputs = { azureSubscription: opts.connection.connectionId, ...opts.inputs };
    // The agent gives a task the endpoints its job references (and the job's own connection),
    // not every service connection of the project.
    const referenced = new Set(Object.values(inputs));
    const jobId = randomUUID();
    if (opts.pipelineRun) azdo.setJobRun(jobId, opts.pipelineRun);
    const env = agentEnv({
      collectionUri: azdo.url,
      projectId: PROJECT.id,
      projectName: PROJECT.name,
      planId: randomUUID(),
      jobId,
      systemAccessToken,
      tempDir,
      workingDirectory: opts.workingDirectory ?? workingDirectory,
      caCertPath: opts.withoutCa ? undefined : ca.certPath,
      connections: connections().filter((c) => referenced.has(c.id)),
      endpoints: opts.endpoints,
      taskInputs,
      variables: opts.variables,
      secretVariables: opts.secretVariables,
      inputs,
    });
    const entry = opts.program ?? join(taskDir, opts.entry ?? 'main.js');
    return spawnStep(opts.node ?? process.execPath, [...(opts.nodeArgs ?? []), entry], {
      cwd: opts.workingDirectory ?? workingDirectory,
      env: { ...env, ...opts.env },
      tempDir,
      cancelWhen: opts.cancelWhen,
    });
  }

  function runScript(opts: ScriptOptions): Promise<TaskRun> {
    const env = agentEnv({
      collectionUri: azdo.url,
      projectId: PROJECT.id,
      projectName: PROJECT.name,
      planId: randomUUID(),
      jobId: randomUUID(),
      systemAccessToken,
      tempDir: opts.tempDir,
      workingDirectory: opts.workingDirectory ?? workingDirectory,
      connections: [],
      variables: opts.variables,
    });
    // System.AccessToken, like any secret, reaches a script only where its env: maps it.
    for (const name of Object.keys(env)) if (name.startsWith('ENDPOINT_')) delete env[name];
    return spawnStep('/bin/sh', ['-c', opts.script], {
      cwd: opts.workingDirectory ?? workingDirectory,
      env: { ...env, ...opts.env },
      tempDir: opts.tempDir,
    });
  }

  function spawnStep(
    file: string,
    args: string[],
    opts: { cwd: string; env: Record<string, string>; tempDir: string; cancelWhen?: (stdout: string) => boolean },
  ): Promise<TaskRun> {
    const { tempDir } = opts;
    return new Promise<TaskRun>((done, fail) => {
      const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let cancelled = false;
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (!cancelled && opts.cancelWhen?.(stdout)) {
          cancelled = true;
          child.kill('SIGINT');
          setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
        }
      });
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', fail);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr, tempDir, tempFiles: readdirSync(tempDir).sort() });
      });
    });
  }

  function setLatency(ms: number): void {
    vault.latencyMs = ms;
    entra.latencyMs = ms;
    azdo.latencyMs = ms;
  }
  setLatency(options.latencyMs ?? 0);

  return {
    ca,
    entra,
    azdo,
    imds,
    vault,
    systemAccessToken,
    spSecret,
    clientCert,
    ids,
    taskDir,
    runTask,
    runScript,
    setLatency,
    secrets: () => [
      ...Object.entries(SECRETS).map(([what, value]) => ({ what: `secret ${what}`, value })),
      ...entra.issuedTokens.map((value) => ({ what: 'an Entra access token', value })),
      ...azdo.issuedTokens.map((value) => ({ what: 'an OIDC token', value })),
      ...vault.issuedTokens().map((value) => ({ what: 'a Vault token', value })),
      { what: 'System.AccessToken', value: systemAccessToken },
    ],
    async stop() {
      await Promise.all([vault.stop(), entra.close(), azdo.close(), imds.close()]);
      if (!options.ca) await ca.dispose();
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
