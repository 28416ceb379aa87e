// The one place that reads task inputs, endpoints and agent settings; returns typed settings or
// fails with every problem found, each naming the input and the fix. All of it comes through a
// source: the agent's (pipeline/adapter.ts), or plain maps in tests.
import { needsRole, readAuthInputs } from '../auth';
import { fileRefusal, MAX_PEM_FILE_BYTES } from '../core/inputFile';
import type { Text } from '../core/text';
import { clientPairMatches } from '../core/clientPair';
import { booleanInput, InputSource, isPlainPath, numberInput, pemInput, rolePattern, trimSlashes } from './inputFields';
import { isLoopback } from '../core/address';
import { TaskError } from '../core/errors';
import type { TaskConfig } from '../config';
import { CredentialKind, CredentialRequest, CredentialSpecError, parseCredentials } from '../core/credentialSpec';
import { formatProblem, parseSecrets, SecretRequest, SecretSpecError } from '../core/secretSpec';
import type { ProxyConfig, VaultSettings } from '../vault/settings';

/** The agent's own certificate settings (Agent.CAInfo, Agent.ClientCert, Agent.ClientCertKey), as file paths. */
export interface AgentCertificates {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  passphrase?: string;
}

/** Everything the step's configuration is read from. */
export interface ConfigSource extends InputSource {
  /** An input exactly as the agent gives it, not trimmed: the secrets and certificates inputs count lines. */
  rawInput(name: string): string;
  agentCertificates(): AgentCertificates | undefined;
  /** The agent's proxy for `url`; undefined when none applies. */
  proxyFor(url: string): ProxyConfig | undefined;
}

export interface Read<T> {
  value: T;
  warnings: string[];
}

export function parseAddress(loc: Text, raw: string, from: string, problems: string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(loc('VaultAddressInvalid', raw, from));
    return '';
  }
  // A user name or password in the address may be a secret: messages quote the address without them.
  const hasCredentials = Boolean(url.username || url.password);
  const shown = hasCredentials ? `${url.protocol}//${url.host}${url.pathname}${url.search}${url.hash}` : raw;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    problems.push(loc('VaultAddressInvalid', shown, from));
    return '';
  }
  // A path the user gave (e.g. /vault behind a gateway) is kept; "/v1" would be doubled.
  const path = url.pathname.replace(/\/+$/, '');
  if (hasCredentials) {
    problems.push(loc('VaultAddressHasCredentials', shown, from, `${url.origin}${path}`));
    return '';
  }
  if (url.search || url.hash) {
    problems.push(loc('VaultAddressHasQuery', raw, from, `${url.origin}${path}`));
    return '';
  }
  if (/\/v1$/.test(path)) {
    problems.push(loc('VaultAddressHasApiPath', raw, from, `${url.origin}${path.slice(0, -3)}`));
    return '';
  }
  return `${url.origin}${path}`;
}

function agentFile({ loc, readFile }: InputSource, variable: string, path: string, problems: string[]): string | undefined {
  const file = readFile(path, MAX_PEM_FILE_BYTES);
  if ('text' in file) return file.text;
  if (file.refused === 'missing' || file.refused === 'unreadable') problems.push(loc('AgentFileUnreadable', variable, path, file.code));
  else problems.push(fileRefusal(loc('AgentSettingNamed', variable), path, MAX_PEM_FILE_BYTES, file, loc) ?? '');
  return undefined;
}

