// The cert method: the login body names the certificate role when one is given; the certificate's
// public facts go to the log and the explanations; OpenBao's refusals (test/server/cert.test.ts
// gets them from the real server) are worded with the cause and the fix.
import * as assert from 'node:assert/strict';
import { certFacts, certMethod } from '../../tasks/VaultAzureLoginV1/src/auth/cert';
import type { ProveContext } from '../../tasks/VaultAzureLoginV1/src/auth/method';
import { VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { loc } from '../helpers/messages';

/** CN=ci-agent.example.com, O=Contoso, issued by CN=Unit Test CA, DNS and e-mail SANs, valid until 2126-11-05T14:13:29Z. */
const CERT = `-----BEGIN CERTIFICATE-----
MIIB1zCCAXygAwIBAgIUAiBg98H5TqgHiKeQdhFb9SsBnAQwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMVW5pdCBUZXN0IENBMCAXDTI2MTEyOTE0MTMyOVoYDzIxMjYx
MTA1MTQxMzI5WjAxMRAwDgYDVQQKDAdDb250b3NvMR0wGwYDVQQDDBRjaS1hZ2Vu
dC5leGFtcGxlLmNvbTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABA7nLdVfBxt4
7j32Ziy2fKVVa1i2HdjEMlLL1+teQQyhlJbfbx92jG6GWgdGlFPK0w0wrWorCuyU
6QpFKqyb+iOjgYkwgYYwLwYDVR0RBCgwJoIUY2ktYWdlbnQuZXhhbXBsZS5jb22B
DmNpQGV4YW1wbGUuY29tMBMGA1UdJQQMMAoGCCsGAQUFBwMCMB0GA1UdDgQWBBTw
SC8e1eHY0RmZ1yxC+F/o6NL7XzAfBgNVHSMEGDAWgBRyH0t7WuKcUNHJXc96+LrN
KdZeQjAKBggqhkjOPQQDAgNJADBGAiEA/rmht9BuuaXhVe8Ioc/pDgVYsm07pXa+
pOqMU9oe5fUCIQD8oF4w3m6kqLBj6JLShYAHva3/tFjx+Zum2saQEuFDHw==
-----END CERTIFICATE-----
`;
const SOURCE = "Vault service connection 'vault-prod'";
const target = { address: 'https://vault.example.com:8200', mount: 'cert', role: 'ci-agents', nsNote: '' };
const refused = (error: string) => new VaultHttpError(400, 'auth/cert/login', [error], { errors: [error] });
const ctx = (role: string): ProveContext => ({
  mount: 'cert',
  role,
  loc,
  log: () => undefined,
  mask: () => undefined,
  timeoutSeconds: 30,
  vault: { post: () => Promise.reject(new Error('no request before a cert login')) },
});

describe('cert: the certificate is the proof', () => {
  const method = certMethod({ method: 'cert', certificate: CERT, source: SOURCE });

  it("reads the certificate's public facts; expired only past its end date", () => {
    assert.deepEqual(certFacts(CERT, Date.parse('2030-01-01T00:00:00Z')), {
      subject: 'O=Contoso, CN=ci-agent.example.com',
      issuer: 'CN=Unit Test CA',
      commonName: 'ci-agent.example.com',
      altNames: 'DNS:ci-agent.example.com, email:ci@example.com',
      notAfter: '2126-11-05T14:13:29.000Z',
      expired: false,
    });
    assert.equal(certFacts(CERT, Date.parse('2127-01-01T00:00:00Z'))?.expired, true);
    assert.equal(certFacts('not a certificate'), undefined);
  });

  it('names the role as `name` when one is given, else sends an empty body; no secret, no request', async () => {
    assert.deepEqual((await method.prove(ctx('ci-agents'))).body, { name: 'ci-agents' });
    const anyRole = await method.prove(ctx(''));
    assert.deepEqual(anyRole.body, {});
    assert.deepEqual(anyRole.secrets, []);
    assert.equal(method.explainProofFailure(new Error('x'), { timeoutSeconds: 30, attempts: 1 }, loc), undefined);
  });

  it('describes the certificate and where it came from', () => {
    assert.equal(
      method.describe(loc),
      "Logging in with the TLS client certificate from Vault service connection 'vault-prod': subject O=Contoso, CN=ci-agent.example.com, issuer CN=Unit Test CA, valid until 2126-11-05T14:13:29.000Z.",
    );
  });
});

describe('cert: refusals of the login, in words', () => {
  const method = certMethod({ method: 'cert', certificate: CERT, source: SOURCE });
  const explain = async (error: string, role = 'ci-agents', expired = false) => {
    const proof = await method.prove(ctx(role));
    if (expired) proof.facts.expired = 'yes';
    return method.explainRefusal(refused(error), proof, { ...target, role }, loc);
  };

  it('no certificate received: the listener or a TLS-terminating proxy', async () => {
    assert.match(
      (await explain('no client certificate found'))!,
      /^Vault's cert auth mount auth\/cert got no client certificate \(400 no client certificate found\), although the step presented the one from Vault service connection 'vault-prod' to https:\/\/vault\.example\.com:8200\. /,
    );
  });

  it('a certificate no role trusts, with the role named and without', async () => {
    const error = 'invalid certificate or no client certificate supplied';
    assert.match(
      (await explain(error))!,
      /^The certificate role 'ci-agents' of auth\/cert does not exist or does not trust the client certificate \(400 invalid certificate or no client certificate supplied\): subject O=Contoso, CN=ci-agent\.example\.com, issued by CN=Unit Test CA\. .*vault write auth\/cert\/certs\/ci-agents certificate=@issuing-ca\.pem/,
    );
    assert.match(
      (await explain(error, ''))!,
      /^No certificate role of auth\/cert trusts the client certificate .*vault write auth\/cert\/certs\/<role> certificate=@issuing-ca\.pem token_policies=<policy>$/,
    );
  });

  it("a name the role's constraints do not allow, with the names the certificate has", async () => {
    assert.match(
      (await explain('no chain matching all constraints could be found for this login certificate'))!,
      /^The client certificate \(subject O=Contoso, CN=ci-agent\.example\.com; names: CN ci-agent\.example\.com; DNS:ci-agent\.example\.com, email:ci@example\.com\) .*vault write auth\/cert\/certs\/ci-agents allowed_common_names=ci-agent\.example\.com$/,
    );
  });

  it('an expired certificate, whatever the refusal', async () => {
    for (const error of [
      'invalid certificate or no client certificate supplied',
      'no chain matching all constraints could be found for this login certificate',
    ]) {
      assert.match(
        (await explain(error, 'ci-agents', true))!,
        /^The client certificate \(subject O=Contoso, CN=ci-agent\.example\.com\) expired on 2126-11-05T14:13:29\.000Z, and auth\/cert refused it/,
      );
    }
  });

  it('leaves other refusals to the shared explanation', async () => {
    assert.equal(await explain('permission denied'), undefined);
  });
});
