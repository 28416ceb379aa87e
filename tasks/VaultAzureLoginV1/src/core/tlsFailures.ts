// Node's error codes for TLS failures that come back the same however often a request is made:
// told apart once, for the explanations (errors.ts) and for the retry policy (retry.ts).

/** The server's certificate is not one the task trusts. */
export const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
]);

/** The server's certificate does not name the host the address names. */
export const HOST_NAME_MISMATCH = 'ERR_TLS_CERT_ALTNAME_INVALID';

/** The server asked for a client certificate (mutual TLS) and none was sent. */
export const CLIENT_CERTIFICATE_REQUIRED = 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED';

/** TLS alerts a server sends when it rejects the client certificate it asked for (mutual TLS). */
export const CLIENT_CERTIFICATE_REFUSED =
  /^ERR_SSL_\w+_ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED)$/;

export function isPermanentTlsFailure(code: string): boolean {
  return (
    UNTRUSTED_CERTIFICATE.has(code) ||
    code === HOST_NAME_MISMATCH ||
    code === CLIENT_CERTIFICATE_REQUIRED ||
    CLIENT_CERTIFICATE_REFUSED.test(code)
  );
}
