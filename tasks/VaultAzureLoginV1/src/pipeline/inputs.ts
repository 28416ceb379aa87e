// The one place that reads task inputs, endpoints and agent settings; returns typed settings or
// fails with every problem found, each naming the input and the fix.
import * as tl from 'azure-pipelines-task-lib/task';
import { fileRefusal, MAX_PEM_FILE_BYTES } from '../core/inputFile';
import { needsRole, readAuthInputs } from '../auth';
import { inputPort, loc } from './adapter';
import { readInputFile } from './inputFile';
import { clientPairMatches } from '../core/clientPair';
import { booleanInput, input, isPlainPath, numberInput, pemInput, rolePattern, trimSlashes } from './inputFields';
import { isLoopback } from '../core/address';
import { TaskError } from '../core/errors';
import type { TaskConfig } from '../config';
import { CredentialKind, CredentialRequest, CredentialSpecError, parseCredentials } from '../core/credentialSpec';
import { formatProblem, parseSecrets, SecretRequest, SecretSpecError } from '../core/secretSpec';
import type { ProxyConfig, VaultSettings } from '../vault/settings';

export interface Read<T> {
  value: T;
  warnings: string[];
}

export function parseAddress(raw: string, from: string, problems: string[]): string {
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

function agentFile(variable: string, path: string, problems: string[]): string | undefined {
  const file = readInputFile(path, MAX_PEM_FILE_BYTES);
  if ('text' in file) return file.text;
  if (file.refused === 'missing' || file.refused === 'unreadable') problems.push(loc('AgentFileUnreadable', variable, path, file.code));
  else problems.push(fileRefusal(loc('AgentSettingNamed', variable), path, MAX_PEM_FILE_BYTES, file, loc) ?? '');
  return undefined;
}

/** Address, namespaces, TLS, proxy and request limits: how to reach Vault (the main step saves it for the post-job step). */
export function readVaultSettings(problems: string[], warnings: string[]): VaultSettings {
  const connectionId = input('vaultConnection');
  const addressInput = input('vaultAddress');
  let address = '';
  let connectionNamespace = '';
  let connectionCa = '';
  if (connectionId && addressInput) {
    problems.push(loc('VaultTargetTwice'));
  } else if (connectionId) {
    const url = tl.getEndpointUrl(connectionId, true);
    if (!url) problems.push(loc('VaultConnectionNotFound', connectionId));
    else address = parseAddress(url, loc('FromVaultConnection', connectionId), problems);
    connectionNamespace = trimSlashes(tl.getEndpointDataParameter(connectionId, 'namespace', true) ?? '');
    connectionCa = (tl.getEndpointDataParameter(connectionId, 'caCertificate', true) ?? '').trim();
  } else if (addressInput) {
    address = parseAddress(addressInput, "input 'vaultAddress'", problems);
  } else {
    const fromVariable = (tl.getVariable('VAULT_ADDR') ?? '').trim();
    if (fromVariable) address = parseAddress(fromVariable, 'variable VAULT_ADDR', problems);
    else problems.push(loc('VaultAddressMissing'));
  }

  const namespace = trimSlashes(input('vaultNamespace')) || connectionNamespace;
  if (namespace && !isPlainPath(namespace)) problems.push(loc('NamespaceInvalid', 'vaultNamespace', namespace));
  const authNamespaceInput = trimSlashes(input('authNamespace'));
  if (authNamespaceInput && !isPlainPath(authNamespaceInput)) problems.push(loc('NamespaceInvalid', 'authNamespace', authNamespaceInput));
  const authNamespace = authNamespaceInput || namespace;

  const verify = !booleanInput('tlsSkipVerify', false, problems);
  const ca: string[] = [];
  const inputCa = pemInput('caCertificate', input('caCertificate'), 'certificate', problems);
  if (inputCa) ca.push(inputCa);
  const endpointCa = pemInput(`caCertificate (${loc('FromVaultConnection', connectionId)})`, connectionCa, 'certificate', problems);
  if (endpointCa) ca.push(endpointCa);

  const beforePair = problems.length;
  let cert = pemInput('clientCertificate', input('clientCertificate'), 'certificate', problems);
  let key = pemInput('clientKey', input('clientKey'), 'key', problems);
  // Half a pair is a problem of its own only when neither half was refused already.
  if (Boolean(cert) !== Boolean(key) && problems.length === beforePair) problems.push(loc('ClientPairIncomplete'));
  let passphrase: string | undefined;

  // The agent's own certificate settings (Agent.CAInfo, Agent.ClientCert) apply as well.
  const agentCerts = tl.getHttpCertConfiguration();
  if (agentCerts?.caFile) {
    const agentCa = agentFile('Agent.CAInfo', agentCerts.caFile, problems);
    if (agentCa) ca.push(agentCa);
  }
  let pairNames: [string, string] = ['clientCertificate', 'clientKey'];
  if (!cert && agentCerts?.certFile && agentCerts.keyFile) {
    cert = agentFile('Agent.ClientCert', agentCerts.certFile, problems);
    key = agentFile('Agent.ClientCertKey', agentCerts.keyFile, problems);
    passphrase = agentCerts.passphrase || undefined;
    pairNames = ['Agent.ClientCert', 'Agent.ClientCertKey'];
  }
  // Checked here, before any request: the TLS context is built later, while the task waits for Azure.
  if (cert && key && !clientPairMatches(cert, key, passphrase)) problems.push(loc('ClientPairMismatch', ...pairNames));

  let proxy: ProxyConfig | undefined;
  if (address) {
    const p = tl.getHttpProxyConfiguration(address);
    if (p?.proxyUrl) proxy = { url: p.proxyUrl, username: p.proxyUsername || undefined, password: p.proxyPassword || undefined };
  }

  if (!verify) warnings.push(loc('TlsSkipVerifyWarning', address || 'Vault'));
  if (address?.startsWith('http://') && !isLoopback(address)) warnings.push(loc('PlainHttpWarning', address));

  return {
    address,
    namespace: namespace || undefined,
    authNamespace: authNamespace || undefined,
    tls: { verify, ca, cert, key, passphrase },
    proxy,
    timeoutSeconds: numberInput('timeoutSeconds', 30, 1, 600, problems),
    retries: numberInput('retries', 2, 0, 10, problems),
    concurrency: numberInput('concurrency', 64, 1, 128, problems),
  };
}

function fail(problems: string[]): never {
  throw new TaskError(problems.length === 1 ? problems[0] : problems.map((p) => `- ${p}`).join('\n'));
}

/**
 * runAsPreJob: whether the task's work belongs to its pre-job step (before the job's first step,
 * checkout included) rather than to its own step. Read alone, before anything else, by both.
 */
export function readRunAsPreJob(): boolean {
  const problems: string[] = [];
  const preJob = booleanInput('runAsPreJob', false, problems);
  if (problems.length) fail(problems);
  return preJob;
}

/**
 * Fails on an input that still holds a `$(NAME)` macro, as the pre-job step sees one: the agent
 * expanded the inputs with the variables that existed when the job started and left a macro naming
 * none as written. Lines that are comments (`#`) are not looked at.
 */
export function refuseUnexpandedMacros(names: string[]): void {
  const problems: string[] = [];
  for (const name of names) {
    const lines = input(name).split(/\r?\n/).filter((l) => !l.trim().startsWith('#'));
    const macro = /\$\([\w.-]+\)/.exec(lines.join('\n'))?.[0];
    if (macro) problems.push(loc('PreJobUnexpandedMacro', name, macro));
  }
  if (problems.length) fail(problems);
}

/** The requests of the `certificates` or `sshCertificates` input; each problem quotes its line. */
function readCredentials(kind: CredentialKind, name: string, problems: string[]): CredentialRequest[] {
  try {
    return parseCredentials(kind, tl.getInput(name, false) ?? '', loc);
  } catch (err) {
    if (!(err instanceof CredentialSpecError)) throw err;
    problems.push([loc('CredentialsInvalid', name, err.problems.length), ...err.message.split('\n').map((l) => `  ${l}`)].join('\n'));
    return [];
  }
}

export function readConfig(): Read<TaskConfig> {
  const problems: string[] = [];
  const warnings: string[] = [];

  const vault = readVaultSettings(problems, warnings);
  const auth = readAuthInputs({
    port: inputPort,
    loc,
    problems,
    warnings,
    vaultAddress: vault.address,
    vaultConnection: input('vaultConnection'),
    clientCertificate: vault.tls.cert,
    useClientPair: (cert, key) => {
      vault.tls = { ...vault.tls, cert, key, passphrase: undefined };
    },
    readFile: readInputFile,
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

  const exportToken = booleanInput('exportToken', false, problems);
  const before = problems.length;
  const credentials = [...readCredentials('pki', 'certificates', problems), ...readCredentials('ssh', 'sshCertificates', problems)];
  // Certificates asked for (even in lines with problems) are work enough without a secret.
  const wantsCredentials = credentials.length > 0 || problems.length > before;
  const secretsText = tl.getInput('secrets', false) ?? '';
  let requests: SecretRequest[] = [];
  try {
    requests = parseSecrets(secretsText, loc);
  } catch (err) {
    if (!(err instanceof SecretSpecError)) throw err;
    // No entries at all (empty, or only comments) is fine when the step only logs in and exports the token.
    const noEntries = err.problems.every((p) => p.line === 0);
    if (!(noEntries && (exportToken || wantsCredentials))) {
      const hint = noEntries ? `\n  ${loc('SecretsOrExport')}` : '';
      problems.push([loc('SecretsInvalid', err.problems.length), ...err.problems.map((p) => `  ${formatProblem(p, loc)}`)].join('\n') + hint);
    }
  }

  const ignoreNotFound = booleanInput('ignoreNotFound', false, problems);
  const isOutput = booleanInput('isOutput', false, problems);
  const revokeToken = booleanInput('revokeToken', true, problems);
  if (problems.length || !auth) fail(problems);
  const config: TaskConfig = { ...vault, auth, authMount, role, requests, credentials, ignoreNotFound, isOutput, exportToken, revokeToken };
  return { value: config, warnings };
}
