// The gcp method: the metadata URL, the request to a metadata server on loopback (through the one
// outside HTTP client), the token's claims, what is worth another attempt, and the gcp plugin's
// refusals turned into the cause and the fix.
import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import {
  fetchIdentityToken,
  GcpMetadataError,
  gcpMethod,
  identityUrl,
  isTransientMetadata,
  readGceClaims,
} from '../../tasks/VaultAzureLoginV1/src/auth/gcp';
import { DeadlineError } from '../../tasks/VaultAzureLoginV1/src/core/deadline';
import { VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { LoopbackServer, serveHttp } from '../helpers/loopback';

const loc = (key: string, ...args: unknown[]) => [key, ...args].join('|');
const target = { address: 'https://vault.example.com:8200', mount: 'gcp', role: 'ci', nsNote: '' };
const jwtOf = (claims: Record<string, unknown>) => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const TOKEN = jwtOf({
  aud: 'http://vault/ci',
  email: 'azp@prj.iam.gserviceaccount.com',
  sub: '1234567890',
  exp: 1_900_000_000,
  google: { compute_engine: { project_id: 'prj', zone: 'europe-west1-b', instance_name: 'agent-1', instance_id: '42' } },
});

describe('gcp method', () => {
  it('asks the metadata server for the identity token with audience http://vault/<role> and format=full', () => {
    assert.equal(
      identityUrl('metadata.google.internal', 'azp@prj.iam.gserviceaccount.com', 'ci'),
      'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/azp%40prj.iam.gserviceaccount.com/identity?audience=http%3A%2F%2Fvault%2Fci&format=full',
    );
  });

  it('reads the non-secret claims, the Compute Engine ones included', () => {
    assert.deepEqual(readGceClaims(TOKEN), {
      email: 'azp@prj.iam.gserviceaccount.com',
      sub: '1234567890',
      aud: 'http://vault/ci',
      project: 'prj',
      zone: 'europe-west1-b',
      instance: 'agent-1',
      instanceId: '42',
      expires: new Date(1_900_000_000_000).toISOString(),
    });
    assert.deepEqual(readGceClaims('not a jwt'), {});
  });

  it('retries what may pass (no answer, 429, 5xx), not what will not (not on GCE, 404)', () => {
    assert.equal(isTransientMetadata(new GcpMetadataError('u', 'ECONNRESET', 0, '')), true);
    assert.equal(isTransientMetadata(new GcpMetadataError('u', '', 503, '')), true);
    assert.equal(isTransientMetadata(new GcpMetadataError('u', 'ENOTFOUND', 0, '')), false);
    assert.equal(isTransientMetadata(new GcpMetadataError('u', '', 404, '')), false);
    assert.equal(isTransientMetadata(new Error('x')), false);
  });

  describe('the request to the metadata server, over the one outside HTTP client', () => {
    let server: LoopbackServer | undefined;
    let answer: (res: http.ServerResponse) => void = () => undefined;
    let host = '';
    before(async () => {
      server = await serveHttp((res) => answer(res));
      host = new URL(server.origin).host;
    });
    after(() => server?.close());
    beforeEach(() => server && (server.seen.length = 0));
    const seen = () => server?.seen.map((r) => ({ path: r.path, flavor: r.headers['metadata-flavor'] }));

    const method = () => gcpMethod({ method: 'gcp', serviceAccount: 'default', metadataHost: host });
    const ctx = { timeoutSeconds: 5, attempts: 1 };
    const fetchFailure = async (timeoutSeconds = 2): Promise<GcpMetadataError> => {
      const err = await fetchIdentityToken(identityUrl(host, 'default', 'ci'), timeoutSeconds).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof GcpMetadataError, String(err));
      return err;
    };

    it('asks with Metadata-Flavor: Google and returns the token', async () => {
      answer = (res) => res.end(`${TOKEN}\n`);
      assert.equal(await fetchIdentityToken(identityUrl(host, 'default', 'ci'), 2), TOKEN);
      const path = '/computeMetadata/v1/instance/service-accounts/default/identity?audience=http%3A%2F%2Fvault%2Fci&format=full';
      assert.deepEqual(seen(), [{ path, flavor: 'Google' }]);
    });

    it('a redirect is not followed: refused as an answer of the metadata server, as before', async () => {
      answer = (res) => {
        res.writeHead(302, { location: `http://${host}/elsewhere` });
        res.end('moved');
      };
      const err = await fetchFailure();
      assert.deepEqual([err.code, err.status, err.detail], ['', 302, 'moved']);
      assert.equal(seen()?.length, 1, 'one request, not one to the Location');
      assert.equal(isTransientMetadata(err), false);
      assert.equal(method().explainProofFailure(err, ctx, loc), `GcpMetadataRefused|${host}|302|default|moved|`);
    });

    it('an answer larger than 64 KiB is not a token: the same refusal as before, not retried', async () => {
      answer = (res) => res.end(Buffer.alloc(64 * 1024 + 1, 'a'));
      const err = await fetchFailure();
      assert.deepEqual([err.code, err.status, err.detail], ['', 200, 'the answer is not a JWT']);
      assert.equal(isTransientMetadata(err), false);
      assert.equal(method().explainProofFailure(err, ctx, loc), `GcpMetadataRefused|${host}|200|default|the answer is not a JWT|`);
    });

    it('a garbled answer is not a token', async () => {
      answer = (res) => res.end('<html>captive portal</html>');
      const err = await fetchFailure();
      assert.deepEqual([err.status, err.detail], [200, 'the answer is not a JWT']);
    });

    it("no answer within the time: the attempt's deadline, explained as the metadata server's timeout, as before", async () => {
      answer = () => undefined;
      const err = await fetchIdentityToken(identityUrl(host, 'default', 'ci'), 0.3).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof DeadlineError, String(err));
      assert.equal(err.message, 'no answer within 0.3 s');
      assert.equal(method().explainProofFailure(err, ctx, loc), `GcpMetadataTimeout|${host}|5|1`);
    });
  });

  it('logs in with {role, jwt}, the token masked and its claims logged', async () => {
    const method = gcpMethod({ method: 'gcp', serviceAccount: 'default', metadataHost: 'metadata.google.internal' }, async (url) => {
      assert.match(url, /service-accounts\/default\/identity\?audience=http%3A%2F%2Fvault%2Fci&format=full$/);
      return TOKEN;
    });
    const proof = await method.prove({
      mount: 'gcp',
      role: 'ci',
      loc,
      log: () => undefined,
      mask: () => undefined,
      vault: { post: async () => ({}) },
      timeoutSeconds: 5,
    });
    assert.deepEqual(proof.body, { role: 'ci', jwt: TOKEN });
    assert.deepEqual(proof.secrets, [TOKEN]);
    assert.equal(
      proof.notes[0],
      `GcpTokenClaims|azp@prj.iam.gserviceaccount.com|1234567890|prj|europe-west1-b|agent-1|http://vault/ci|${new Date(1_900_000_000_000).toISOString()}`,
    );
  });

  it('explains a metadata server that cannot be reached, refuses, or does not answer in time', () => {
    const method = gcpMethod({ method: 'gcp', serviceAccount: 'x@y.iam.gserviceaccount.com', metadataHost: 'metadata.google.internal' });
    const ctx = { timeoutSeconds: 5, attempts: 3 };
    assert.equal(
      method.explainProofFailure(new GcpMetadataError('u', 'ENOTFOUND', 0, 'getaddrinfo'), ctx, loc),
      'GcpNotOnGce|metadata.google.internal|ENOTFOUND',
    );
    assert.equal(
      method.explainProofFailure(new GcpMetadataError('u', '', 404, 'not found'), ctx, loc),
      'GcpMetadataRefused|metadata.google.internal|404|x@y.iam.gserviceaccount.com|not found|GcpServiceAccountHint|x@y.iam.gserviceaccount.com',
    );
    assert.equal(method.explainProofFailure(new DeadlineError(5000), ctx, loc), 'GcpMetadataTimeout|metadata.google.internal|5|3');
    assert.equal(method.explainProofFailure(new Error('other'), ctx, loc), undefined);
  });

  describe("the gcp plugin's refusals (plugin/path_login.go, authorizer_gce.go), each with the fix", () => {
    const method = gcpMethod({ method: 'gcp', serviceAccount: 'default', metadataHost: 'metadata.google.internal' });
    const proof = { body: {}, secrets: [], notes: [], facts: { ...readGceClaims(TOKEN) } };
    const explain = (text: string) =>
      method.explainRefusal(new VaultHttpError(400, 'auth/gcp/login', [text], { errors: [text] }), proof, target, loc);
    const cases: Array<[string, string]> = [
      [
        'service account "1234567890" ("azp@prj.iam.gserviceaccount.com") is not in bound service accounts ["deployer@prj.iam.gserviceaccount.com" "other@prj.iam.gserviceaccount.com"]',
        'GcpNotBound|azp@prj.iam.gserviceaccount.com|1234567890|ci|gcp|deployer@prj.iam.gserviceaccount.com,other@prj.iam.gserviceaccount.com|gcp|ci|azp@prj.iam.gserviceaccount.com',
      ],
      [
        'service account azp@prj.iam.gserviceaccount.com (id: 1234567890) is not authorized for role',
        'GcpNotBound|azp@prj.iam.gserviceaccount.com|1234567890|ci|gcp|-|gcp|ci|azp@prj.iam.gserviceaccount.com',
      ],
      [
        'Got GCE token but IAM role "ci" does not allow GCE inference',
        'GcpRoleIsIam|ci|gcp|gcp|prj|azp@prj.iam.gserviceaccount.com|gcp|ci',
      ],
      ['instance "42" (project "prj") not in bound projects [other-prj]', 'GcpProjectNotBound|agent-1|prj|ci|gcp|other-prj|gcp|ci|prj'],
      [
        'instance not in bound zones ["us-central1-a"]',
        'GcpZoneNotBound|agent-1|europe-west1-b|ci|gcp|us-central1-a|gcp|ci|europe-west1-b',
      ],
      ['role "ci" not found', 'GcpRoleMissing|ci|gcp||gcp|gcp|ci|prj|azp@prj.iam.gserviceaccount.com'],
      [
        'instance not in bound regions ["us-central1" "us-east1"]',
        'GcpRegionNotBound|agent-1|europe-west1|europe-west1-b|ci|gcp|us-central1,us-east1|gcp|ci|europe-west1',
      ],
      [
        'instance missing bound label "team:platform"',
        'GcpLabelNotBound|agent-1|team|platform|ci|gcp|agent-1|europe-west1-b|team|platform|gcp|ci',
      ],
      [
        'role requires that service account JWTs expire within 900 seconds',
        'GcpIamRoleJwtExp|ci|gcp|900|gcp|ci|gcp|prj|azp@prj.iam.gserviceaccount.com',
      ],
      [
        "error when attempting to find instance (project prj, zone: europe-west1-b, instance: agent-1) :unable to find instance associated with token: googleapi: Error 403: Required 'compute.instances.get' permission for 'projects/prj/zones/europe-west1-b/instances/agent-1', forbidden",
        "GcpPluginCredential|gcp|agent-1|prj|googleapi: Error 403: Required 'compute.instances.get' permission for 'projects/prj/zones/europe-west1-b/instances/agent-1', forbidden|prj|gcp",
      ],
      [
        'error when attempting to find instance (project prj, zone: europe-west1-b, instance: agent-1) :unable to find instance associated with token: Get "https://compute.googleapis.com/compute/v1/projects/prj/zones/europe-west1-b/instances/agent-1?alt=json&prettyPrint=false": oauth2: "invalid_grant" "Invalid JWT Signature."',
        'GcpPluginCredential|gcp|agent-1|prj|Get "https://compute.googleapis.com/compute/v1/projects/prj/zones/europe-west1-b/instances/agent-1?alt=json&prettyPrint=false": oauth2: "invalid_grant" "Invalid JWT Signature."|prj|gcp',
      ],
    ];
    for (const [text, expected] of cases) it(text.slice(0, 70), () => assert.equal(explain(text), expected));
    it('leaves any other answer to the shared explanation', () =>
      assert.equal(explain("JWT is expired or does not have proper 'exp' claim"), undefined));
    it('leaves an instance that is gone (404) to the shared explanation', () =>
      assert.equal(
        explain(
          "error when attempting to find instance (project prj, zone: z, instance: i) :unable to find instance associated with token: googleapi: Error 404: The resource 'projects/prj/zones/z/instances/i' was not found, notFound",
        ),
        undefined,
      ));
  });
});
