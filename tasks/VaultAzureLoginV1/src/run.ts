// The task's flow, free of the pipeline adapter: token → Vault login → reads → publish.
import { AzureTokenError, AzureTokenSource } from './azureToken';
import { explainAzureToken, explainLogin, TaskError } from './errors';
import { TaskConfig } from './inputs';
import { maskAll, publishAll, VariableSink } from './publish';
import { readSecrets } from './reader';
import { readClaims } from './tokenClaims';
import { VaultApi, VaultClientOptions } from './vault';

export interface Deps {
  getToken: AzureTokenSource;
  createVault: (opts: VaultClientOptions) => VaultApi;
  sink: VariableSink;
  log: (line: string) => void;
  loc: (key: string, ...args: unknown[]) => string;
}

export interface RunResult {
  published: string[];
  tokenType: string;
  leaseIds: string[];
}

export async function run(config: TaskConfig, deps: Deps): Promise<RunResult> {
  const { sink, log, loc } = deps;

  log(loc('TokenRequested', config.resource, config.connection, config.connectionScheme));
  let jwt: string;
  try {
    jwt = (await deps.getToken(config.connection, config.resource)).token;
  } catch (err) {
    if (err instanceof AzureTokenError) throw new TaskError(explainAzureToken(err.connection, err.detail));
    throw err;
  }
  sink.setSecret(jwt);
  const claims = readClaims(jwt);
  if (claims) {
    log(loc('TokenClaims', claims.aud ?? '-', claims.iss ?? '-', claims.tid ?? '-', claims.oid ?? '-', claims.appid ?? '-', claims.expires ?? '-'));
  }

  const vault = deps.createVault({
    address: config.address,
    namespace: config.namespace,
    tls: { verify: true },
    timeoutMs: config.timeoutSeconds * 1000,
  });
  const nsNote = config.namespace ? loc('InNamespace', config.namespace) : '';
  log(loc('LoggingIn', config.address, config.authMount, config.role, nsNote));
  let login;
  try {
    login = await vault.login(config.authMount, config.role, jwt);
  } catch (err) {
    const ctx = { address: config.address, mount: config.authMount, role: config.role, resource: config.resource, namespace: config.namespace, claims };
    throw new TaskError(explainLogin(err, ctx, config.timeoutSeconds));
  }
  sink.setSecret(login.token);
  log(loc('LoggedIn', login.policies.join(', '), login.tokenType, `${login.ttlSeconds}s`));

  const distinctPaths = new Set(config.requests.map((r) => r.path)).size;
  log(loc('ReadingSecrets', distinctPaths));
  const outcome = await readSecrets(vault, config.requests, {
    address: config.address,
    concurrency: config.concurrency,
    timeoutSeconds: config.timeoutSeconds,
  });
  maskAll(outcome.values, sink);
  if (outcome.failures.length) {
    const lines = outcome.failures.map((f) => `  ${f.source}: ${f.reason}`).join('\n');
    throw new TaskError(loc('ReadFailed', outcome.failures.length, lines));
  }

  for (const p of publishAll(outcome.values, sink)) log(loc(p.compacted ? 'PublishedJson' : 'Published', p.source, p.name));
  log(loc('PublishedCount', outcome.values.length, outcome.reads, outcome.mounts.length));
  return { published: outcome.values.map((v) => v.name), tokenType: login.tokenType, leaseIds: outcome.leaseIds };
}
