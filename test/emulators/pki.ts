// Test PKI made at run time with the openssl CLI: a CA whose certificate child processes trust via
// NODE_EXTRA_CA_CERTS, server leaf certificates for the emulators, and self-signed client
// certificates for service-principal certificate authentication.
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface Ca extends KeyPair {
  /** Path of the CA certificate (PEM), for NODE_EXTRA_CA_CERTS. */
  certPath: string;
  /** Temporary directory holding the CA files. */
  dir: string;
  /** Issues a serverAuth leaf certificate with the given DNS names and IP addresses as SANs. */
  issue(names: string[], ips?: string[]): Promise<KeyPair>;
  /** Removes the temporary directory. */
  dispose(): Promise<void>;
}

export interface ClientCert extends KeyPair {
  /** SHA-1 of the DER certificate, upper-case hex (what Azure shows as the thumbprint). */
  thumbprintSha1Hex: string;
  /** SHA-1 thumbprint as base64url (the `x5t` JWT header). */
  x5tBase64url: string;
  /** Certificate followed by the private key, as an AzureRM service connection stores it. */
  combinedPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

let serial = 0;

/** Creates a fresh test CA in a new temporary directory. */
export async function createCa(commonName = 'VaultAzureLogin Test CA'): Promise<Ca> {
  const dir = await mkdtemp(join(tmpdir(), 'val-ca-'));
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '3',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const certPath = join(dir, 'ca.crt');
  const certPem = await readFile(certPath, 'utf8');
  const keyPem = await readFile(join(dir, 'ca.key'), 'utf8');

  async function issue(names: string[], ips: string[] = []): Promise<KeyPair> {
    if (names.length === 0 && ips.length === 0) throw new Error('issue() needs at least one DNS name or IP address');
    const base = `leaf${++serial}`;
    const san = [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
    await writeFile(
      join(dir, `${base}.ext`),
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${san}`,
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
      ].join('\n') + '\n',
    );
    await openssl(
      [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.csr`,
        '-subj',
        `/CN=${names[0] ?? ips[0]}`,
      ],
      dir,
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-sha256',
        '-extfile',
        `${base}.ext`,
        '-out',
        `${base}.crt`,
      ],
      dir,
    );
    return {
      certPem: await readFile(join(dir, `${base}.crt`), 'utf8'),
      keyPem: await readFile(join(dir, `${base}.key`), 'utf8'),
    };
  }

  return {
    certPem,
    keyPem,
    certPath,
    dir,
    issue,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** SHA-1 thumbprint of a PEM certificate as upper-case hex and as base64url. */
export function certThumbprint(certPem: string): { sha1Hex: string; x5tBase64url: string } {
  const der = new X509Certificate(certPem).raw;
  const digest = createHash('sha1').update(der).digest();
  return { sha1Hex: digest.toString('hex').toUpperCase(), x5tBase64url: digest.toString('base64url') };
}

/** A self-signed RSA client certificate, as used for service-principal certificate authentication. */
export async function selfSignedClientCert(cn: string): Promise<ClientCert> {
  const dir = await mkdtemp(join(tmpdir(), 'val-client-cert-'));
  try {
    await openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        '2',
        '-keyout',
        'client.key',
        '-out',
        'client.crt',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        'keyUsage=critical,digitalSignature',
        '-addext',
        'extendedKeyUsage=clientAuth',
      ],
      dir,
    );
    const certPem = await readFile(join(dir, 'client.crt'), 'utf8');
    const keyPem = await readFile(join(dir, 'client.key'), 'utf8');
    const { sha1Hex, x5tBase64url } = certThumbprint(certPem);
    return { certPem, keyPem, thumbprintSha1Hex: sha1Hex, x5tBase64url, combinedPem: certPem + keyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
