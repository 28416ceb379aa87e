import * as assert from 'node:assert/strict';
import { azureMethod, explainAzureToken } from '../../tasks/VaultAzureLoginV1/src/auth/azure';
import type { TokenClaims } from '../../tasks/VaultAzureLoginV1/src/core/tokenClaims';
import {
  explainLogin,
  explainMount,
  explainNetwork,
  explainRead,
  ReadContext,
  TaskError,
} from '../../tasks/VaultAzureLoginV1/src/core/errors';
import { VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault/client';
import { loc } from '../helpers/messages';

const address = 'https://vault.example.com:8200';
/** A login with the azure method: where it went, the resource asked for, and the token's claims when they could be read. */
interface AzureLogin {
  address: string;
  mount: string;
  role: string;
  resource: string;
  namespace?: string;
  claims?: TokenClaims;
}

/** The shared explanation with the azure method's own, as the flow puts them together. */
function explainAzureLogin(err: unknown, c: AzureLogin): string {
  const method = azureMethod(
    { method: 'azure', connection: 'sc-1', connectionScheme: 'WorkloadIdentityFederation', resource: c.resource },
    async () => ({ token: '', scheme: '' }),
  );
  const target = { address: c.address, mount: c.mount, role: c.role, nsNote: c.namespace ? loc('InNamespace', c.namespace) : '' };
  const proof = { body: {}, secrets: [], notes: [], facts: { ...c.claims } };
  return explainLogin(err, { ...target, namespace: c.namespace, method: 'azure' }, 45, loc, (e) =>
    method.explainRefusal(e, proof, target, loc),
  );
}

const ctx: AzureLogin = {
  address,
  mount: 'ado',
  role: 'ci',
  resource: 'https://management.core.windows.net/',
  claims: {
    aud: 'https://management.core.windows.net/',
    oid: 'oid-1',
    appid: 'app-1',
    tid: 'tid-1',
    iss: 'https://sts.windows.net/tid-1/',
  },
};
/** A login context as when the token's claims could not be read. */
const noClaims: AzureLogin = { address, mount: 'ado', role: 'ci', resource: 'https://management.azure.com/' };
const http = (status: number, ...errors: string[]) => new VaultHttpError(status, 'auth/ado/login', errors, { errors });
const net = (code: string, message = code, path = 'auth/ado/login') => new VaultNetworkError(code, path, message);
/** An OpenSSL error text as Node gives it, with `reason` in its reason field. */
const openssl = (reason: string, alert: number) =>
  `80FCA6347E7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number ${alert}\n`;

describe('failure explanations', () => {
  it('a TaskError is an Error named TaskError with the message as given', () => {
    const err = new TaskError('the Vault address is empty');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'TaskError');
    assert.equal(err.message, 'the Vault address is empty');
  });

  describe('network failures name their cause', () => {
    const certificateCodes = [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'CERT_UNTRUSTED',
      'CERT_HAS_EXPIRED',
    ];
    const refusedAlerts: Array<[string, string, number]> = [
      ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate', 42],
      ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', 48],
      ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'sslv3 alert certificate unknown', 46],
      ['ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'sslv3 alert unsupported certificate', 43],
      ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'sslv3 alert certificate expired', 45],
      ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'sslv3 alert certificate revoked', 44],
    ];
    const cases: Array<[string, VaultNetworkError, string]> = [
      [
        'an answer too large to read, in MiB',
        net('ERR_ANSWER_TOO_LARGE', 'answer over 33554432 bytes', 'secret/data/huge'),
        loc('VaultAnswerTooLarge', address, 'secret/data/huge', 32),
      ],
      ...certificateCodes.map((code): [string, VaultNetworkError, string] => [
        `an untrusted certificate: ${code}`,
        net(code, 'certificate verify failed'),
        loc('VaultTlsUntrusted', address, code),
      ]),
      [
        'a certificate for another host',
        net(
          'ERR_TLS_CERT_ALTNAME_INVALID',
          "Hostname/IP does not match certificate's altnames: Host: vault.example.com. is not in the cert's altnames: DNS:other.example.com",
        ),
        loc(
          'VaultTlsHostname',
          address,
          "Hostname/IP does not match certificate's altnames: Host: vault.example.com. is not in the cert's altnames: DNS:other.example.com",
        ),
      ],
      [
        'a timeout as the transport reports it (ETIMEDOUT)',
        net('ETIMEDOUT', 'timeout', 'secret/data/ci/db'),
        loc('VaultTimeout', address, 45, 'secret/data/ci/db'),
      ],
      [
        'an aborted request (ECONNABORTED)',
        net('ECONNABORTED', 'aborted', 'secret/data/ci/db'),
        loc('VaultTimeout', address, 45, 'secret/data/ci/db'),
      ],
      [
        'no client certificate sent to a Vault that requires one',
        net('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', openssl('tlsv13 alert certificate required', 116)),
        loc('VaultTlsClientCertRequired', address),
      ],
      ...refusedAlerts.map(([code, reason, alert]): [string, VaultNetworkError, string] => [
        `a refused client certificate: ${code}`,
        net(code, openssl(reason, alert)),
        loc('VaultTlsClientCertRefused', address, reason),
      ]),
      [
        "a refused client certificate whose text is not OpenSSL's: the whole text, trimmed",
        net('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', '  alert unknown ca \n'),
        loc('VaultTlsClientCertRefused', address, 'alert unknown ca'),
      ],
      [
        'a handshake failure alert (EPROTO)',
        net('EPROTO', `write EPROTO ${openssl('sslv3 alert handshake failure', 40)}`),
        loc('VaultTlsHandshakeFailure', address),
      ],
      [
        'a handshake failure alert (its own code)',
        net('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', openssl('sslv3 alert handshake failure', 40)),
        loc('VaultTlsHandshakeFailure', address),
      ],
      [
        'plain HTTP on the port (EPROTO)',
        net('EPROTO', `write EPROTO ${openssl('wrong version number', 0)}`),
        loc('VaultTlsProtocol', address, 'wrong version number'),
      ],
      [
        'plain HTTP on the port (its own code)',
        net('ERR_SSL_WRONG_VERSION_NUMBER', openssl('wrong version number', 0)),
        loc('VaultTlsProtocol', address, 'wrong version number'),
      ],
      ['a protocol error without OpenSSL text', net('EPROTO', 'write EPROTO'), loc('VaultTlsProtocol', address, 'write EPROTO')],
      [
        'another TLS alert',
        net('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR', openssl('tlsv1 alert internal error', 80)),
        loc('VaultTlsProtocol', address, 'tlsv1 alert internal error'),
      ],
      ['a refused connection', net('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.5:8200'), loc('VaultUnreachable', address, 'ECONNREFUSED')],
      ['an unknown host', net('ENOTFOUND', 'getaddrinfo ENOTFOUND vault.example.com'), loc('VaultUnreachable', address, 'ENOTFOUND')],
      [
        'an unknown host whose name holds "ssl", which is no TLS failure',
        net('ENOTFOUND', 'getaddrinfo ENOTFOUND vault.ssl-prod.example.com'),
        loc('VaultUnreachable', address, 'ENOTFOUND'),
      ],
      ['a reset connection outside the login', net('ECONNRESET', 'socket hang up'), loc('VaultUnreachable', address, 'ECONNRESET')],
    ];
    for (const [what, err, expected] of cases) {
      it(what, () => assert.equal(explainNetwork(err, address, 45, loc), expected));
    }
  });

  describe('login failures name the cause and the fix', () => {
    const cases: Array<[string, unknown, AzureLogin, string]> = [
      ['an unknown role', http(400, 'invalid role name "ci"'), ctx, loc('LoginRoleMissing', 'ci', 'ado', '', 'ado', 'ci', 'oid-1')],
      [
        'an unknown role in a namespace',
        http(400, 'invalid role name "ci"'),
        { ...ctx, namespace: 'admin' },
        loc('LoginRoleMissing', 'ci', 'ado', " in namespace 'admin'", 'ado', 'ci', 'oid-1'),
      ],
      [
        'an unknown role whose name mentions sealing is no sealed Vault',
        http(400, 'invalid role name "sealed-secrets"'),
        { ...ctx, role: 'sealed-secrets' },
        loc('LoginRoleMissing', 'sealed-secrets', 'ado', '', 'ado', 'sealed-secrets', 'oid-1'),
      ],
      [
        "an unknown role, the token's object id unknown",
        http(400, 'invalid role name "ci"'),
        noClaims,
        loc('LoginRoleMissing', 'ci', 'ado', '', 'ado', 'ci', '<object id>'),
      ],
      [
        'an audience mismatch',
        http(500, 'oidc: expected audience "https://management.azure.com/" got ["https://management.core.windows.net/"]'),
        ctx,
        loc(
          'LoginAudience',
          'https://management.core.windows.net/',
          'ado',
          'https://management.azure.com/',
          'https://management.azure.com/',
          'ado',
          'https://management.core.windows.net/',
        ),
      ],
      [
        "an audience mismatch quotes the token's aud claim, not the resource asked for",
        http(500, 'oidc: expected audience "https://management.azure.com/" got ["00000002-0000-0000-c000-000000000000"]'),
        { ...ctx, claims: { ...ctx.claims, aud: '00000002-0000-0000-c000-000000000000' } },
        loc(
          'LoginAudience',
          '00000002-0000-0000-c000-000000000000',
          'ado',
          'https://management.azure.com/',
          'https://management.azure.com/',
          'ado',
          '00000002-0000-0000-c000-000000000000',
        ),
      ],
      [
        'an audience mismatch without claims quotes the resource; without a quoted value, "?"',
        http(500, 'oidc: expected audience'),
        noClaims,
        loc('LoginAudience', 'https://management.azure.com/', 'ado', '?', '?', 'ado', 'https://management.azure.com/'),
      ],
      [
        'a service principal not bound to the role',
        http(500, 'service principal not authorized: oid-1'),
        ctx,
        loc('LoginNotBound', 'oid-1', 'ci', 'ado', 'ci', 'oid-1', 'app-1'),
      ],
      [
        'a service principal not bound, its ids unknown',
        http(500, 'service principal not authorized: oid-1'),
        noClaims,
        loc('LoginNotBound', '<object id>', 'ci', 'ado', 'ci', '<object id>', '?'),
      ],
      [
        'a token from another tenant',
        http(
          500,
          'oidc: id token issued by a different provider, expected "https://sts.windows.net/other/" got "https://sts.windows.net/tid-1/"',
        ),
        ctx,
        loc('LoginIssuer', 'https://sts.windows.net/other/', 'https://sts.windows.net/tid-1/', 'ado', 'tid-1'),
      ],
      [
        'a token from another tenant, the issuer taken from the token when Vault does not quote it',
        http(500, 'oidc: id token issued by a different provider, expected "https://sts.windows.net/other/"'),
        ctx,
        loc('LoginIssuer', 'https://sts.windows.net/other/', 'https://sts.windows.net/tid-1/', 'ado', 'tid-1'),
      ],
      [
        'a token from another tenant, nothing known',
        http(500, 'oidc: id token issued by a different provider'),
        noClaims,
        loc('LoginIssuer', '?', '?', 'ado', '<tenant id>'),
      ],
      [
        'an expired token',
        http(500, 'oidc: token is expired (Token Expiry: 2026-01-01 00:00:00 +0000 UTC)'),
        ctx,
        loc('LoginExpired', 'oidc: token is expired (Token Expiry: 2026-01-01 00:00:00 +0000 UTC)'),
      ],
      [
        'a bad signature',
        http(500, 'failed to verify signature: failed to verify id token signature'),
        ctx,
        loc('LoginSignature', 'ado', 'tid-1'),
      ],
      [
        'a bad signature, the tenant unknown',
        http(500, 'failed to verify signature: failed to verify id token signature'),
        noClaims,
        loc('LoginSignature', 'ado', '?'),
      ],
      [
        'no azure auth at the mount (no handler for route)',
        http(404, 'no handler for route "auth/ado/login". route entry not found.'),
        ctx,
        loc('LoginMountMissing', 'azure', 'ado', '', 404, 'no handler for route "auth/ado/login". route entry not found.', 'ado', 'azure'),
      ],
      [
        'no azure auth at the mount (404 without text)',
        http(404),
        ctx,
        loc('LoginMountMissing', 'azure', 'ado', '', 404, 'HTTP 404', 'ado', 'azure'),
      ],
      [
        'no azure auth at the mount (no handler, another status)',
        http(405, 'no handler for route "auth/ado/login"'),
        ctx,
        loc('LoginMountMissing', 'azure', 'ado', '', 405, 'no handler for route "auth/ado/login"', 'ado', 'azure'),
      ],
      [
        'permission denied at the mount, in a namespace',
        http(403, 'permission denied'),
        { ...ctx, namespace: 'admin' },
        loc('LoginMountMissing', 'azure', 'ado', " in namespace 'admin'", 403, 'permission denied', 'ado', 'azure'),
      ],
      [
        'a 403 that is not Vault\'s "permission denied" is not blamed on the mount',
        http(403, 'Forbidden'),
        ctx,
        loc('LoginFailed', 'ado', 403, 'Forbidden'),
      ],
      [
        'a server error that mentions "permission denied" is not blamed on the mount',
        http(500, 'unable to retrieve backend configuration: open /vault/file/auth/ado/config: permission denied'),
        ctx,
        loc('LoginFailed', 'ado', 500, 'unable to retrieve backend configuration: open /vault/file/auth/ado/config: permission denied'),
      ],
      [
        'an unknown failure is not blamed on the mount, every error kept',
        http(400, 'missing jwt', 'missing role'),
        ctx,
        loc('LoginFailed', 'ado', 400, 'missing jwt; missing role'),
      ],
      [
        "a gateway's 502: the login may have been performed",
        http(502),
        ctx,
        loc('LoginAnswerLost', address, 'ado', 'HTTP 502', loc('LoginMayHaveIssued', 'ado', '')),
      ],
      [
        "a 503 that is not Vault's (no error text): the login may have been performed",
        http(503),
        ctx,
        loc('LoginAnswerLost', address, 'ado', 'HTTP 503', loc('LoginMayHaveIssued', 'ado', '')),
      ],
      [
        'a 504 with text: the gateway gave up waiting',
        http(504, 'upstream timed out'),
        ctx,
        loc('LoginAnswerLost', address, 'ado', 'HTTP 504 upstream timed out', loc('LoginMayHaveIssued', 'ado', '')),
      ],
      ["Vault's own 500 is its answer, not a lost one", http(500, 'internal error'), ctx, loc('LoginFailed', 'ado', 500, 'internal error')],
      [
        'no answer in time after the login was sent',
        net('ETIMEDOUT', 'no answer within 45 s'),
        ctx,
        loc('LoginAnswerLost', address, 'ado', 'no answer within 45 s', loc('LoginMayHaveIssued', 'ado', '')),
      ],
      [
        'no answer in time before the connection was made: a timeout, nothing issued',
        new VaultNetworkError('ETIMEDOUT', 'auth/ado/login', 'x', false),
        ctx,
        loc('VaultTimeout', address, 45, 'auth/ado/login'),
      ],
      [
        'an answer without a token (HTTP 200) is no redirect',
        http(200, 'the login response has no auth.client_token'),
        ctx,
        loc('LoginFailed', 'ado', 200, 'the login response has no auth.client_token'),
      ],
      ['a sealed Vault', http(503, 'Vault is sealed'), ctx, loc('VaultSealed', address)],
      ['a redirect (300)', http(300), ctx, loc('VaultRedirect', address, 300)],
      ['a redirect (307)', http(307), ctx, loc('VaultRedirect', address, 307)],
      ['the proxy wants credentials (407)', http(407), ctx, loc('ProxyAuthRequired', address)],
      [
        'a connection dropped before the login was written: likely mutual TLS',
        new VaultNetworkError('ECONNRESET', 'auth/ado/login', 'socket hang up', false),
        ctx,
        loc('VaultLoginReset', address, 'socket hang up'),
      ],
      [
        'a connection dropped after the login was written: mutual TLS, or a lost answer',
        net('ECONNRESET', 'socket hang up'),
        ctx,
        `${loc('VaultLoginReset', address, 'socket hang up')} ${loc('LoginMayHaveIssued', 'ado', '')}`,
      ],
      [
        'any other network failure, as for every request',
        net('ECONNREFUSED', 'connect ECONNREFUSED'),
        ctx,
        loc('VaultUnreachable', address, 'ECONNREFUSED'),
      ],
      ["a failure that is not Vault's: its message", new Error('boom'), ctx, loc('LoginFailed', 'ado', 0, 'boom')],
      ['a failure that is not an Error: its text', 'boom', ctx, loc('LoginFailed', 'ado', 0, 'boom')],
      ['a rejection without a reason', undefined, ctx, loc('LoginFailed', 'ado', 0, 'undefined')],
    ];
    for (const [what, err, context, expected] of cases) {
      it(what, () => assert.equal(explainAzureLogin(err, context), expected));
    }

    it("a lost answer ends with the method's note on what the login may have used up", () => {
      const lost = explainLogin(
        net('ETIMEDOUT'),
        { address, mount: 'approle', role: 'ci', method: 'approle', lostNote: ' NOTE.' },
        30,
        loc,
      );
      assert.equal(
        lost,
        loc('LoginAnswerLost', address, 'approle', 'no answer within 30 s', loc('LoginMayHaveIssued', 'approle', ' NOTE.')),
      );
    });
  });

  describe('read failures name the path, the policy and the version', () => {
    const r: ReadContext = { address, path: 'secret/ci/db', aclPath: 'secret/data/ci/db' };
    const readErr = (status: number, errors: string[], body?: Record<string, unknown>) =>
      new VaultHttpError(status, 'secret/data/ci/db', errors, body);
    const deleted = (version?: number) => ({
      data: { data: null, metadata: { ...(version ? { version } : {}), deletion_time: '2026-01-01T00:00:00Z', destroyed: false } },
    });
    const destroyed = (version?: number) => ({
      data: { data: null, metadata: { ...(version ? { version } : {}), deletion_time: '', destroyed: true } },
    });
    const cases: Array<[string, unknown, ReadContext, string]> = [
      [
        'denied: the exact ACL path and a policy stanza',
        readErr(403, ['1 error occurred:\n\t* permission denied\n\n']),
        r,
        loc('ReadDenied', 'secret/data/ci/db', 'secret/data/ci/db'),
      ],
      [
        "denied in a namespace below the login's: the stanza names the path as the token's policy sees it",
        readErr(403, ['1 error occurred:\n\t* permission denied\n\n']),
        { ...r, policyPath: 'team/secret/data/ci/db' },
        loc('ReadDenied', 'secret/data/ci/db', 'team/secret/data/ci/db'),
      ],
      [
        'an invalid token is told apart from a denied path',
        readErr(403, ['permission denied', 'invalid token']),
        r,
        loc('ReadTokenInvalid'),
      ],
      ['no secret at the path', readErr(404, []), r, loc('ReadNotFound', 'secret/ci/db', '', 'secret/data/ci/db')],
      [
        'no secret at the path, without a body',
        new VaultHttpError(404, 'secret/data/ci/db', [], undefined),
        r,
        loc('ReadNotFound', 'secret/ci/db', '', 'secret/data/ci/db'),
      ],
      [
        'no such version',
        readErr(404, []),
        { ...r, version: 7 },
        loc('ReadNotFound', 'secret/ci/db', ' at version 7', 'secret/data/ci/db'),
      ],
      [
        'data/ on a KV version 1 mount',
        readErr(404, []),
        { ...r, withoutData: 'kv1/app' },
        `${loc('ReadNotFound', 'secret/ci/db', '', 'secret/data/ci/db')} ${loc('DataOnKv1', 'kv1/app')}`,
      ],
      [
        'a deleted version asked for',
        readErr(404, [], deleted(2)),
        { ...r, version: 2 },
        loc('ReadDeleted', 2, 'secret/ci/db', '2026-01-01T00:00:00Z', 2, 'secret/ci/db'),
      ],
      [
        'a deleted latest version: the version from Vault',
        readErr(404, [], deleted(4)),
        r,
        loc('ReadDeleted', 4, 'secret/ci/db', '2026-01-01T00:00:00Z', 4, 'secret/ci/db'),
      ],
      [
        'a deleted version Vault does not number: the version asked for',
        readErr(404, [], deleted()),
        { ...r, version: 3 },
        loc('ReadDeleted', 3, 'secret/ci/db', '2026-01-01T00:00:00Z', 3, 'secret/ci/db'),
      ],
      ['a destroyed version asked for', readErr(404, [], destroyed(1)), { ...r, version: 1 }, loc('ReadDestroyed', 1, 'secret/ci/db')],
      ['a destroyed latest version: the version from Vault', readErr(404, [], destroyed(5)), r, loc('ReadDestroyed', 5, 'secret/ci/db')],
      [
        'a destroyed version Vault does not number: the version asked for',
        readErr(404, [], destroyed()),
        { ...r, version: 6 },
        loc('ReadDestroyed', 6, 'secret/ci/db'),
      ],
      ['a server error is not "not found"', readErr(500, ['internal error']), r, loc('ReadHttp', 500, 'internal error')],
      ['a server error without text, every error kept', readErr(502, []), r, loc('ReadHttp', 502, 'no error text')],
      ['several errors', readErr(400, ['one', 'two']), r, loc('ReadHttp', 400, 'one; two')],
      ['a 503 that is not a sealed Vault', readErr(503, []), r, loc('ReadHttp', 503, 'no error text')],
      ['a sealed Vault', readErr(503, ['Vault is sealed']), r, loc('VaultSealed', address)],
      ['a sealed Vault among other errors', readErr(503, ['error checking token', 'Vault is sealed']), r, loc('VaultSealed', address)],
      ['a redirect', readErr(308, []), r, loc('VaultRedirect', address, 308)],
      ['the proxy wants credentials (407)', readErr(407, []), r, loc('ProxyAuthRequired', address)],
      ['a timeout', net('ETIMEDOUT', 'timeout', 'secret/data/ci/db'), r, loc('VaultTimeout', address, 45, 'secret/data/ci/db')],
      [
        'a reset connection is no login reset',
        net('ECONNRESET', 'socket hang up', 'secret/data/ci/db'),
        r,
        loc('VaultUnreachable', address, 'ECONNRESET'),
      ],
      ["a failure that is not Vault's: its message", new Error('boom'), r, 'boom'],
      ['a failure that is not an Error: its text', 'boom', r, 'boom'],
      ['a rejection without a reason', undefined, r, 'undefined'],
    ];
    for (const [what, err, context, expected] of cases) {
      it(what, () => assert.equal(explainRead(err, context, 45, loc), expected));
    }
  });

  describe('mount lookup failures name the path', () => {
    const mountErr = (status: number, ...errors: string[]) =>
      new VaultHttpError(status, 'sys/internal/ui/mounts/secret/x', errors, undefined);
    const cases: Array<[string, unknown, string]> = [
      [
        'a 403: the policy grants nothing under the mount',
        mountErr(403, 'preflight capability check returned 403, please ensure client\'s policies grant access to path "secret/x/"'),
        loc('MountDenied', 'secret/x'),
      ],
      [
        'no such mount',
        mountErr(400, 'no mount found for secret/x'),
        loc('MountLookupFailed', 'secret/x', 400, 'no mount found for secret/x'),
      ],
      ['a server error, every error kept', mountErr(500, 'one', 'two'), loc('MountLookupFailed', 'secret/x', 500, 'one; two')],
      ['a server error without text', mountErr(502), loc('MountLookupFailed', 'secret/x', 502, 'no error text')],
      ['a sealed Vault', mountErr(503, 'Vault is sealed'), loc('VaultSealed', address)],
      ['a redirect', mountErr(301), loc('VaultRedirect', address, 301)],
      [
        'a refused connection',
        net('ECONNREFUSED', 'connect ECONNREFUSED', 'sys/internal/ui/mounts/secret/x'),
        loc('VaultUnreachable', address, 'ECONNREFUSED'),
      ],
      ["a failure that is not Vault's: its message", new Error('boom'), 'boom'],
      ['a failure that is not an Error: its text', 'boom', 'boom'],
      ['a rejection without a reason', undefined, 'undefined'],
    ];
    for (const [what, err, expected] of cases) {
      it(what, () => assert.equal(explainMount(err, 'secret/x', address, 45, loc), expected));
    }
  });

  describe('Entra failures get the meaning of their code added', () => {
    const detail = (code: string) =>
      `Could not fetch access token for Azure. Status code: invalid_client, status message: ${code}: the description`;
    for (const code of ['AADSTS70021', 'AADSTS700024', 'AADSTS7000215', 'AADSTS700016', 'AADSTS90002']) {
      it(code, () => {
        const key = `Aadsts${code.slice('AADSTS'.length)}`;
        assert.equal(explainAzureToken('sc-1', detail(code), loc), `${loc('TokenFailed', 'sc-1', detail(code))}\n${loc(key)}`);
      });
    }
    it('an unknown code or none: the failure alone', () => {
      for (const text of ['boom', detail('AADSTS50034'), detail('AADSTS7002')]) {
        assert.equal(explainAzureToken('sc-1', text, loc), loc('TokenFailed', 'sc-1', text));
      }
    });
  });
});
