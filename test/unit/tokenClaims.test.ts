import * as assert from 'node:assert/strict';
import { readClaims } from '../../tasks/VaultAzureLoginV1/src/tokenClaims';

const jwtOf = (payload: object) =>
  [{ alg: 'RS256', typ: 'JWT' }, payload].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.') + '.sig';

describe('readClaims', () => {
  it('returns only the non-secret claims, expiry as ISO time', () => {
    const claims = readClaims(
      jwtOf({ aud: 'https://management.azure.com/', iss: 'https://sts.windows.net/t/', tid: 't', oid: 'o', appid: 'a', exp: 1_800_000_000, xms_secret: 'no' }),
    );
    assert.deepEqual(claims, {
      aud: 'https://management.azure.com/',
      iss: 'https://sts.windows.net/t/',
      tid: 't',
      oid: 'o',
      appid: 'a',
      expires: '2027-01-15T08:00:00.000Z',
    });
  });

  it('uses azp when a v2 token has no appid, and joins an audience list', () => {
    assert.deepEqual(readClaims(jwtOf({ aud: ['x', 'y'], azp: 'client' })), { aud: 'x,y', appid: 'client' });
  });

  it('returns undefined for anything that is not a JWT', () => {
    assert.equal(readClaims('opaque-token'), undefined);
    assert.equal(readClaims('a.b.c'), undefined);
  });
});
