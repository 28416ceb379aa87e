// The task's flow, free of the pipeline adapter and of any one login method: the method's proof →
// Vault login → reads → files → publish. State for the post-job step is saved as soon as it exists.
import type { AuthMethod, Proof } from './auth';
import { DeadlineError, withDeadline } from './core/deadline';
import { explainLogin, TaskError } from './core/errors';
import { FileStore } from './pipeline/files';
import { TaskConfig } from './config';
import { maskAll, publishAll, tooShortToMask, Variable, VariableSink } from './pipeline/publish';
import { escapeOutside } from './core/logText';
import { findDuplicateNames } from './core/secretSpec';
import { issueCredentials } from './vault/credentials';
import { readSecrets, SecretValue } from './vault/reader';
import { RetryPolicy, withRetry } from './vault/retry';
import { saveState, StateStore } from './pipeline/state';
import { clientOptionsFor, VaultApi, VaultClientOptions } from './vault/client';

export interface Deps {
  /** The login method `authMethod` chose. */
  method: AuthMethod;
  createVault: (opts: VaultClientOptions) => VaultApi;
  sink: VariableSink;
  state: StateStore;
  files: () => FileStore;
  retry: RetryPolicy;
  log: (line: string) => void;
  warn: (line: string) => void;
  /** Runs `fn` once the token request has sent its first HTTP request; cancellable. */
  onFirstRequestSent: (fn: () => void) => { cancel(): void };
  /** Runs `fn` with what it writes to the log going out in one piece when it ends. */
  inOneWrite: <T>(fn: () => T) => T;
  loc: (key: string, ...args: unknown[]) => string;
}

export interface RunResult {
  published: string[];
  tokenType: string;
  leaseIds: string[];
}

function writeFiles(values: SecretValue[], files: () => FileStore, deps: Deps, written: string[]): Variable[] {
  let store: FileStore | undefined;
  return values.map((v) => {
    if (!v.toFile) return { name: v.name, value: v.value, source: v.source, secret: true };
    store ??= files();
    const file = store.write(v.name, v.value);
    written.push(file);
    saveState(deps.state, { files: written });
    return { name: v.name, value: file, source: v.source, secret: false };
  });
}

/** The read namespace relative to the login's, with a trailing '/' ('' when the same or not below it). */
export function policyPrefix(namespace: string | undefined, authNamespace: string | undefined): string {
  if (!namespace || namespace === authNamespace) return '';
  if (!authNamespace) return `${namespace}/`;
  return namespace.startsWith(`${authNamespace}/`) ? `${namespace.slice(authNamespace.length + 1)}/` : '';
}

export async function run(config: TaskConfig, deps: Deps): Promise<RunResult> {
  const vault = deps.createVault(clientOptionsFor(config, deps.retry));
  // Connecting to Vault (TLS handshake, protocol) happens while the token request waits for its
  // first answer: before that the step is busy with the request itself, after it the connection
  // is ready by the login. If no request goes out, the login connects.
  // Over HTTP/1.1 each read in flight needs a connection of its own: they open then too.
  const readsAtOnce = Math.max(1, Math.min(config.concurrency, new Set(config.requests.map((r) => r.path)).size));
  const warmUp = deps.onFirstRequestSent(() => vault.warmUp(readsAtOnce));
  try {
    return await runWith(vault, config, deps);
  } finally {
    warmUp.cancel();
    vault.close();
  }
}