/** Address, namespaces, TLS, proxy and request limits: how to reach Vault (the main step saves it for the post-job step). */
export function readVaultSettings(src: ConfigSource, problems: string[], warnings: string[]): VaultSettings {
  const { port, loc } = src;
  const input = port.input;
  const connectionId = input('vaultConnection');
  const addressInput = input('vaultAddress');
  let address = '';
  let connectionNamespace = '';
  let connectionCa = '';
  if (connectionId && addressInput) {
    problems.push(loc('VaultTargetTwice'));
  } else if (connectionId) {
    const endpoint = port.endpoint(connectionId);
    if (!endpoint.url) problems.push(loc('VaultConnectionNotFound', connectionId));
    else address = parseAddress(loc, endpoint.url, loc('FromVaultConnection', connectionId), problems);
    connectionNamespace = trimSlashes(endpoint.data('namespace'));
    connectionCa = endpoint.data('caCertificate');
  } else if (addressInput) {
    address = parseAddress(loc, addressInput, "input 'vaultAddress'", problems);
  } else {
    const fromVariable = port.variable('VAULT_ADDR');
    if (fromVariable) address = parseAddress(loc, fromVariable, 'variable VAULT_ADDR', problems);
    else problems.push(loc('VaultAddressMissing'));
  }

  const namespace = trimSlashes(input('vaultNamespace')) || connectionNamespace;
  if (namespace && !isPlainPath(namespace)) problems.push(loc('NamespaceInvalid', 'vaultNamespace', namespace));
  const authNamespaceInput = trimSlashes(input('authNamespace'));
  if (authNamespaceInput && !isPlainPath(authNamespaceInput)) problems.push(loc('NamespaceInvalid', 'authNamespace', authNamespaceInput));
  const authNamespace = authNamespaceInput || namespace;

  const verify = !booleanInput(src, 'tlsSkipVerify', false, problems);
  const ca: string[] = [];
  const inputCa = pemInput(src, 'caCertificate', input('caCertificate'), 'certificate', problems);
  if (inputCa) ca.push(inputCa);
  const endpointCa = pemInput(src, `caCertificate (${loc('FromVaultConnection', connectionId)})`, connectionCa, 'certificate', problems);
  if (endpointCa) ca.push(endpointCa);

  const beforePair = problems.length;
  let cert = pemInput(src, 'clientCertificate', input('clientCertificate'), 'certificate', problems);
  let key = pemInput(src, 'clientKey', input('clientKey'), 'key', problems);
  // Half a pair is a problem of its own only when neither half was refused already.
  if (Boolean(cert) !== Boolean(key) && problems.length === beforePair) problems.push(loc('ClientPairIncomplete'));
  let passphrase: string | undefined;

  // The agent's own certificate settings (Agent.CAInfo, Agent.ClientCert) apply as well.
  const agentCerts = src.agentCertificates();
  if (agentCerts?.caFile) {
    const agentCa = agentFile(src, 'Agent.CAInfo', agentCerts.caFile, problems);
    if (agentCa) ca.push(agentCa);
  }
  let pairNames: [string, string] = ['clientCertificate', 'clientKey'];
  if (!cert && agentCerts?.certFile && agentCerts.keyFile) {
    cert = agentFile(src, 'Agent.ClientCert', agentCerts.certFile, problems);
    key = agentFile(src, 'Agent.ClientCertKey', agentCerts.keyFile, problems);
    passphrase = agentCerts.passphrase || undefined;
    pairNames = ['Agent.ClientCert', 'Agent.ClientCertKey'];
  }
  // Checked here, before any request: the TLS context is built later, while the task waits for Azure.
  if (cert && key && !clientPairMatches(cert, key, passphrase)) problems.push(loc('ClientPairMismatch', ...pairNames));

  const proxy = address ? src.proxyFor(address) : undefined;

  if (!verify) warnings.push(loc('TlsSkipVerifyWarning', address || 'Vault'));
  if (address?.startsWith('http://') && !isLoopback(address)) warnings.push(loc('PlainHttpWarning', address));

  return {
    address,
    namespace: namespace || undefined,
    authNamespace: authNamespace || undefined,
    tls: { verify, ca, cert, key, passphrase },
    proxy,
    timeoutSeconds: numberInput(src, 'timeoutSeconds', 30, 1, 600, problems),
    retries: numberInput(src, 'retries', 2, 0, 10, problems),
    concurrency: numberInput(src, 'concurrency', 64, 1, 128, problems),
  };
}

function fail(problems: string[]): never {
  throw new TaskError(problems.length === 1 ? problems[0] : problems.map((p) => `- ${p}`).join('\n'));
}

/**
 * runAsPreJob: whether the task's work belongs to its pre-job step (before the job's first step,
 * checkout included) rather than to its own step. Read alone, before anything else, by both.
 */
export function readRunAsPreJob(src: ConfigSource): boolean {
  const problems: string[] = [];
  const preJob = booleanInput(src, 'runAsPreJob', false, problems);
  if (problems.length) fail(problems);
  return preJob;
}

