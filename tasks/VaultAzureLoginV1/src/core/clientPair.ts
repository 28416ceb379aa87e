// Whether a client certificate and a private key belong together, checked before any TLS connection.
import { createPrivateKey, X509Certificate } from 'node:crypto';

/** True when `key` (opened with `passphrase`) is the private key of the certificate `cert`. */
export function clientPairMatches(cert: string, key: string, passphrase: string | undefined): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey({ key, passphrase }));
  } catch {
    return false;
  }
}
