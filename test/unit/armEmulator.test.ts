// The ARM emulator's HTTPS front (what `az login` asks of Azure Resource Manager): the
// subscriptions a service principal has a role on, and ARM's refusals in ARM's error shape.
import * as assert from 'node:assert/strict';
import { request } from 'node:https';
import { type ArmServer, startArmServer } from '../emulators/arm';
import { newSigningKey, signJwt, verifyJwt } from '../emulators/jwt';
import { type Ca, createCa } from '../emulators/pki';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OID = '0b7f6a1e-2d1c-4f7a-9a55-3f1f0c1d2e3f';

describe('ARM emulator over HTTPS (az login)', function () {
  this.timeout(20_000);
  const key = newSigningKey();
  let ca: Ca;
  let arm: ArmServer;
  before(async () => {
    ca = await createCa();
    arm = await startArmServer({
      tls: await ca.issue([], ['127.0.0.1']),
      port: 0,
      verifyToken: (token) => verifyJwt(token, { keys: [key.publicJwk] }),
      subscriptions: [
        { subscriptionId: 'b5e4c3d2-0000-4000-8000-000000000001', tenantId: TENANT, displayName: 'Platform', principals: [OID] },
      ],
    });
  });
  after(async () => {
    await arm?.close();
    await ca?.dispose();
  });

  const token = (claims: Record<string, unknown>) =>
    signJwt({ tid: TENANT, oid: OID, exp: Math.floor(Date.now() / 1000) + 600, ...claims }, key);

  function get(path: string, bearer?: string): Promise<{ status: number; body: { value?: unknown[]; error?: { code: string } } }> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, arm.url),
        { ca: ca.certPem, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('lists the subscriptions the caller has a role on, for a token for ARM', async () => {
    const got = await get('/subscriptions?api-version=2019-11-01', token({ aud: 'https://management.core.windows.net/' }));
    assert.equal(got.status, 200);
    assert.deepEqual(
      (got.body.value as Array<{ subscriptionId: string; state: string }>).map((s) => [s.subscriptionId, s.state]),
      [['b5e4c3d2-0000-4000-8000-000000000001', 'Enabled']],
    );
    const other = await get('/subscriptions?api-version=2019-11-01', token({ aud: 'https://management.azure.com/', oid: 'another' }));
    assert.deepEqual(other.body.value, []);
  });

  it('refuses a request without a token, with a bad token, or with a token for another audience, as ARM does', async () => {
    const anonymous = await get('/subscriptions?api-version=2019-11-01');
    assert.deepEqual([anonymous.status, anonymous.body.error?.code], [401, 'AuthenticationFailed']);
    assert.equal((await get('/subscriptions?api-version=2019-11-01', 'not.a.jwt')).body.error?.code, 'InvalidAuthenticationToken');
    const vault = await get('/subscriptions?api-version=2019-11-01', token({ aud: 'https://vault.example.com' }));
    assert.deepEqual([vault.status, vault.body.error?.code], [401, 'InvalidAuthenticationTokenAudience']);
    const noVersion = await get('/subscriptions', token({ aud: 'https://management.azure.com/' }));
    assert.deepEqual([noVersion.status, noVersion.body.error?.code], [400, 'MissingApiVersionParameter']);
  });
});
