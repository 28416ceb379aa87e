// Credentials Vault makes for this job: a TLS certificate and key from the PKI engine
// (`POST <mount>/issue/<role>`), an SSH certificate from the SSH engine for a key pair made here
// (`POST <mount>/sign/<role>`; the private key never leaves the agent). Each request is sent once
// (see isRetryableOnce) and its answer turned into named values, or into a failure. Publishes nothing.
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { mapLimit } from '../core/concurrency';
import { CredentialRequest, durationSeconds, outputNames } from '../core/credentialSpec';
import { explainIssue, explainMount, IssueContext } from '../core/errors';
import { VaultHttpError } from '../core/failures';
import { escapeOutside } from '../core/logText';
import { ed25519PrivateFile, ed25519PublicLine, parseSshCertificate, sshTime } from '../core/openssh';
import type { Text } from '../core/text';
import type { MountInfo, VaultApi, VaultBody } from './client';
import type { ReadFailure, SecretValue } from './reader';

export interface SshKeyPair {
  /** `ssh-ed25519 AAAA…` */
  publicLine: string;
  /** The OpenSSH private key file. */
  privateFile: string;
}

/** A fresh ed25519 key pair, in memory, in OpenSSH's formats. */
export function newSshKeyPair(comment: string): SshKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  try {
    return { publicLine: ed25519PublicLine(pub), privateFile: ed25519PrivateFile(seed, pub, randomInt(0, 2 ** 32 - 1), comment) };
  } finally {
    seed.fill(0);
  }
}

export interface IssueOptions {
  address: string;
  concurrency: number;
  timeoutSeconds: number;
  loc: Text;
  /** As ReadOptions.policyPrefix: where the request's namespace lies below the login's. */
  policyPrefix?: string;
  /** Called with the lease id of an answer that has one, as soon as it arrives. */
  onLease?: (leaseId: string) => void;
  /** Makes the SSH key pair of a request (newSshKeyPair in the task). */
  newKeyPair?: (comment: string) => SshKeyPair;
  /** The time now in milliseconds (Date.now in the task). */
  now?: () => number;
}

