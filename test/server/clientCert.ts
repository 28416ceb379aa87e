// TLS client certificates for the cert login method's tests: issued by a test CA (pki.ts issues
// server certificates only), with the clientAuth extended key usage Vault's cert method checks.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Ca, KeyPair } from '../emulators/pki';

const openssl = promisify(execFile);

/** A TLS client certificate (clientAuth) for `cn`, issued by `ca` with the openssl CLI. */
export async function issueClientCert(ca: Ca, cn: string): Promise<KeyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'val-client-'));
  try {
    writeFileSync(
      join(dir, 'ext'),
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    );
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    await openssl(
      'openssl',
      ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', `/CN=${cn}`],
      { cwd: dir },
    );
    await openssl(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        'client.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-sha256',
        '-extfile',
        'ext',
        '-out',
        'client.crt',
      ],
      {
        cwd: dir,
      },
    );
    return { certPem: readFileSync(join(dir, 'client.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'client.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
