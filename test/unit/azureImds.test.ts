// IMDS over the one outside HTTP client, against a loopback server in its place: what is asked,
// and how each bound and failure reads as before (a redirect or an oversized answer is refused, no
// answer once connected is the attempt's deadline, no connection means no IMDS).
import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import { ImdsError, imdsAt, isNoImds, isTransientImds } from '../../tasks/VaultAzureLoginV1/src/auth/azureImds';
import { DeadlineError } from '../../tasks/VaultAzureLoginV1/src/core/deadline';
import { LoopbackServer, serveHttp, silentTls } from '../helpers/loopback';

const TOKEN = 'eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJhcGk6Ly92YXVsdCJ9.c2ln';

describe('IMDS: the requests, over the one outside HTTP client', () => {
  let server: LoopbackServer | undefined;
  let answer: (res: http.ServerResponse) => void = () => undefined;
  let origin = '';
  before(async () => {
    server = await serveHttp((res) => answer(res));
    origin = server.origin;
  });
  after(() => server?.close());
  beforeEach(() => server && (server.seen.length = 0));
  const seen = () => server?.seen.map((r) => ({ path: r.path, metadata: r.headers.metadata }));

  const tokenFailure = async (timeoutSeconds = 2, at = origin): Promise<ImdsError> => {
    const err = await imdsAt(at)
      .token('api://vault', '', timeoutSeconds)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof ImdsError, String(err));
    return err;
  };

  it("asks for the managed identity's token with Metadata: true and reads access_token", async () => {
    answer = (res) => res.end(JSON.stringify({ access_token: TOKEN, token_type: 'Bearer' }));
    assert.equal(await imdsAt(origin).token('api://vault', '0f0e0d0c-0b0a-4909-8807-060504030201', 2), TOKEN);
    assert.deepEqual(seen(), [
      {
        path: '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api%3A%2F%2Fvault&client_id=0f0e0d0c-0b0a-4909-8807-060504030201',
        metadata: 'true',
      },
    ]);
  });

  it('a redirect is not followed: refused as an answer of IMDS, as before', async () => {
    answer = (res) => {
      res.writeHead(307, { location: `${origin}/elsewhere` });
      res.end();
    };
    const err = await tokenFailure();
    assert.deepEqual([err.what, err.code, err.status, err.detail], ['token', '', 307, '-']);
    assert.equal(seen()?.length, 1, 'one request, not one to the Location');
    assert.equal(isTransientImds(err), false);
  });

  it('an answer larger than 64 KiB, or garbled, is not a JSON object: refused as before, not retried', async () => {
    for (const body of [`{"access_token":"${'a'.repeat(64 * 1024)}"}`, '<html>proxy login</html>']) {
      answer = (res) => res.end(body);
      const err = await tokenFailure();
      assert.deepEqual([err.code, err.status, err.detail], ['', 200, 'the answer is not a JSON object']);
      assert.equal(isTransientImds(err), false);
    }
  });

  it("IMDS's own refusal names its error and description", async () => {
    answer = (res) => {
      res.writeHead(400);
      res.end(JSON.stringify({ error: 'invalid_request', error_description: 'Identity not found' }));
    };
    const err = await tokenFailure();
    assert.deepEqual([err.status, err.detail], [400, 'invalid_request: Identity not found']);
  });

  it("no answer within the time once connected: the attempt's deadline, as before; no connection, refused or not made in time: no IMDS", async () => {
    answer = () => undefined;
    const late = await imdsAt(origin)
      .token('api://vault', '', 0.3)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(late instanceof DeadlineError, String(late));
    assert.equal(late.message, 'no answer within 0.3 s');
    const refused = await tokenFailure(2, 'http://127.0.0.1:1');
    assert.equal(refused.code, 'ECONNREFUSED');
    assert.deepEqual([isTransientImds(refused), isNoImds(refused)], [false, true]);
    // A connection never made within the time: a TLS handshake that never ends stands in for it
    // (a plain http one on loopback is made at once).
    const silent = await silentTls();
    try {
      const none = await tokenFailure(0.3, silent.origin);
      assert.equal(none.code, 'ETIMEDOUT');
      assert.deepEqual([isTransientImds(none), isNoImds(none)], [false, true]);
    } finally {
      await silent.close();
    }
  });

  it("reads the VM's values from the instance metadata", async () => {
    const compute = { subscriptionId: 's', resourceGroupName: 'rg', name: 'vm', vmScaleSetName: '', location: 'westeurope' };
    answer = (res) => res.end(JSON.stringify({ compute }));
    assert.deepEqual(await imdsAt(origin).instance(2), compute);
    assert.deepEqual(seen(), [{ path: '/metadata/instance?api-version=2021-05-01', metadata: 'true' }]);
  });
});
