// cert: the TLS client certificate is the proof. The Vault client presents it on every connection
// (the pipeline edge puts it in the TLS settings); the login names the certificate role, when
// given, as `{name}`. The refusals are worded as OpenBao and Vault answer them
// (builtin/credential/cert/path_login.go).
import { X509Certificate } from 'node:crypto';
import { clientPairMatches } from '../core/clientPair';
import type { AuthMethod, AuthMethodDescriptor, ReadContext } from './method';

export interface CertAuthConfig {
  method: 'cert';
  /** The client certificate the TLS connections present (PEM, the leaf first). */
  certificate: string;
  /** Where it came from, worded for the log. */
  source: string;
}

/** The certificate's public facts, for the log and the explanations. */
export interface CertFacts {
  subject: string;
  issuer: string;
  /** The subject's common name ('' without one). */
  commonName: string;
  /** DNS names, e-mail addresses and URIs of the subjectAltName, as listed ('' without). */
  altNames: string;
  notAfter: string;
  /** The certificate is past its end date by the agent's clock. */
  expired: boolean;
}

/** `CN=a\nO=b` → `CN=a, O=b`. */
const oneLine = (name: string): string => name.split('\n').filter(Boolean).join(', ');

export function certFacts(pem: string, now = Date.now()): CertFacts | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const subject = oneLine(cert.subject);
  return {
    subject,
    issuer: oneLine(cert.issuer),
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '',
    altNames: cert.subjectAltName ?? '',
    notAfter: new Date(cert.validTo).toISOString(),
    expired: Date.parse(cert.validTo) < now,
  };
}

export function certMethod(config: CertAuthConfig): AuthMethod {
  const facts = certFacts(config.certificate);
  return {
    name: 'cert',
    describe: (loc) => loc('CertDescribe', config.source, facts?.subject || '-', facts?.issuer || '-', facts?.notAfter ?? '-'),
    what: (loc) => loc('CertStep'),
    async prove({ role }) {
      return {
        body: role ? { name: role } : {},
        secrets: [],
        notes: [],
        facts: facts
          ? {
              subject: facts.subject,
              issuer: facts.issuer,
              commonName: facts.commonName,
              notAfter: facts.notAfter,
              expired: facts.expired ? 'yes' : undefined,
            }
          : {},
      };
    },
    isTransient: () => false,
    explainProofFailure: () => undefined,
    explainRefusal(err, proof, target, loc) {
      const said = err.errors.join('; ');
      const f = proof.facts;
      const role = target.role || '<role>';
      const certs = `auth/${target.mount}/certs/${role}`;
      if (/no client certificate found/.test(said)) return loc('CertNotReceived', target.mount, said, config.source, target.address);
      if (f.expired && /invalid certificate|no chain matching/.test(said))
        return loc('CertExpired', f.subject ?? '-', f.notAfter ?? '-', target.mount, said, config.source);
      if (/invalid certificate or no client certificate supplied/.test(said)) {
        return target.role
          ? loc('CertUntrustedRole', target.role, target.mount, said, f.subject ?? '-', f.issuer ?? '-', certs, target.mount)
          : loc('CertUntrustedAny', target.mount, said, f.subject ?? '-', f.issuer ?? '-', target.mount);
      }
      if (/no chain matching all constraints/.test(said)) {
        const names = [f.commonName ? `CN ${f.commonName}` : '', facts?.altNames ?? ''].filter(Boolean).join('; ') || '-';
        return loc('CertConstraints', f.subject ?? '-', names, target.mount, said, certs, certs, f.commonName || '<common name>');
      }
      return undefined;
    },
  };
}

/** The scheme name of ms.vss-endpoint.endpoint-auth-scheme-cert, as the agent passes it. */
export const CERT_SCHEME = 'Certificate';

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PRIVATE_KEY = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/;

/**
 * The client certificate the TLS connections present: from the HashiCorp Vault service connection
 * in 'vaultConnection' when its authentication is Certificate (Azure DevOps' built-in certificate
 * scheme: one confidential field, `certificate`, holding the certificate and its private key in
 * PEM), else the TLS inputs clientCertificate and clientKey, else the agent's Agent.ClientCert. The
 * connection's pair goes into the Vault TLS settings, as the inputs' pair does.
 */
export function readCertInputs(ctx: ReadContext): CertAuthConfig {
  const { port, loc, problems, vaultAddress, vaultConnection } = ctx;
  // Over plain http no TLS carries the certificate: the login would go without it.
  if (vaultAddress.startsWith('http://')) {
    const from = vaultConnection
      ? loc('FromVaultConnection', vaultConnection)
      : port.input('vaultAddress')
        ? loc('FromInput', 'vaultAddress')
        : 'variable VAULT_ADDR';
    problems.push(loc('CertNeedsHttps', vaultAddress, from));
  }
  const endpoint = vaultConnection ? port.endpoint(vaultConnection) : undefined;
  const scheme = endpoint?.scheme ?? '';
  if (endpoint && scheme.toLowerCase() === CERT_SCHEME.toLowerCase()) {
    const source = loc('FromVaultConnection', vaultConnection);
    if (port.input('clientCertificate')) problems.push(loc('CertTwoSources', vaultConnection));
    const pem = endpoint.auth('certificate');
    const cert = (pem.match(CERTIFICATE) ?? []).join('\n');
    const key = PRIVATE_KEY.exec(pem)?.[0];
    if (!cert || !key) {
      problems.push(loc('CertConnectionIncomplete', vaultConnection, cert ? loc('CertPartKey') : loc('CertPartCertificate')));
    } else if (!clientPairMatches(cert, key, undefined)) {
      problems.push(loc('CertConnectionMismatch', vaultConnection));
    } else {
      ctx.useClientPair(`${cert}\n`, `${key}\n`);
      return { method: 'cert', certificate: `${cert}\n`, source };
    }
    return { method: 'cert', certificate: ctx.clientCertificate ?? '', source };
  }
  if (ctx.clientCertificate) {
    const source = port.input('clientCertificate') ? loc('FromInput', 'clientCertificate') : 'Agent.ClientCert';
    return { method: 'cert', certificate: ctx.clientCertificate, source };
  }
  // A clientCertificate that could not be read has its own problem already.
  if (!port.input('clientCertificate') && !port.input('clientKey'))
    problems.push(loc('CertMissing', vaultConnection ? loc('VaultConnectionScheme', vaultConnection, scheme || 'None') : ''));
  return { method: 'cert', certificate: '', source: '' };
}

export const cert: AuthMethodDescriptor<CertAuthConfig> = {
  // Without a role Vault tries every certificate role of the mount.
  needsRole: false,
  readInputs: readCertInputs,
  create: (config) => certMethod(config),
};
