// The jwt method's pure parts: reading an Azure DevOps OIDC token's claims for the log, the request
// URL and Azure DevOps' answers, the explanations of its failures, and the jwt plugin's refusals
// (in OpenBao's words, as test/server/jwt.test.ts and jwtEntra.test.ts see them) turned into a
// cause, the value seen and a command.
import * as assert from 'node:assert/strict';
import { DeadlineError } from '../../tasks/VaultAzureLoginV1/src/core/deadline';
import { VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/vault/client';
import {
  azdoErrorText,
  describeClaims,
  explainOidcFailure,
  isTransientOidc,
  JwtAuthConfig,
  jwtMethod,
  OidcTokenError,
  oidcRequestUrl,
  readOidcAnswer,
  readOidcClaims,
} from '../../tasks/VaultAzureLoginV1/src/auth/jwt';
import { bindingFor, explainJwtRefusal, roleWrite, SentToken, shellQuote } from '../../tasks/VaultAzureLoginV1/src/auth/jwtRefusals';
import { loc } from '../helpers/messages';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwtOf = (payload: unknown) => `${b64({ alg: 'RS256', kid: 'k' })}.${b64(payload)}.c2ln`;
const ISS = 'https://vstoken.dev.azure.com/b2c6e1b7-5d8e-4d43-9a4a-1c2f0e4c7a11';
/** A pipeline token's payload as sigstore/fulcio#1803 shows it. */
const PIPELINE = {
  jti: 'a1',
  sub: 'p://contoso/Platform/vault-deploy',
  aud: 'api://AzureADTokenExchange',
  org_id: 'b2c6e1b7-5d8e-4d43-9a4a-1c2f0e4c7a11',
  prj_id: '590cfd2a-581c-4dcb-a12e-6568ce786175',
  def_id: '42',
  rpo_id: 'c3a3e5a1-7f2b-4a43-b0e3-2f1b5e0d9a77',
  rpo_uri: 'https://dev.azure.com/contoso/Platform/_git/vault-deploy',
  rpo_ver: 'e6b9eb29a288b27a3a82cc19c48b9d94b80aff36',
  rpo_ref: 'refs/heads/main',
  run_id: '1187',
  iss: ISS,
  nbf: 1726042645,
  exp: 1726043845,
  iat: 1726043245,
};
const URI = 'https://dev.azure.com/contoso/590cfd2a/_apis/distributedtask/hubs/build/plans/p1/jobs/j1/oidctoken';
const target = { address: 'https://vault.example.com:8200', mount: 'jwt', role: 'deploy', nsNote: '' };
const refusal = (text: string) => new VaultHttpError(400, 'auth/jwt/login', [text], { errors: [text] });
const pipelineToken = (): SentToken => ({ ...readOidcClaims(jwtOf(PIPELINE)), sent: "the pipeline's OIDC token" });

describe('jwt: the OIDC token and its claims', () => {
  it('reads every string claim and the expiry, and logs the known ones in a fixed order', () => {
    const claims = readOidcClaims(jwtOf(PIPELINE))!;
    assert.equal(claims.def_id, '42');
    assert.equal(claims.expires, '2024-09-11T08:37:25.000Z');
    assert.equal(claims.nbf, undefined, 'numbers other than exp are not claims to bind');
    assert.equal(
      describeClaims(claims),
      `iss=${ISS} sub=p://contoso/Platform/vault-deploy aud=api://AzureADTokenExchange org_id=${PIPELINE.org_id} prj_id=${PIPELINE.prj_id} def_id=42 rpo_id=${PIPELINE.rpo_id} rpo_uri=${PIPELINE.rpo_uri} rpo_ref=refs/heads/main rpo_ver=${PIPELINE.rpo_ver} run_id=1187 expires=2024-09-11T08:37:25.000Z`,
    );
  });

  it("logs a connection's token with the claims it has", () => {
    const claims = readOidcClaims(
      jwtOf({ jti: 'x', aud: ['api://AzureADTokenExchange'], iss: ISS, sub: 'sc://contoso/Platform/sc-vault-prod' }),
    )!;
    assert.equal(describeClaims(claims), `iss=${ISS} sub=sc://contoso/Platform/sc-vault-prod aud=api://AzureADTokenExchange expires=-`);
  });

  for (const [what, token] of [
    ['two parts', 'a.b'],
    ['a payload that is not JSON', 'a.bm90IGpzb24.c'],
    ['a JSON array payload', `a.${b64([1])}.c`],
  ]) {
    it(`is no JWT with ${what}`, () => assert.equal(readOidcClaims(token), undefined));
  }

  it('the method sends {role, jwt}, hands the token over for masking, and notes its claims', async () => {
    const token = jwtOf(PIPELINE);
    const config: JwtAuthConfig = { method: 'jwt', source: 'pipeline', requestUri: URI, connection: '' };
    const asked: unknown[] = [];
    const method = jwtMethod(config, async (req) => (asked.push(req), token));
    const proof = await method.prove({
      mount: 'jwt',
      role: 'deploy',
      loc,
      log: () => undefined,
      mask: () => undefined,
      vault: { post: async () => ({}) },
      timeoutSeconds: 7,
    });
    assert.deepEqual(asked, [{ requestUri: URI, serviceConnectionId: undefined, timeoutSeconds: 7 }]);
    assert.deepEqual(proof.body, { role: 'deploy', jwt: token });
    assert.deepEqual(proof.secrets, [token]);
    assert.match(
      proof.notes[0],
      /^Got the pipeline's OIDC token: iss=https:\/\/vstoken\.dev\.azure\.com\/\S+ sub=p:\/\/contoso\/Platform\/vault-deploy /,
    );
    assert.ok(!proof.notes[0].includes(token));
    assert.equal(method.describe(loc), `Requesting the pipeline's OIDC token from Azure DevOps (${URI}).`);
  });

  it("asks for the connection's token by its id, and refuses an answer that is no JWT (masked first)", async () => {
    const config: JwtAuthConfig = {
      method: 'jwt',
      source: 'serviceConnection',
      requestUri: URI,
      connection: 'c0ffee00-0000-0000-0000-000000000001',
    };
    const masked: string[] = [];
    const asked: Array<{ serviceConnectionId?: string }> = [];
    const method = jwtMethod(config, async (req) => (asked.push(req), 'not-a-jwt'));
    const err = await method
      .prove({
        mount: 'jwt',
        role: 'r',
        loc,
        log: () => undefined,
        mask: (v) => masked.push(v),
        vault: { post: async () => ({}) },
        timeoutSeconds: 5,
      })
      .catch((e: unknown) => e);
    assert.equal(asked[0].serviceConnectionId, config.connection);
    assert.deepEqual(masked, ['not-a-jwt']);
    assert.ok(err instanceof OidcTokenError);
    assert.equal(
      method.explainProofFailure(err, { timeoutSeconds: 5, attempts: 1 }, loc),
      `Azure DevOps answered the request for the OIDC token of service connection '${config.connection}' at ${URI} without a token: the oidcToken of the answer is not a JWT.`,
    );
  });
});

describe('jwt: the OIDC token request and its answers', () => {
  it('adds the API version, and the connection only when one is asked for', () => {
    assert.equal(oidcRequestUrl(URI).toString(), `${URI}?api-version=7.1-preview.1`);
    assert.equal(oidcRequestUrl(URI, 'c1').toString(), `${URI}?api-version=7.1-preview.1&serviceConnectionId=c1`);
  });

  it('takes the token of a 200 answer', () => assert.equal(readOidcAnswer(200, { oidcToken: 'eyJ.x.y' }, URI), 'eyJ.x.y'));

  const failures: Array<[string, number, unknown, string]> = [
    ['a 200 without a token', 200, { other: 1 }, 'the answer holds no oidcToken'],
    [
      'a VSS error',
      401,
      { $id: '1', message: "TF400813: The user '' is not authorized to access this resource.", typeKey: 'UnauthorizedRequestException' },
      "TF400813: The user '' is not authorized to access this resource.",
    ],
    [
      'the {count, value} text form',
      400,
      { count: 10, value: 'There is no explicit reference to service connection x' },
      'There is no explicit reference to service connection x',
    ],
    ['plain text over lines', 500, 'Service\r\nUnavailable', 'Service Unavailable'],
    ['an empty body', 404, undefined, 'HTTP 404'],
  ];
  for (const [what, status, body, detail] of failures) {
    it(`turns ${what} into an error with Azure DevOps' words`, () => {
      assert.throws(
        () => readOidcAnswer(status, body, URI),
        (e: unknown) =>
          e instanceof OidcTokenError && e.status === status && e.detail === detail && e.message === `HTTP ${status}: ${detail}`,
      );
    });
  }

  it('keeps at most 500 characters of an answer', () => assert.equal(azdoErrorText('x'.repeat(600)), `${'x'.repeat(500)}…`));

  it('retries 429, 5xx and dropped connections, not other answers', () => {
    const e = (status?: number, code?: string) => new OidcTokenError(URI, 'd', status, code);
    assert.deepEqual(
      [
        e(429),
        e(500),
        e(503),
        e(undefined, 'ECONNRESET'),
        e(undefined, 'ETIMEDOUT'),
        e(401),
        e(404),
        e(400),
        e(200),
        e(undefined, 'CERT_HAS_EXPIRED'),
      ].map(isTransientOidc),
      [true, true, true, true, true, false, false, false, false, false],
    );
  });

  const pipeline: JwtAuthConfig = { method: 'jwt', source: 'pipeline', requestUri: URI, connection: '' };
  const connection: JwtAuthConfig = { method: 'jwt', source: 'serviceConnection', requestUri: URI, connection: 'c1' };
  const explained: Array<[string, OidcTokenError, JwtAuthConfig, string]> = [
    ['401', new OidcTokenError(URI, 'TF400813', 401), pipeline, loc('JwtOidcUnauthorized', "the pipeline's OIDC token", URI, 'TF400813')],
    [
      '404 for the pipeline token',
      new OidcTokenError(URI, 'HTTP 404', 404),
      pipeline,
      loc('JwtOidcNotFound', "the pipeline's OIDC token", URI, 'HTTP 404'),
    ],
    ['404 for a connection', new OidcTokenError(URI, 'HTTP 404', 404), connection, loc('JwtOidcConnectionNotFound', 'c1', URI, 'HTTP 404')],
    [
      'another 4xx',
      new OidcTokenError(URI, 'no reference', 400),
      connection,
      loc('JwtOidcRefused', "the OIDC token of service connection 'c1'", 400, URI, 'no reference'),
    ],
    ['a 5xx', new OidcTokenError(URI, 'busy', 503), pipeline, loc('JwtOidcFailed', "the pipeline's OIDC token", 503, URI, 'busy')],
    [
      'no answer',
      new OidcTokenError(URI, 'connect ECONNREFUSED 127.0.0.2:443', undefined, 'ECONNREFUSED'),
      pipeline,
      loc('JwtOidcUnreachable', "the pipeline's OIDC token", URI, 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.2:443'),
    ],
  ];
  for (const [what, err, config, message] of explained) {
    it(`explains ${what}`, () => assert.equal(explainOidcFailure(err, config, loc), message));
  }

  it('explains a run-out deadline and the request timing out alike', () => {
    const method = jwtMethod(pipeline, async () => '');
    const expected = loc('JwtOidcTimeout', "the pipeline's OIDC token", URI, 10, 3);
    assert.equal(method.explainProofFailure(new DeadlineError(10_000), { timeoutSeconds: 10, attempts: 3 }, loc), expected);
    assert.equal(
      method.explainProofFailure(
        new OidcTokenError(URI, 'no answer within 10 s', undefined, 'ETIMEDOUT'),
        { timeoutSeconds: 10, attempts: 3 },
        loc,
      ),
      expected,
    );
    assert.equal(method.explainProofFailure(new Error('other'), { timeoutSeconds: 10, attempts: 3 }, loc), undefined);
  });
});

describe('jwt: refusals of the jwt plugin, in OpenBao 2.7 words', () => {
  const entra: SentToken = {
    sent: 'an Entra access token',
    aud: 'https://management.azure.com/',
    iss: 'https://sts.windows.net/t1/',
    tid: 't1',
    oid: 'o1',
    appid: 'a1',
    sub: 'o1',
    expires: '2030-01-01T00:00:00.000Z',
  };

  it('binds each kind of token by what identifies it', () => {
    assert.deepEqual(bindingFor(pipelineToken()), { claims: ['prj_id', 'def_id', 'rpo_ref'], subject: false, userClaim: 'sub' });
    assert.deepEqual(bindingFor({ sent: '', sub: 'sc://contoso/Platform/sc' }), { claims: [], subject: true, userClaim: 'sub' });
    // The Entra-issued assertion carries the oid of Azure DevOps' own service principal: not a binding.
    assert.deepEqual(bindingFor({ sent: '', sub: '/eid1/c/pub/t/AbC/a/dEf/sc/org-1/conn-1', oid: 'azdo-sp' }), {
      claims: [],
      subject: true,
      userClaim: 'sub',
    });
    assert.deepEqual(bindingFor(entra), { claims: ['tid', 'oid'], subject: false, userClaim: 'oid' });
  });

  it('quotes for the shell so that a value with a quote stays one word', () => {
    assert.equal(shellQuote("refs/heads/it's"), `'refs/heads/it'\\''s'`);
    assert.equal(
      roleWrite('jwt', 'r', { bound_subject: "a'b" }),
      `echo '{"role_type":"jwt","bound_subject":"a'\\''b"}' | vault write auth/jwt/role/r -`,
    );
  });

  const cases: Array<[string, string, SentToken, string | undefined]> = [
    [
      'role not found',
      'role "deploy" could not be found',
      pipelineToken(),
      loc(
        'JwtRoleMissing',
        'deploy',
        'jwt',
        '',
        'deploy',
        'jwt',
        `echo '{"role_type":"jwt","bound_audiences":["api://AzureADTokenExchange"],"bound_claims":{"prj_id":"${PIPELINE.prj_id}","def_id":"42","rpo_ref":"refs/heads/main"},"user_claim":"sub","token_policies":["<policy>"],"token_ttl":"10m"}' | vault write auth/jwt/role/deploy -`,
      ),
    ],
    [
      'audience of a pipeline token',
      'error validating token: invalid audience (aud) claim: audience claim does not match any expected audience',
      pipelineToken(),
      `${loc('JwtAudience', "the pipeline's OIDC token", 'api://AzureADTokenExchange', 'deploy', 'jwt', `echo '{"role_type":"jwt","bound_audiences":["api://AzureADTokenExchange"]}' | vault write auth/jwt/role/deploy -`)} ${loc('JwtAudienceFixed', 'api://AzureADTokenExchange')}`,
    ],
    [
      'audience of an Entra token',
      'error validating token: invalid audience (aud) claim: audience claim does not match any expected audience',
      entra,
      `${loc('JwtAudience', 'an Entra access token', 'https://management.azure.com/', 'deploy', 'jwt', `echo '{"role_type":"jwt","bound_audiences":["https://management.azure.com/"]}' | vault write auth/jwt/role/deploy -`)} ${loc('JwtAudienceResource', 'jwt', 'deploy')}`,
    ],
    [
      'a claim bound to another value',
      'error validating claims: claim "rpo_ref" does not match any associated bound claim values',
      pipelineToken(),
      loc(
        'JwtClaimMismatch',
        "the pipeline's OIDC token",
        'rpo_ref',
        '"refs/heads/main"',
        'deploy',
        'jwt',
        `echo '{"role_type":"jwt","bound_claims":{"prj_id":"${PIPELINE.prj_id}","def_id":"42","rpo_ref":"refs/heads/main"}}' | vault write auth/jwt/role/deploy -`,
      ),
    ],
    [
      'a bound claim the step did not read, kept in the fix',
      'error validating claims: claim "idtyp" does not match any associated bound claim values',
      entra,
      loc(
        'JwtClaimMismatch',
        'an Entra access token',
        'idtyp',
        loc('JwtClaimAbsent'),
        'deploy',
        'jwt',
        `echo '{"role_type":"jwt","bound_claims":{"tid":"t1","oid":"o1","idtyp":"<value>"}}' | vault write auth/jwt/role/deploy -`,
      ),
    ],
    [
      'a claim missing from the token',
      'error validating claims: claim "def_id" is missing',
      { sent: 'the OIDC token', aud: 'api://AzureADTokenExchange', iss: ISS, sub: 'sc://contoso/Platform/sc', jti: 'j' },
      loc(
        'JwtClaimMissing',
        'the OIDC token',
        'def_id',
        'deploy',
        'jwt',
        'aud, iss, sub, jti',
        `echo '{"role_type":"jwt","bound_claims":{},"bound_subject":"sc://contoso/Platform/sc"}' | vault write auth/jwt/role/deploy -`,
      ),
    ],
    [
      'a user_claim missing from the token',
      'claim "email" not found in token',
      entra,
      loc(
        'JwtUserClaimMissing',
        'deploy',
        'jwt',
        'email',
        'an Entra access token',
        'aud, iss, tid, oid, appid, sub',
        `echo '{"role_type":"jwt","user_claim":"oid"}' | vault write auth/jwt/role/deploy -`,
      ),
    ],
    [
      'another subject',
      'error validating token: invalid subject (sub) claim',
      pipelineToken(),
      loc(
        'JwtSubject',
        "the pipeline's OIDC token",
        'p://contoso/Platform/vault-deploy',
        'deploy',
        'jwt',
        `echo '{"role_type":"jwt","bound_subject":"p://contoso/Platform/vault-deploy"}' | vault write auth/jwt/role/deploy -`,
      ),
    ],
    [
      'another issuer',
      'error validating token: invalid issuer (iss) claim',
      pipelineToken(),
      loc(
        'JwtIssuer',
        "the pipeline's OIDC token",
        ISS,
        'jwt',
        `vault write auth/jwt/config oidc_discovery_url='${ISS}' bound_issuer='${ISS}'`,
      ),
    ],
    [
      'a signature from other keys',
      'error validating token: error verifying token signature: failed to verify id token signature',
      pipelineToken(),
      loc(
        'JwtSignature',
        "the pipeline's OIDC token",
        ISS,
        'jwt',
        `vault write auth/jwt/config oidc_discovery_url='${ISS}' bound_issuer='${ISS}'`,
      ),
    ],
    [
      'an expired token',
      'error validating token: invalid expiration time (exp) claim: token is expired',
      pipelineToken(),
      loc('JwtExpired', "the pipeline's OIDC token", 'error validating token: invalid expiration time (exp) claim: token is expired'),
    ],
    [
      'an oidc role',
      'role with oidc role_type is not allowed',
      pipelineToken(),
      loc('JwtRoleTypeOidc', 'deploy', 'jwt', `echo '{"role_type":"jwt"}' | vault write auth/jwt/role/deploy -`),
    ],
    ['anything else, left to the shared explanation', 'missing token', pipelineToken(), undefined],
  ];
  for (const [what, text, token, expected] of cases) {
    it(`explains ${what}`, () => assert.equal(explainJwtRefusal(refusal(text), token, target, loc), expected));
  }
});
