import * as assert from 'node:assert/strict';
import { jwtPayload, readClaims } from '../../tasks/VaultAzureLoginV1/src/core/tokenClaims';

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const header = part({ alg: 'RS256', typ: 'JWT' });
const jwtOf = (payload: unknown) => `${header}.${part(payload)}.sig`;

describe('readClaims', () => {
  it('returns only the non-secret claims, expiry as ISO time', () => {
    const claims = readClaims(
      jwtOf({
        aud: 'https://management.azure.com/',
        iss: 'https://sts.windows.net/t/',
        tid: 't',
        oid: 'o',
        appid: 'a',
        exp: 1_800_000_000,
        xms_secret: 'no',
      }),
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

  const cases: Array<[string, unknown, object]> = [
    [
      'uses azp when a v2 token has no appid, and joins an audience list',
      { aud: ['x', 'y'], azp: 'client' },
      { aud: 'x,y', appid: 'client' },
    ],
    ['keeps appid when a token has both appid and azp', { appid: 'app', azp: 'client' }, { appid: 'app' }],
    ['has no application id when the token has neither', { aud: 'x' }, { aud: 'x' }],
    [
      'leaves out claims that are neither text nor a list, and an expiry that is not a number',
      { oid: 42, tid: null, azp: 7, exp: '1800000000' },
      {},
    ],
  ];
  for (const [what, payload, claims] of cases) {
    it(what, () => assert.deepEqual(readClaims(jwtOf(payload)), claims));
  }

  const notJwts: Array<[string, string]> = [
    ['an opaque token', 'opaque-token'],
    ['three parts that are not base64url JSON', 'a.b.c'],
    ['a header and payload without a signature', `${header}.${part({ aud: 'x' })}`],
    ['four parts', `${header}.${part({ aud: 'x' })}.sig.extra`],
    ['a payload that is null', jwtOf(null)],
    ['a payload that is a number', jwtOf(5)],
    ['a payload that is text', jwtOf('aud')],
  ];
  for (const [what, token] of notJwts) {
    it(`returns undefined for ${what}`, () => assert.equal(readClaims(token), undefined));
  }
});

describe('jwtPayload, the one JWT decoder', () => {
  it('gives the payload object of a compact JWT, claims of every type kept', () => {
    assert.deepEqual(jwtPayload(jwtOf({ sub: 's', exp: 1800000000, aud: ['a', 'b'], nested: { x: 1 } })), {
      sub: 's',
      exp: 1800000000,
      aud: ['a', 'b'],
      nested: { x: 1 },
    });
  });

  const refused: Array<[string, string]> = [
    ['a payload that is a JSON array', jwtOf([1])],
    ['a payload in padded base64', `${header}.${Buffer.from(JSON.stringify({ sub: 's' })).toString('base64')}=.sig`],
    ['a payload with characters outside base64url', `${header}.${part({ sub: 's' })}+.sig`],
    ['an empty payload', `${header}..sig`],
    ['two parts', `${header}.${part({ sub: 's' })}`],
  ];
  for (const [what, token] of refused) {
    it(`is undefined for ${what}`, () => assert.equal(jwtPayload(token), undefined));
  }
});