export interface IssueOutcome {
  values: SecretValue[];
  failures: ReadFailure[];
  leaseIds: string[];
  /** Log lines to print once the values are masked: serial, expiry, key id, principals, validity. */
  notes: string[];
  /** Certificates that expire well before the TTL asked for (Vault's PKI caps it at the role's max_ttl without saying so). */
  warnings: string[];
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
const withNewline = (v: string) => (v.endsWith('\n') ? v : `${v}\n`);

/** What a request published: its values, and the log line about what was issued. */
type Issued = { values: SecretValue[]; note: string; warning?: string; leaseId?: string } | { failure: string };

function pkiValues(req: CredentialRequest, body: VaultBody, loc: Text, nowMs: number): Issued {
  const data = body?.data ?? {};
  const certificate = text(data.certificate);
  const privateKey = text(data.private_key);
  if (!certificate || !privateKey) return { failure: loc('CredentialAnswerIncomplete', req.path, 'certificate, private_key') };
  const chain = Array.isArray(data.ca_chain) ? data.ca_chain.filter((c: unknown) => text(c)).map(String) : [];
  const issuingCa = text(data.issuing_ca) ?? '';
  const [certName, keyName, caName, chainName] = outputNames(req);
  const contents: Array<[string, string]> = [
    [certName, withNewline(certificate)],
    [keyName, withNewline(privateKey)],
    [caName, issuingCa ? withNewline(issuingCa) : ''],
    [chainName, chain.map(withNewline).join('')],
  ];
  const values = contents.filter(([, v]) => v).map(([name, value]) => ({ name, value, source: req.path, toFile: req.toFile }));
  const expiration = Number(data.expiration);
  const expires = Number.isFinite(expiration) && expiration > 0 ? new Date(expiration * 1000).toISOString().replace(/\.000Z$/, 'Z') : '?';
  const leaseId = text(body?.lease_id);
  const serial = escapeOutside(String(data.serial_number ?? '?'));
  const note = leaseId
    ? loc('CertificateIssuedLease', req.path, serial, expires, escapeOutside(leaseId))
    : loc('CertificateIssued', req.path, serial, expires);
  // A slack of two minutes: the time the request took, and Vault's clock against the agent's.
  const asked = req.params.ttl === undefined ? undefined : durationSeconds(req.params.ttl);
  const warning =
    asked !== undefined && Number.isFinite(expiration) && expiration * 1000 < nowMs + (asked - 120) * 1000
      ? loc('CertificateTtlShortened', req.path, String(req.params.ttl), expires)
      : undefined;
  return { values, note, warning, leaseId };
}

function sshValues(req: CredentialRequest, body: VaultBody, pair: SshKeyPair, loc: Text): Issued {
  const signed = text(body?.data?.signed_key);
  if (!signed) return { failure: loc('CredentialAnswerIncomplete', req.path, 'signed_key') };
  const cert = parseSshCertificate(signed);
  // A certificate for another key than the one sent would log in as nobody: refused.
  if (!cert || cert.publicKey !== pair.publicLine) return { failure: loc('SshCertificateUnreadable', req.path) };
  const [keyName, certName] = outputNames(req);
  const values: SecretValue[] = [
    { name: keyName, value: pair.privateFile, source: req.path, toFile: true },
    { name: certName, value: withNewline(signed.trim()), source: req.path, toFile: true },
  ];
  const principals = cert.principals.length ? cert.principals.map(escapeOutside).join(', ') : loc('SshAnyPrincipal');
  const note = loc(
    'SshCertificateSigned',
    req.path,
    escapeOutside(cert.keyId),
    cert.certType,
    principals,
    cert.serial,
    sshTime(cert.validAfter),
    sshTime(cert.validBefore),
  );
  return { values, note, leaseId: text(body?.lease_id) };
}

function issueContext(req: CredentialRequest, opts: IssueOptions): IssueContext {
  return {
    address: opts.address,
    kind: req.kind,
    mount: req.mount,
    role: req.role,
    path: req.path,
    policyPath: `${opts.policyPrefix ?? ''}${req.path}`,
  };
}

/**
 * Why the mount of `req` is not the engine it names, or undefined when it is. A write to
 * `<mount>/issue/<role>` of a KV mount would store the parameters as a secret there: the engine
 * is checked first, once per mount.
 */
async function engineProblem(
  vault: Pick<VaultApi, 'mount'>,
  req: CredentialRequest,
  lookups: Map<string, Promise<MountInfo>>,
  opts: IssueOptions,
): Promise<string | undefined> {
  let lookup = lookups.get(req.mount);
  if (!lookup) lookups.set(req.mount, (lookup = vault.mount(req.path)));
  let mount: MountInfo;
  try {
    mount = await lookup;
  } catch (err) {
    // A token with no capability under the mount may not look it up: the rule it lacks is update on the path.
    if (err instanceof VaultHttpError && err.status === 403)
      return explainIssue(err, issueContext(req, opts), opts.timeoutSeconds, opts.loc);
    return explainMount(err, req.path, opts.address, opts.timeoutSeconds, opts.loc);
  }
  if (mount.type === req.kind && mount.path === `${req.mount}/`) return undefined;
  return opts.loc('CredentialWrongEngine', req.path, mount.path || '-', mount.type || '-', req.kind, req.kind);
}

/** Sends every request once, bounded in parallel; the values come back in the requests' order. */
export async function issueCredentials(
  vault: Pick<VaultApi, 'mount' | 'write'>,
  requests: CredentialRequest[],
  opts: IssueOptions,
): Promise<IssueOutcome> {
  const makePair = opts.newKeyPair ?? newSshKeyPair;
  const leaseIds: string[] = [];
  const lookups = new Map<string, Promise<MountInfo>>();
  const results = await mapLimit(requests, opts.concurrency, async (req): Promise<Issued> => {
    const wrongEngine = await engineProblem(vault, req, lookups, opts);
    if (wrongEngine) return { failure: wrongEngine };
    const pair = req.kind === 'ssh' ? makePair(`${req.prefix}KEY`) : undefined;
    const body: Record<string, unknown> = { ...req.params };
    if (pair) {
      body.public_key = pair.publicLine;
      body.cert_type ??= 'user';
    }
    let answer: VaultBody;
    try {
      answer = await vault.write(req.path, body);
    } catch (err) {
      return { failure: explainIssue(err, issueContext(req, opts), opts.timeoutSeconds, opts.loc) };
    }
    const leaseId = text(answer?.lease_id);
    if (leaseId && !leaseIds.includes(leaseId)) {
      leaseIds.push(leaseId);
      opts.onLease?.(leaseId);
    }
    return pair ? sshValues(req, answer, pair, opts.loc) : pkiValues(req, answer, opts.loc, (opts.now ?? Date.now)());
  });
  const outcome: IssueOutcome = { values: [], failures: [], leaseIds, notes: [], warnings: [] };
  results.forEach((r, i) => {
    if ('failure' in r) outcome.failures.push({ source: requests[i].path, reason: r.failure });
    else {
      outcome.values.push(...r.values);
      outcome.notes.push(r.note);
      if (r.warning) outcome.warnings.push(r.warning);
    }
  });
  return outcome;
}
