// Which network failures are worth another attempt: those that may pass (a refused or reset
// connection, a timeout), not those that come back the same (the server's certificate, a refused
// client certificate, an answer too large to read), as Vault's own Go client decides.
import * as assert from 'node:assert/strict';
import { isRetryable } from '../../tasks/VaultAzureLoginV1/src/vault/retry';
import { VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault/client';

const net = (code: string) => new VaultNetworkError(code, 'secret/data/ci/db', code);

describe('retry policy: network failures', () => {
  for (const code of [
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'ECONNABORTED',
    'EAI_AGAIN',
    'ENOTFOUND',
    'EPIPE',
    'EPROTO',
    'ERR_HTTP2_STREAM_ERROR',
    'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR',
  ]) {
    it(`retries ${code}`, () => assert.equal(isRetryable(net(code)), true));
  }
  for (const code of [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'CERT_UNTRUSTED',
    'CERT_HAS_EXPIRED',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    'ERR_ANSWER_TOO_LARGE',
  ]) {
    it(`does not retry ${code}, which would come back the same`, () => assert.equal(isRetryable(net(code)), false));
  }
});
