import * as assert from 'node:assert/strict';
import { isTransientEntra } from '../../tasks/VaultAzureLoginV1/src/auth/azure';
import {
  backoffMs,
  describeFailure,
  isRetryable,
  isRetryableLogin,
  isRetryableOnce,
  withRetry,
} from '../../tasks/VaultAzureLoginV1/src/vault/retry';
import { answerLost } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault/client';

const http = (status: number, ...errors: string[]) => new VaultHttpError(status, 'p', errors, undefined);

describe('retry policy', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['connection refused', new VaultNetworkError('ECONNREFUSED', 'p', 'x'), true],
    ['connection reset', new VaultNetworkError('ECONNRESET', 'p', 'x'), true],
    ['timeout, as the transport reports it', new VaultNetworkError('ETIMEDOUT', 'p', 'x'), true],
    ['aborted request', new VaultNetworkError('ECONNABORTED', 'p', 'x'), true],
    ['412', http(412), true],
    ['429', http(429), true],
    ['500', http(500, 'internal error'), true],
    ['502', http(502), true],
    ['503 sealed', http(503, 'Vault is sealed'), true],
    ['501', http(501), false],
    ['400', http(400, 'invalid role name "x"'), false],
    ['403', http(403, 'permission denied'), false],
    ['404', http(404), false],
    ['login 500: audience', http(500, 'oidc: expected audience "a" got ["b"]'), false],
    ['login 500: issuer', http(500, 'oidc: id token issued by a different provider, expected "a" got "b"'), false],
    ['login 500: expired', http(500, 'oidc: token is expired (Token Expiry: x)'), false],
    ['login 500: not bound', http(500, 'service principal not authorized: 1234'), false],
    ['login 500: signature', http(500, 'failed to verify signature: failed to verify id token signature'), false],
    ['login 500: mount never configured', http(500, 'tenant_id is required'), false],
    ['login 500: no resource on the mount', http(500, 'resource is required'), false],
    [
      'login 500: tenant typo (AADSTS90002 in the discovery failure)',
      http(500, '400 Bad Request: {"error":"invalid_tenant","error_description":"AADSTS90002: Tenant \'x\' not found."}'),
      false,
    ],
    ['login 500: not yet valid', http(500, 'token is not yet valid (Token Not Before: 2026-01-01 00:00:00 +0000 UTC)'), false],
    ['login 500: groups', http(500, 'groups not authorized: []'), false],
    ['login 500: both *', http(500, "expected specific bound_group_ids or bound_service_principal_ids; both cannot be '*'"), false],
    ['login 500: VM values missing', http(500, 'subscription_id and resource_group_name are required'), false],
    ['login 500: subscription', http(500, 'subscription not authorized'), false],
    ['login 500: resource group', http(500, 'resource group not authorized'), false],
    ['login 500: location', http(500, 'location not authorized'), false],
    ['login 500: scale set', http(500, 'scale set not authorized'), false],
    ['login 500: scale-set role, standalone VM', http(500, "bound scale set defined but this vm isn't in a scale set"), false],
    ['login 500: object id, no app id', http(500, 'token object id does not match expected identities, and no app id was found'), false],
    ['login 500: neither object id nor app id', http(500, 'neither token object id nor token app id match expected identities'), false],
    ['login 500: token claims name another VM', http(500, 'xms_mirid token claim does not match vm_name vm-1'), false],
    [
      'login 500: ARM credential refused',
      http(
        500,
        'unable to retrieve virtual machine metadata: ClientSecretCredential: authenticate failed:\nAADSTS7000215: Invalid client secret provided.',
      ),
      false,
    ],
    [
      'login 500: ARM, no Reader',
      http(
        500,
        'unable to retrieve virtual machine scale set metadata: GET https://management.azure.com/x\nERROR CODE: AuthorizationFailed',
      ),
      false,
    ],
    [
      'login 500: ARM unavailable',
      http(500, 'unable to retrieve virtual machine metadata: GET https://management.azure.com/x\nRESPONSE 503: 503 Service Unavailable'),
      true,
    ],
    [
      'login 500: Vault cannot reach Entra (EOF)',
      http(500, 'Get "https://login.microsoftonline.com/t/.well-known/openid-configuration": EOF'),
      true,
    ],
    ['login 500: Entra discovery unavailable', http(500, '503 Service Unavailable: {"error":"temporarily_unavailable"}'), true],
    [
      'login 500: Entra keys not fetched',
      http(
        500,
        'failed to verify signature: fetching keys oidc: get keys failed: Get "https://login.microsoftonline.com/common/discovery/keys": EOF',
      ),
      true,
    ],
    ['a plain Error', new Error('bug'), false],
  ];
  for (const [name, err, expected] of cases) {
    it(`${expected ? 'retries' : 'does not retry'} ${name}`, () => assert.equal(isRetryable(err), expected));
  }

  describe('a request that spends or creates something (unwrap, login): retried only when Vault provably did not perform it', () => {
    const unsent = (code: string) => new VaultNetworkError(code, 'p', 'x', false);
    const once: Array<[string, unknown, boolean, boolean]> = [
      // [what, error, retried, answer lost]
      ['connection refused', new VaultNetworkError('ECONNREFUSED', 'p', 'x'), true, false],
      ['no such host', new VaultNetworkError('ENOTFOUND', 'p', 'x'), true, false],
      ['a reset before the request was written (TLS handshake)', unsent('ECONNRESET'), true, false],
      ['a timeout before the connection was ready', unsent('ETIMEDOUT'), true, false],
      ['a reset after the request was written', new VaultNetworkError('ECONNRESET', 'p', 'x'), false, true],
      ['a timeout after the request was written', new VaultNetworkError('ETIMEDOUT', 'p', 'x'), false, true],
      ['an HTTP/2 stream reset', new VaultNetworkError('ERR_HTTP2_STREAM_ERROR', 'p', 'x'), false, true],
      ['an answer too large (it came: not lost)', new VaultNetworkError('ERR_ANSWER_TOO_LARGE', 'p', 'x'), false, false],
      ['an untrusted certificate (never retried)', unsent('CERT_HAS_EXPIRED'), false, false],
      ['a sealed Vault (503)', http(503, 'Vault is sealed'), true, false],
      ['a standby (503)', http(503, 'Vault is in standby mode'), true, false],
      ['a standby without an active node (500)', http(500, 'local node not active but active cluster node not found'), true, false],
      ['a rate limit quota (429)', http(429, 'request path "auth/approle/login": rate limit quota exceeded'), true, false],
      ['412', http(412, 'required index state not present'), true, false],
      ["a gateway's 502", http(502), false, true],
      ["a gateway's 504", http(504), false, true],
      ["a 503 that is not Vault's", http(503), false, true],
      ["Vault's own 500", http(500, 'internal error'), false, false],
      ['a refusal (400)', http(400, 'invalid role or secret ID'), false, false],
    ];
    for (const [name, err, retried, lost] of once) {
      it(`${name}: ${retried ? 'retried' : 'sent once'}${lost ? ', its answer lost' : ''}`, () => {
        assert.equal(isRetryableOnce(err), retried);
        assert.equal(answerLost(err), lost);
      });
    }
  });

  describe('a login that spends nothing but creates a token: never retried after a lost answer, else as any request', () => {
    const cases: Array<[string, unknown, boolean]> = [
      [
        "Vault's own 500 (it issued no token), e.g. Vault unable to reach Entra",
        http(500, 'Get "https://login.microsoftonline.com/t/.well-known/openid-configuration": EOF'),
        true,
      ],
      ['a sealed Vault', http(503, 'Vault is sealed'), true],
      ['a refused connection', new VaultNetworkError('ECONNREFUSED', 'p', 'x'), true],
      ['a reset before the request was written', new VaultNetworkError('ECONNRESET', 'p', 'x', false), true],
      ['a reset after the request was written', new VaultNetworkError('ECONNRESET', 'p', 'x'), false],
      ['a timeout after the request was written', new VaultNetworkError('ETIMEDOUT', 'p', 'x'), false],
      ["a gateway's 502", http(502), false],
      ['a permanent login error', http(500, 'oidc: token is expired (Token Expiry: x)'), false],
      ['a login that crashed its auth plugin', http(500, 'rpc error: code = Unavailable desc = error reading from server: EOF'), false],
      ['a login to a plugin shut down by such a crash', http(500, 'plugin is shut down'), false],
    ];
    for (const [name, err, retried] of cases)
      it(`${name}: ${retried ? 'retried' : 'sent once'}`, () => assert.equal(isRetryableLogin(err), retried));
  });

  it("waits attempt × 1–1.5 s, as Vault's linear jitter backoff", () => {
    assert.equal(
      backoffMs(1, () => 0),
      1000,
    );
    assert.equal(
      backoffMs(1, () => 1),
      1500,
    );
    assert.equal(
      backoffMs(2, () => 0.5),
      2500,
    );
  });

  it('retries up to the limit, reporting each attempt, cause and wait', async () => {
    const waits: number[] = [];
    const reports: string[] = [];
    let calls = 0;
    const result = await withRetry(
      'GET secret/data/x',
      async () => {
        calls++;
        if (calls < 3) throw http(503, 'Vault is sealed');
        return 'ok';
      },
      {
        retries: 2,
        sleep: async (ms) => void waits.push(ms),
        random: () => 0,
        onRetry: (w, a, n, c, ms) => reports.push(`${w} ${a}/${n} ${c} ${ms}`),
      },
    );
    assert.equal(result, 'ok');
    assert.deepEqual(waits, [1000, 2000]);
    assert.deepEqual(reports, [
      'GET secret/data/x 1/3 HTTP 503: Vault is sealed 1000',
      'GET secret/data/x 2/3 HTTP 503: Vault is sealed 2000',
    ]);
  });

  it('reports a network failure by its code, and tries once when no retry is allowed', async () => {
    const reports: string[] = [];
    let calls = 0;
    const policy = {
      retries: 1,
      sleep: async () => undefined,
      random: () => 0.5,
      onRetry: (w: string, a: number, n: number, c: string, ms: number) => reports.push(`${w} ${a}/${n} ${c} ${ms}`),
    };
    await assert.rejects(
      withRetry(
        'GET secret/data/x',
        async () => {
          calls++;
          throw new VaultNetworkError('ECONNRESET', 'secret/data/x', 'socket hang up');
        },
        policy,
      ),
      /socket hang up/,
    );
    assert.deepEqual(reports, ['GET secret/data/x 1/2 ECONNRESET 1250']);
    assert.equal(calls, 2);
    calls = 0;
    await assert.rejects(
      withRetry(
        'x',
        async () => {
          calls++;
          throw http(503);
        },
        { ...policy, retries: 0 },
      ),
    );
    assert.equal(calls, 1);
  });

  it("retries what the caller's rule says, whatever the error", async () => {
    const reports: string[] = [];
    let calls = 0;
    const result = await withRetry(
      'token',
      async () => {
        if (++calls === 1) throw new Error('Entra is busy');
        return 'jwt';
      },
      { retries: 3, sleep: async () => undefined, random: () => 0, onRetry: (_w, _a, _n, cause) => reports.push(cause) },
      (err) => err instanceof Error && /busy/.test(err.message),
    );
    assert.equal(result, 'jwt');
    assert.deepEqual(reports, ['Entra is busy']);
  });

  it('gives up after the last attempt with the last error, and never retries a permanent one', async () => {
    let calls = 0;
    const policy = { retries: 2, sleep: async () => undefined, random: () => 0, onRetry: () => undefined };
    await assert.rejects(
      withRetry(
        'x',
        async () => {
          calls++;
          throw http(429);
        },
        policy,
      ),
      (e: VaultHttpError) => e.status === 429,
    );
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(
      withRetry(
        'x',
        async () => {
          calls++;
          throw http(500, 'service principal not authorized: o');
        },
        policy,
      ),
    );
    assert.equal(calls, 1);
  });
});

