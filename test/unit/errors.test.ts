import * as assert from 'node:assert/strict';
import { explainAzureToken, explainLogin, explainMount, explainNetwork, explainRead } from '../../tasks/VaultAzureLoginV1/src/errors';
import { VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault';
import { loc } from '../helpers/messages';


const address = 'https://vault.example.com:8200';
const ctx = {
  address,
  mount: 'ado',
  role: 'ci',
  resource: 'https://management.core.windows.net/',
  claims: { aud: 'https://management.core.windows.net/', oid: 'oid-1', appid: 'app-1', tid: 'tid-1', iss: 'https://sts.windows.net/tid-1/' },
};
const http = (status: number, ...errors: string[]) => new VaultHttpError(status, 'auth/ado/login', errors, { errors });

describe('failure explanations', () => {
  const login: Array<[string, VaultHttpError, RegExp[]]> = [
    ['unknown role', http(400, 'invalid role name "ci"'), [/no role 'ci' on the azure auth mount 'auth\/ado'/, /vault write auth\/ado\/role\/ci bound_service_principal_ids=oid-1/]],
    [
      'audience mismatch',
      http(500, 'oidc: expected audience "https://management.azure.com/" got ["https://management.core.windows.net/"]'),
      [/token has aud "https:\/\/management.core.windows.net\/" but auth\/ado expects "https:\/\/management.azure.com\/"/, /set the task input 'resource' to "https:\/\/management.azure.com\/"/, /vault write auth\/ado\/config resource="https:\/\/management.core.windows.net\/"/],
    ],
    ['service principal not bound', http(500, 'service principal not authorized: oid-1'), [/object id oid-1 is not allowed by role 'ci'/, /bound_service_principal_ids=oid-1/, /not the application \(client\) id app-1/]],
    [
      'wrong issuer',
      http(500, 'oidc: id token issued by a different provider, expected "https://sts.windows.net/other/" got "https://sts.windows.net/tid-1/"'),
      [/expects tokens issued by "https:\/\/sts.windows.net\/other\/"/, /vault write auth\/ado\/config tenant_id=tid-1/],
    ],
    ['expired', http(500, 'oidc: token is expired (Token Expiry: 2026-01-01 00:00:00 +0000 UTC)'), [/expired/, /clocks/]],
    ['bad signature', http(500, 'failed to verify signature: failed to verify id token signature'), [/could not verify the token's signature/, /tenant_id=tid-1/]],
    ['no such mount', http(404, 'no handler for route "auth/ado/login". route entry not found.'), [/No azure auth method answers at auth\/ado/, /vault auth enable -path=ado azure/]],
    ['sealed', http(503, 'Vault is sealed'), [/is sealed/]],
  ];
  for (const [name, err, patterns] of login) {
    it(`login: ${name}`, () => {
      const text = explainLogin(err, ctx, 30, loc);
      for (const p of patterns) assert.match(text, p);
    });
  }

  it('login: a namespace is named where it may be the cause', () => {
    assert.match(explainLogin(http(403, 'permission denied'), { ...ctx, namespace: 'admin' }, 30, loc), /auth\/ado in namespace 'admin'/);
  });

  it('network: refused, timeout, untrusted and mismatched certificates', () => {
    assert.match(explainNetwork(new VaultNetworkError('ECONNREFUSED', 'p', 'x'), address, 30, loc), /Cannot reach Vault at https:\/\/vault.example.com:8200 \(ECONNREFUSED\)/);
    assert.match(explainNetwork(new VaultNetworkError('ECONNABORTED', 'secret/data/x', 'x'), address, 30, loc), /did not answer within 30 seconds \(on secret\/data\/x\)/);
    assert.match(explainNetwork(new VaultNetworkError('SELF_SIGNED_CERT_IN_CHAIN', 'p', 'x'), address, 30, loc), /not trusted \(SELF_SIGNED_CERT_IN_CHAIN\)/);
    assert.match(explainNetwork(new VaultNetworkError('ERR_TLS_CERT_ALTNAME_INVALID', 'p', 'altnames'), address, 30, loc), /does not cover this host name/);
  });

  it('network: mutual TLS refusals and proxy authentication name their cause, not the port', () => {
    const openssl = (reason: string, alert: number) => `80FCA6347E7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number ${alert}\n`;
    const net = (code: string, message: string) => new VaultNetworkError(code, 'auth/ado/login', message);
    assert.match(explainNetwork(net('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', openssl('tlsv13 alert certificate required', 116)), address, 30, loc), /requires a client certificate \(mutual TLS\) and none was sent/);
    assert.match(explainNetwork(net('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', openssl('tlsv1 alert unknown ca', 48)), address, 30, loc), /refused the client certificate \(TLS alert: tlsv1 alert unknown ca\)/);
    assert.match(explainNetwork(net('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', openssl('sslv3 alert bad certificate', 42)), address, 30, loc), /refused the client certificate \(TLS alert: sslv3 alert bad certificate\)/);
    assert.match(explainNetwork(net('EPROTO', `write EPROTO ${openssl('sslv3 alert handshake failure', 40)}`), address, 30, loc), /ended the TLS handshake .*'clientCertificate' and 'clientKey'.*tls_min_version/);
    assert.equal(explainNetwork(net('EPROTO', `write EPROTO ${openssl('wrong version number', 0)}`), address, 30, loc), `TLS to ${address} failed (wrong version number). Check the port; if this Vault listens without TLS, the address must start with http://.`);
    assert.match(explainLogin(net('ECONNRESET', 'socket hang up'), ctx, 30, loc), /closed the connection without answering the login \(socket hang up\)\. A Vault that requires mutual TLS/);
    assert.match(explainRead(net('ECONNRESET', 'socket hang up'), { address, path: 'secret/ci/db', aclPath: 'secret/data/ci/db' }, 30, loc), /Cannot reach Vault at .* \(ECONNRESET\)/);
    assert.match(explainLogin(http(407), ctx, 30, loc), /The agent's proxy refused the request to https:\/\/vault.example.com:8200 \(HTTP 407 Proxy Authentication Required\)/);
  });

  it('read: 403 names the exact ACL path and a policy stanza; invalid token is told apart', () => {
    const denied = new VaultHttpError(403, 'secret/data/ci/db', ['1 error occurred:\n\t* permission denied\n\n'], undefined);
    const r = { address, path: 'secret/ci/db', aclPath: 'secret/data/ci/db' };
    assert.match(explainRead(denied, r, 30, loc), /path "secret\/data\/ci\/db" \{ capabilities = \["read"\] \}/);
    const invalid = new VaultHttpError(403, 'secret/data/ci/db', ['permission denied', 'invalid token'], undefined);
    assert.match(explainRead(invalid, r, 30, loc), /no longer valid/);
  });

  it('mount lookup: 403 says the policy grants nothing under the mount', () => {
    const err = new VaultHttpError(403, 'sys/internal/ui/mounts/secret/x', ['preflight capability check returned 403, please ensure client\'s policies grant access to path "secret/x/"'], undefined);
    assert.match(explainMount(err, 'secret/x', address, 30, loc), /allow nothing under the mount of secret\/x/);
  });

  it('Entra codes get their meaning added', () => {
    const text = explainAzureToken('sc-1', 'Could not fetch access token for Azure. Status code: invalid_client, status message: AADSTS70021: No matching federated identity record found', loc);
    assert.match(text, /service connection 'sc-1'/);
    assert.match(text, /AADSTS70021 means Entra found no federated credential/);
    assert.doesNotMatch(explainAzureToken('sc-1', 'boom', loc), /AADSTS/);
  });
});