/**
 * Fails on an input that still holds a `$(NAME)` macro, as the pre-job step sees one: the agent
 * expanded the inputs with the variables that existed when the job started and left a macro naming
 * none as written. Lines that are comments (`#`) are not looked at.
 */
export function refuseUnexpandedMacros({ port, loc }: ConfigSource, names: string[]): void {
  const problems: string[] = [];
  for (const name of names) {
    const lines = port
      .input(name)
      .split(/\r?\n/)
      .filter((l) => !l.trim().startsWith('#'));
    const macro = /\$\([\w.-]+\)/.exec(lines.join('\n'))?.[0];
    if (macro) problems.push(loc('PreJobUnexpandedMacro', name, macro));
  }
  if (problems.length) fail(problems);
}

/** The requests of the `certificates` or `sshCertificates` input; each problem quotes its line. */
function readCredentials({ rawInput, loc }: ConfigSource, kind: CredentialKind, name: string, problems: string[]): CredentialRequest[] {
  try {
    return parseCredentials(kind, rawInput(name), loc);
  } catch (err) {
    if (!(err instanceof CredentialSpecError)) throw err;
    problems.push([loc('CredentialsInvalid', name, err.problems.length), ...err.message.split('\n').map((l) => `  ${l}`)].join('\n'));
    return [];
  }
}

export function readConfig(src: ConfigSource): Read<TaskConfig> {
  const { port, loc } = src;
  const input = port.input;
  const problems: string[] = [];
  const warnings: string[] = [];

  const vault = readVaultSettings(src, problems, warnings);
  const auth = readAuthInputs({
    port,
    loc,
    problems,
    warnings,
    vaultAddress: vault.address,
    vaultConnection: input('vaultConnection'),
    clientCertificate: vault.tls.cert,
    useClientPair: (cert, key) => {
      vault.tls = { ...vault.tls, cert, key, passphrase: undefined };
    },
    readFile: src.readFile,
  });

  // The mount defaults to the path `vault auth enable <method>` gives it: the method's name.
  const authMountRaw = input('authMount');
  const authMount = trimSlashes(authMountRaw) || auth?.method || 'azure';
  if (!isPlainPath(authMount)) {
    problems.push(loc('MountInvalid', authMountRaw));
  } else if (authMount.startsWith('auth/')) {
    problems.push(loc('MountHasAuthPrefix', authMount, authMount.slice('auth/'.length)));
  }

  const role = input('role');
  if (!role) {
    if (!auth || needsRole(auth.method)) problems.push(loc('InputRequired', 'role', loc('RoleHint')));
  } else if (!rolePattern.test(role)) problems.push(loc('RoleInvalid', role));

  const exportToken = booleanInput(src, 'exportToken', false, problems);
  const before = problems.length;
  const credentials = [
    ...readCredentials(src, 'pki', 'certificates', problems),
    ...readCredentials(src, 'ssh', 'sshCertificates', problems),
  ];
  // Certificates asked for (even in lines with problems) are work enough without a secret.
  const wantsCredentials = credentials.length > 0 || problems.length > before;
  const secretsText = src.rawInput('secrets');
  let requests: SecretRequest[] = [];
  try {
    requests = parseSecrets(secretsText, loc);
  } catch (err) {
    if (!(err instanceof SecretSpecError)) throw err;
    // No entries at all (empty, or only comments) is fine when the step only logs in and exports the token.
    const noEntries = err.problems.every((p) => p.line === 0);
    if (!(noEntries && (exportToken || wantsCredentials))) {
      const hint = noEntries ? `\n  ${loc('SecretsOrExport')}` : '';
      problems.push(
        [loc('SecretsInvalid', err.problems.length), ...err.problems.map((p) => `  ${formatProblem(p, loc)}`)].join('\n') + hint,
      );
    }
  }

  const ignoreNotFound = booleanInput(src, 'ignoreNotFound', false, problems);
  const isOutput = booleanInput(src, 'isOutput', false, problems);
  const revokeToken = booleanInput(src, 'revokeToken', true, problems);
  if (problems.length || !auth) fail(problems);
  const config: TaskConfig = { ...vault, auth, authMount, role, requests, credentials, ignoreNotFound, isOutput, exportToken, revokeToken };
  return { value: config, warnings };
}