describe('a failure as the retry log shows it', () => {
  const cases: Array<[string, unknown, string]> = [
    [
      'a Vault answer, its error on one line',
      http(500, '1 error occurred:\n\t* internal error\n\n'),
      'HTTP 500: 1 error occurred: * internal error',
    ],
    ['a Vault answer with several errors', http(500, 'one', 'two'), 'HTTP 500: one; two'],
    ['a Vault answer without errors', http(502), 'HTTP 502'],
    ['a network failure: its code', new VaultNetworkError('ETIMEDOUT', 'p', 'timeout after 30 s'), 'ETIMEDOUT'],
    ['any other Error: its message', new Error('bug'), 'bug'],
    ['anything else: its text', 'thrown text', 'thrown text'],
  ];
  for (const [what, err, shown] of cases) {
    it(what, () => assert.equal(describeFailure(err), shown));
  }
});

describe('transient Entra failures', () => {
  const cases: Array<[string, boolean]> = [
    ['Could not fetch access token for Azure. Status code: 90033, status message: AADSTS90033: A transient error has occurred.', true],
    ['Could not fetch access token for Azure. Status code: temporarily_unavailable, status message: x', true],
    ['request to https://login.microsoftonline.com/t/oauth2/v2.0/token failed, reason: socket hang up', true],
    ['Could not fetch access token for Azure. Status code: 503, status message: Service Unavailable', true],
    ['Could not fetch access token for Azure. Status code: 500, status message: x', true],
    ['Could not fetch access token for Azure. Status code: service_unavailable, status message: x', true],
    ['Could not fetch access token for Azure. Status code: SERVER_ERROR, status message: x', true],
    ['request to https://login.microsoftonline.com/t/oauth2/v2.0/token failed, reason: read ECONNRESET', true],
    ['request to https://login.microsoftonline.com/t/oauth2/v2.0/token failed, reason: connect ETIMEDOUT 20.190.160.1:443', true],
    ['request to https://login.microsoftonline.com/t/oauth2/v2.0/token failed, reason: connect ECONNREFUSED 20.190.160.1:443', true],
    [
      'request to https://login.microsoftonline.com/t/oauth2/v2.0/token failed, reason: getaddrinfo EAI_AGAIN login.microsoftonline.com',
      true,
    ],
    ['Could not fetch access token for Azure. Status code: 400, status message: Bad Request', false],
    ['Could not fetch access token for Azure. Status code: 5xx, status message: x', false],
    [
      'Could not fetch access token for Azure. Status code: invalid_client, status message: AADSTS70021: No matching federated identity record found',
      false,
    ],
    [
      'Could not fetch access token for Azure. Status code: invalid_client, status message: AADSTS7000215: Invalid client secret provided.',
      false,
    ],
    ['Could not fetch access token for AAD. Error: TF400813: The user is not authorized to access this resource.', false],
  ];
  for (const [detail, expected] of cases) {
    it(`${expected ? 'retries' : 'does not retry'}: ${detail.slice(0, 80)}`, () => assert.equal(isTransientEntra(detail), expected));
  }
});
