// cert: the TLS client certificate is the proof. The Vault client presents it on every connection
// (the pipeline edge puts it in the TLS settings); the login names the certificate role, when
// given, as `{name}`. The refusals are worded as OpenBao and Vault answer them
// (builtin/credential/cert/path_login.go).
import { X509Certificate } from 'node:crypto';
import type { AuthMethod } from './method';

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
        facts: facts ? { subject: facts.subject, issuer: facts.issuer, commonName: facts.commonName, notAfter: facts.notAfter, expired: facts.expired ? 'yes' : undefined } : {},
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
      if (f.expired && /invalid certificate|no chain matching/.test(said)) return loc('CertExpired', f.subject ?? '-', f.notAfter ?? '-', target.mount, said, config.source);
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