async function runWith(vault: VaultApi, config: TaskConfig, deps: Deps): Promise<RunResult> {
  const { sink, log, loc } = deps;

  const { method } = deps;
  log(method.describe(loc));
  let proof: Proof;
  try {
    // The libraries a proof relies on set no time limit on their requests (the Azure library to
    // Azure DevOps, Entra or IMDS): each attempt gets timeoutSeconds, and one that runs out is
    // retried as a transient failure.
    const ctx = {
      mount: config.authMount,
      role: config.role,
      loc,
      log,
      mask: (v: string) => sink.setSecret(v),
      vault,
      timeoutSeconds: config.timeoutSeconds,
    };
    const attempt = () => withDeadline(method.prove(ctx), config.timeoutSeconds * 1000);
    const transient = (err: unknown) => err instanceof DeadlineError || method.isTransient(err);
    proof = await withRetry(method.what(loc), attempt, deps.retry, transient);
  } catch (err) {
    const explained = method.explainProofFailure(err, { timeoutSeconds: config.timeoutSeconds, attempts: config.retries + 1 }, loc);
    if (explained !== undefined) throw new TaskError(explained);
    throw err;
  }
  for (const secret of proof.secrets) sink.setSecret(secret);
  for (const note of proof.notes) log(note);

  const nsNote = config.authNamespace ? loc('InNamespace', config.authNamespace) : '';
  // A certificate login may name no role: Vault then tries each certificate role of the mount.
  log(
    config.role
      ? loc('LoggingIn', config.address, config.authMount, config.role, nsNote)
      : loc('LoggingInNoRole', config.address, config.authMount, nsNote),
  );
  let login: Awaited<ReturnType<VaultApi['login']>>;
  try {
    login = await vault.login(config.authMount, proof.body, proof.spends);
  } catch (err) {
    const target = { address: config.address, mount: config.authMount, role: config.role, nsNote };
    const ctx = { ...target, namespace: config.authNamespace, method: method.name, lostNote: method.lostLoginNote?.(target, loc) };
    throw new TaskError(
      explainLogin(err, ctx, config.timeoutSeconds, deps.loc, (refusal) => method.explainRefusal(refusal, proof, target, loc)),
    );
  }
  sink.setSecret(login.token);
  // With the token, the Vault it came from as this step reached it: the post-job step uses that
  // alone, so inputs or variables changed by a later step cannot send the token elsewhere.
  saveState(deps.state, { vault: config, token: login.token, tokenType: login.tokenType, revokeToken: config.revokeToken });
  log(loc('LoggedIn', login.policies.join(', '), login.tokenType, `${login.ttlSeconds}s`, vault.protocol() ?? 'HTTP'));

  let values: SecretValue[] = [];
  let leaseIds: string[] = [];
  const saved: string[] = [];
  const onLease = (leaseId: string) => {
    saved.push(leaseId);
    saveState(deps.state, { leaseIds: saved });
  };
  // How reads and certificate requests reach Vault, and where each new lease is saved at once.
  const engine = {
    address: config.address,
    concurrency: config.concurrency,
    timeoutSeconds: config.timeoutSeconds,
    loc,
    policyPrefix: policyPrefix(config.namespace, config.authNamespace),
    onLease,
  };
  if (config.requests.length) {
    const distinctPaths = new Set(config.requests.map((r) => r.path)).size;
    log(loc('ReadingSecrets', distinctPaths));
    const outcome = await readSecrets(vault, config.requests, engine);
    leaseIds = outcome.leaseIds;
    deps.inOneWrite(() => maskAll(outcome.values, sink));
    const skipped = config.ignoreNotFound ? outcome.failures.filter((f) => f.notFound) : [];
    const failures = outcome.failures.filter((f) => !skipped.includes(f));
    for (const f of skipped) deps.warn(loc('SkippedNotFound', f.source, f.reason));
    if (failures.length) {
      // A source names a path and key, which may have come from Vault; a reason is a message.
      const lines = failures.map((f) => `  ${escapeOutside(f.source)}: ${f.reason}`);
      throw new TaskError([loc('ReadFailed', failures.length), ...lines].join('\n'));
    }
    values = outcome.values;
    log(loc('ReadSummary', outcome.reads, outcome.mounts.length));
    for (const v of tooShortToMask(values)) deps.warn(loc('SecretTooShort', v.source, v.name));
  }

  // Only once every secret is read: a failed read issues no certificate.
  if (config.credentials.length) {
    for (const r of config.credentials) {
      if (r.unknownParams.length) log(loc('CredentialParamsUnknown', r.path, r.unknownParams.join(', ')));
    }
    log(loc('IssuingCredentials', config.credentials.length));
    const issued = await issueCredentials(vault, config.credentials, engine);
    // The private keys are masked before anything about them is logged.
    deps.inOneWrite(() => maskAll(issued.values, sink));
    const failures = [...issued.failures];
    for (const message of findDuplicateNames(
      [...values, ...issued.values].map((v) => ({ name: v.name, source: v.source })),
      loc,
    )) {
      failures.push({ source: loc('VariableNames'), reason: message });
    }
    for (const note of issued.notes) log(note);
    for (const warning of issued.warnings) deps.warn(warning);
    if (failures.length) {
      const lines = failures.map((f) => `  ${escapeOutside(f.source)}: ${f.reason}`);
      const leaseNote = issued.leaseIds.length ? ` ${loc('CredentialLeasesRevokedLater', issued.leaseIds.length)}` : '';
      throw new TaskError([loc('CredentialsFailed', failures.length, config.credentials.length) + leaseNote, ...lines].join('\n'));
    }
    values = [...values, ...issued.values];
    leaseIds = [...leaseIds, ...issued.leaseIds];
  }

  const written: string[] = [];
  let variables: Variable[];
  try {
    variables = writeFiles(values, deps.files, deps, written);
  } catch (err) {
    throw new TaskError(loc('FileWriteFailed', (err as NodeJS.ErrnoException).code ?? String(err)));
  }
  if (config.exportToken) {
    variables.push({ name: 'VAULT_TOKEN', value: login.token, source: 'exportToken', secret: true });
    variables.push({ name: 'VAULT_ADDR', value: config.address, source: 'exportToken', secret: false });
    if (config.namespace) variables.push({ name: 'VAULT_NAMESPACE', value: config.namespace, source: 'exportToken', secret: false });
  }

  deps.inOneWrite(() => {
    for (const p of publishAll(variables, sink, config.isOutput)) {
      // Not secret: the path of a secret file, or a setting exportToken hands on (VAULT_ADDR, VAULT_NAMESPACE).
      const key = p.secret ? 'Published' : p.source === 'exportToken' ? 'PublishedSetting' : 'PublishedPlain';
      log(loc(key, p.source, p.name));
    }
    log(loc('PublishedCount', variables.length, config.isOutput ? loc('AsOutput') : ''));
  });
  return { published: variables.map((v) => v.name), tokenType: login.tokenType, leaseIds };
}
