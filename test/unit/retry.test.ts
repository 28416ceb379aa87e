import * as assert from 'node:assert/strict';
import { backoffMs, isRetryable, isTransientEntra, withRetry } from '../../tasks/VaultAzureLoginV1/src/retry';
import { VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault';

const http = (status: number, ...errors: string[]) => new VaultHttpError(status, 'p', errors, undefined);

describe('retry policy', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['connection refused', new VaultNetworkError('ECONNREFUSED', 'p', 'x'), true],
    ['connection reset', new VaultNetworkError('ECONNRESET', 'p', 'x'), true],
    ['timeout', new VaultNetworkError('ECONNABORTED', 'p', 'x'), true],
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
    ['a plain Error', new Error('bug'), false],
  ];
  for (const [name, err, expected] of cases) {
    it(`${expected ? 'retries' : 'does not retry'} ${name}`, () => assert.equal(isRetryable(err), expected));
  }

  it('waits attempt × 1–1.5 s, as Vault\'s linear jitter backoff', () => {
    assert.equal(backoffMs(1, () => 0), 1000);
    assert.equal(backoffMs(1, () => 1), 1500);
    assert.equal(backoffMs(2, () => 0.5), 2500);
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
      { retries: 2, sleep: async (ms) => void waits.push(ms), random: () => 0, onRetry: (w, a, n, c, ms) => reports.push(`${w} ${a}/${n} ${c} ${ms}`) },
    );
    assert.equal(result, 'ok');
    assert.deepEqual(waits, [1000, 2000]);
    assert.deepEqual(reports, ['GET secret/data/x 1/3 HTTP 503: Vault is sealed 1000', 'GET secret/data/x 2/3 HTTP 503: Vault is sealed 2000']);
  });

  it('gives up after the last attempt with the last error, and never retries a permanent one', async () => {
    let calls = 0;
    const policy = { retries: 2, sleep: async () => undefined, random: () => 0, onRetry: () => undefined };
    await assert.rejects(withRetry('x', async () => { calls++; throw http(429); }, policy), (e: VaultHttpError) => e.status === 429);
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(withRetry('x', async () => { calls++; throw http(500, 'service principal not authorized: o'); }, policy));
    assert.equal(calls, 1);
  });
});

describe('transient Entra failures', () => {
  const cases: Array<[string, boolean]> = [
    ['Could not fetch access token for Azure. Status code: 90033, status message: AADSTS90033: A transient error has occurred.', true],
    ['Could not fetch access token for Azure. Status code: temporarily_unavailable, status message: x', true],
    ['request to https://login.microsoftonline.com/t/oauth2/v2.0/token failed, reason: socket hang up', true],
    ['Could not fetch access token for Azure. Status code: invalid_client, status message: AADSTS70021: No matching federated identity record found', false],
    ['Could not fetch access token for Azure. Status code: invalid_client, status message: AADSTS7000215: Invalid client secret provided.', false],
    ['Could not fetch access token for AAD. Error: TF400813: The user is not authorized to access this resource.', false],
  ];
  for (const [detail, expected] of cases) {
    it(`${expected ? 'retries' : 'does not retry'}: ${detail.slice(0, 80)}`, () => assert.equal(isTransientEntra(detail), expected));
  }
});
