// TLS and the agent's proxy, end to end: the bundled task against Vaults with a private CA, with
// mutual TLS and over plain http, and through a forward proxy, as the agent configures them
// (task inputs, Agent.CAInfo / Agent.ClientCert, Agent.ProxyUrl / ProxyUsername / ProxyPassword /
// ProxyBypassList).
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoopback } from '../../tasks/VaultAzureLoginV1/src/core/address';
import { VAULT_HOST, VAULT_IP } from '../emulators/hosts';
import { Ca, ClientCert, createCa, selfSignedClientCert } from '../emulators/pki';
import { ForwardProxy, ProxyOptions } from '../emulators/proxy';
import { AUTH_MOUNT, ROLE, SECRETS } from '../emulators/seed';
import { RunOptions, startWorld, startOtherVault, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import type { VaultFront } from '../server/vaultFront';
import { Checked, checkRun } from '../helpers/checkRun';

/** Vaults of this file, beside the world's own at https://vault.example.com:8200. */
const PRIVATE_CA_VAULT = `https://${VAULT_HOST}:8210`;
const MUTUAL_TLS_VAULT = `https://${VAULT_HOST}:8211`;
const PLAIN_PORT = 8212;
const H2_ADVERTISED_VAULT = `https://${VAULT_HOST}:8214`;
const FOUR_STREAMS_VAULT = `https://${VAULT_HOST}:8215`;
const PROXY_IP = '127.0.0.5';
const PROXY_USER = 'build-agent';
// Characters that must be URL-encoded in a proxy URL and decoded again for the header.
const PROXY_PASSWORD = 'pr0xy p@ss:5b1f/9e7c';

describe('e2e: TLS settings and the agent proxy', function () {
  this.timeout(120_000);
  let world: World;
  let otherCa: Ca;
  let clientCert: ClientCert;
  let privateCaVault: VaultFront;
  let mutualTlsVault: VaultFront;
  let plainVault: VaultFront;
  let h2AdvertisedVault: VaultFront;
  let fourStreamsVault: VaultFront;
  let dir: string;
  const file = (name: string) => join(dir, name);

  before(async () => {
    world = await startWorld();
    dir = mkdtempSync(join(tmpdir(), 'val-network-'));
    otherCa = await createCa('Private Vault CA');
    clientCert = await selfSignedClientCert('pipeline-agent');
    const leaf = await otherCa.issue([VAULT_HOST]);
    const fromWorldCa = await world.ca.issue([VAULT_HOST]);
    const port = (address: string) => Number(new URL(address).port);
    // Behind a load balancer that speaks HTTP/1.1 only, as some are.
    privateCaVault = await startOtherVault(world, port(PRIVATE_CA_VAULT), {
      tls: { cert: leaf.certPem, key: leaf.keyPem },
      http1Only: true,
    });
    // A self-signed client certificate is its own issuer: the listener trusts exactly it.
    mutualTlsVault = await startOtherVault(world, port(MUTUAL_TLS_VAULT), {
      tls: { cert: fromWorldCa.certPem, key: fromWorldCa.keyPem, ca: clientCert.certPem, requestClientCert: true },
    });
    plainVault = await startOtherVault(world, PLAIN_PORT, {});
    const frontEnd = await world.ca.issue([VAULT_HOST]);
    h2AdvertisedVault = await startOtherVault(world, port(H2_ADVERTISED_VAULT), {
      tls: { cert: frontEnd.certPem, key: frontEnd.keyPem },
      h2Advertised: true,
    });
    fourStreamsVault = await startOtherVault(world, port(FOUR_STREAMS_VAULT), {
      tls: { cert: frontEnd.certPem, key: frontEnd.keyPem },
      maxConcurrentStreams: 4,
      latencyMs: 30,
    });
    for (let i = 0; i < 12; i++) await fourStreamsVault.putSecret(`secret/ci/streams/p${i}`, { value: `stream-value-${i}` });
    writeFileSync(file('client.crt'), clientCert.certPem);
    writeFileSync(file('client.key'), clientCert.keyPem);
    writeFileSync(file('other.key'), otherCa.keyPem);
    writeFileSync(file('not-a-cert.pem'), 'just some text\n');
    writeFileSync(file('agent-ca-bundle.pem'), world.ca.certPem + otherCa.certPem);
  });
  after(async () => {
    await Promise.all([
      privateCaVault?.stop(),
      mutualTlsVault?.stop(),
      plainVault?.stop(),
      h2AdvertisedVault?.stop(),
      fourStreamsVault?.stop(),
    ]);
    await otherCa?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await world?.stop();
  });

  // No retries: each retry waits a second or more, and none of these tests is about them.
  const base = { authMount: AUTH_MOUNT, role: ROLE, retries: '0', secrets: 'secret/ci/production/db password | DB_PASSWORD' };

  /** The lines of a PEM or other value long enough to be told apart (PEM armour lines are the same in every file). */
  const distinctLines = (value: string) =>
    value
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length >= 8 && !l.startsWith('-----'));

  /**
   * Result, no leak, no stack trace, nothing on stderr. The client key and the proxy password reach
   * the task from secret variables, which the agent masks in every line it shows; task-lib (and
   * arm-rest) echo variables and inputs in `##vso[task.debug]` lines, so those may hold them and no
   * other line may. Forms the agent would not mask (URL-encoded, the Basic header) may appear nowhere.
   */
  function check(run: TaskRun, ok: boolean): Checked {
    return checkRun(world, run, ok, {
      // A key and its certificate share the RSA modulus: now and then a whole base64 line of the
      // key is also a line of the certificate, which is public (the saved settings hold it).
      agentMasked: [clientCert.keyPem, PROXY_PASSWORD].flatMap(distinctLines).filter((l) => !clientCert.certPem.includes(l)),
      extraSecrets: [
        { what: 'the proxy password, URL-encoded', value: encodeURIComponent(PROXY_PASSWORD) },
        { what: 'the proxy Basic credentials', value: Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64') },
      ],
    });
  }

  /** Requests every emulator has seen, to prove an input error stops the task before the network. */
  const requestCounts = () => [
    world.azdo.requests.length,
    world.entra.requests.length,
    world.vault.requests.length,
    privateCaVault.requests.length,
    mutualTlsVault.requests.length,
  ];

  /** The HTTP versions of the requests a Vault received since `before`. */
  const versions = (vault: VaultFront, before: number) => [...new Set(vault.requests.slice(before).map((r) => r.httpVersion))];

  function succeeds(run: TaskRun, vault: VaultFront, vaultRequestsBefore: number): Checked {
    const checked = check(run, true);
    assert.equal(checked.vars.get('DB_PASSWORD'), SECRETS.dbPassword);
    assert.ok(vault.requests.length > vaultRequestsBefore, 'the run read from the Vault under test');
    return checked;
  }

  describe('HTTP/2, and HTTP/1.1 where the server offers only that', () => {
    it('reads every path over one HTTP/2 connection, the Vault listener offering h2', async () => {
      const before = world.vault.requests.length;
      const connectionsBefore = world.vault.connections;
      const secrets = [
        'secret/ci/production/db password | DB_PASSWORD',
        'secret/ci/production/api * | API_',
        'kv1/app/legacy * | LEGACY_',
      ].join('\n');
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: { ...base, vaultAddress: VAULT_ADDRESS, secrets, concurrency: '8' },
      });
      succeeds(run, world.vault, before);
      assert.ok(world.vault.requests.length - before >= 6, 'login, mount lookups and reads');
      assert.deepEqual(versions(world.vault, before), ['2.0']);
      assert.equal(world.vault.connections - connectionsBefore, 1, 'one connection for the whole run');
    });

    it('connects to Vault once the first request starts, while the step waits for Azure DevOps and Entra', async () => {
      const azdoBefore = world.azdo.requests.length;
      const entraBefore = world.entra.requests.length;
      const connectionsBefore = world.vault.connectedAt.length;
      world.setLatency(300);
      let run: TaskRun;
      try {
        run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, vaultAddress: VAULT_ADDRESS } });
      } finally {
        world.setLatency(0);
      }
      succeeds(run, world.vault, 0);
      const [connected] = world.vault.connectedAt.slice(connectionsBefore);
      // The step's first request: the assertion at Azure DevOps (the start-up entry opened the
      // connections, Entra's included, so no discovery request opens it); the token request follows.
      const [oidcToken] = world.azdo.requests.slice(azdoBefore);
      const [entraToken] = world.entra.requests.slice(entraBefore);
      assert.equal(entraToken.method, 'POST');
      assert.ok(
        connected < oidcToken.at + 300_000_000n && connected < entraToken.at,
        'the Vault connection opens before the first answer (300 ms after its request)',
      );
      assert.equal(world.vault.connectedAt.length - connectionsBefore, 1);
    });

    it('falls back to HTTP/1.1 kept-alive connections when the listener offers only that', async () => {
      const before = privateCaVault.requests.length;
      const connectionsBefore = privateCaVault.connections;
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: { ...base, vaultAddress: PRIVATE_CA_VAULT, caCertificate: otherCa.certPem, concurrency: '2' },
      });
      succeeds(run, privateCaVault, before);
      assert.deepEqual(versions(privateCaVault, before), ['1.1']);
      assert.match(run.stdout, /^Logged in to Vault: .*, over HTTP\/1\.1\.$/m, 'the log says which protocol');
      // One connection asked which protocol; then at most `concurrency` kept-alive ones.
      assert.ok(privateCaVault.connections - connectionsBefore <= 3, `${privateCaVault.connections - connectionsBefore} connections`);
    });

    it('keeps within the streams a server allows at once, fewer than concurrency, with nothing refused', async () => {
      const before = fourStreamsVault.requests.length;
      const secrets = Array.from({ length: 12 }, (_, i) => `secret/ci/streams/p${i} value | STREAM_${i}`).join('\n');
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: { ...base, vaultAddress: FOUR_STREAMS_VAULT, secrets, concurrency: '16' },
      });
      const { vars } = check(run, true);
      assert.equal(vars.size, 12);
      assert.equal(vars.get('STREAM_11'), 'stream-value-11');
      assert.doesNotMatch(run.stdout, /retrying/i, 'no refused stream, so no retry');
      const token = fourStreamsVault.requests.slice(before).find((r) => r.path.startsWith('secret/'))?.token ?? '';
      assert.equal(fourStreamsVault.maxInFlightByToken.get(token), 4, 'four at a time: what the server allows');
    });

    it('turns to HTTP/1.1, without a retry, when a server offers h2 but answers in HTTP/1.1', async () => {
      const before = h2AdvertisedVault.requests.length;
      const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, vaultAddress: H2_ADVERTISED_VAULT } });
      const { warnings } = succeeds(run, h2AdvertisedVault, before);
      assert.deepEqual(warnings, []);
      assert.deepEqual(versions(h2AdvertisedVault, before), ['1.1']);
      assert.equal(h2AdvertisedVault.requests.slice(before).filter((r) => r.path.endsWith('/login')).length, 1, 'one login');
      assert.match(run.stdout, /^Logged in to Vault: .*, over HTTP\/1\.1\.$/m);
      assert.doesNotMatch(run.stdout, /retrying/i);
    });
  });

  describe("Vault's certificate from a private CA", () => {
    const trusted: Array<[string, () => Pick<RunOptions, 'inputs' | 'variables'>]> = [
      ["input 'caCertificate' as PEM text", () => ({ inputs: { caCertificate: otherCa.certPem } })],
      ["input 'caCertificate' as a file path", () => ({ inputs: { caCertificate: otherCa.certPath } })],
      // Agent.CAInfo is the agent's CA bundle: the OIDC request to Azure DevOps trusts only it, so it holds that CA too.
      ['the agent setting Agent.CAInfo', () => ({ inputs: {}, variables: { 'Agent.CAInfo': file('agent-ca-bundle.pem') } })],
    ];
    for (const [title, options] of trusted) {
      it(`is trusted through ${title}`, async () => {
        const before = privateCaVault.requests.length;
        const { inputs, variables } = options();
        const run = await world.runTask({
          connection: world.ids.wif,
          variables,
          inputs: { ...base, vaultAddress: PRIVATE_CA_VAULT, ...inputs },
        });
        const { warnings } = succeeds(run, privateCaVault, before);
        assert.deepEqual(warnings, [], 'no warning');
        assert.deepEqual(versions(privateCaVault, before), ['1.1'], 'HTTP/1.1, the only protocol this listener offers');
      });
    }

    it('is refused without its CA, and the Entra token never reaches it', async () => {
      const before = privateCaVault.requests.length;
      const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, vaultAddress: PRIVATE_CA_VAULT } });
      const { errors, vars } = check(run, false);
      assert.match(
        errors,
        /The TLS certificate of https:\/\/vault\.example\.com:8210 is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
      );
      assert.equal(vars.size, 0);
      assert.equal(privateCaVault.requests.length, before, 'no request reached the untrusted server');
    });

    it('is used with tlsSkipVerify, which warns that verification is off', async () => {
      const before = privateCaVault.requests.length;
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: { ...base, vaultAddress: PRIVATE_CA_VAULT, tlsSkipVerify: 'true' },
      });
      const { warnings } = succeeds(run, privateCaVault, before);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0], /TLS verification is OFF for https:\/\/vault\.example\.com:8210 \('tlsSkipVerify'\)/);
    });
  });

  describe('mutual TLS', () => {
    const accepted: Array<[string, () => Pick<RunOptions, 'inputs' | 'variables'>]> = [
      [
        "inputs 'clientCertificate' and 'clientKey' as PEM text",
        () => ({ inputs: { clientCertificate: clientCert.certPem, clientKey: clientCert.keyPem } }),
      ],
      [
        "inputs 'clientCertificate' and 'clientKey' as file paths",
        () => ({ inputs: { clientCertificate: file('client.crt'), clientKey: file('client.key') } }),
      ],
      [
        'the agent settings Agent.ClientCert and Agent.ClientCertKey',
        () => ({ inputs: {}, variables: { 'Agent.ClientCert': file('client.crt'), 'Agent.ClientCertKey': file('client.key') } }),
      ],
    ];
    for (const [title, options] of accepted) {
      it(`presents the client certificate from ${title}`, async () => {
        const before = mutualTlsVault.requests.length;
        const { inputs, variables } = options();
        const run = await world.runTask({
          connection: world.ids.wif,
          variables,
          inputs: { ...base, vaultAddress: MUTUAL_TLS_VAULT, ...inputs },
        });
        const { warnings } = succeeds(run, mutualTlsVault, before);
        assert.deepEqual(warnings, []);
      });
    }

    const refused: Array<[string, () => Record<string, string>, RegExp]> = [
      [
        'without a client certificate',
        () => ({}),
        /^Vault at https:\/\/vault\.example\.com:8211 requires a client certificate \(mutual TLS\) and none was sent\. Set the inputs 'clientCertificate' and 'clientKey'/,
      ],
      [
        // Under TLS 1.3 the server's alert arrives after the client sent the login, and the reset
        // of the unread request usually overtakes it.
        'with a client certificate it does not trust',
        () => ({ clientCertificate: world.clientCert.certPem, clientKey: world.clientCert.keyPem }),
        /^(Vault at https:\/\/vault\.example\.com:8211 closed the connection without answering the login \(.+\)\. A Vault that requires mutual TLS does this when it does not trust the client certificate|Vault at https:\/\/vault\.example\.com:8211 refused the client certificate \(TLS alert: .+\))/,
      ],
    ];
    for (const [title, inputs, pattern] of refused) {
      it(`fails the handshake ${title}, naming the cause`, async () => {
        const before = mutualTlsVault.requests.length;
        const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, vaultAddress: MUTUAL_TLS_VAULT, ...inputs() } });
        const { errors, vars } = check(run, false);
        assert.match(errors, pattern);
        assert.equal(vars.size, 0);
        assert.equal(mutualTlsVault.requests.length, before);
      });
    }
  });

  describe('certificate inputs that cannot be used stop the task before any request', () => {
    const bad: Array<[string, () => Pick<RunOptions, 'inputs' | 'variables'>, RegExp]> = [
      [
        "'caCertificate' naming a file that does not exist",
        () => ({ inputs: { caCertificate: file('missing-ca.pem') } }),
        /Input 'caCertificate' is neither PEM text \(starting with -----BEGIN\) nor the path of an existing file: no file at '.*missing-ca\.pem'/,
      ],
      [
        "'caCertificate' as text that is not PEM",
        () => ({ inputs: { caCertificate: 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA' } }),
        /Input 'caCertificate' is neither PEM text/,
      ],
      [
        "'caCertificate' as broken PEM",
        () => ({ inputs: { caCertificate: '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----' } }),
        /Input 'caCertificate' does not hold a PEM certificate/,
      ],
      [
        "'caCertificate' naming a file that is not PEM",
        () => ({ inputs: { caCertificate: file('not-a-cert.pem') } }),
        /Input 'caCertificate' does not hold a PEM certificate/,
      ],
      [
        "'caCertificate' holding a private key",
        () => ({ inputs: { caCertificate: otherCa.keyPem } }),
        /Input 'caCertificate' does not hold a PEM certificate/,
      ],
      [
        "'clientCertificate' without 'clientKey'",
        () => ({ inputs: { clientCertificate: clientCert.certPem } }),
        /Inputs 'clientCertificate' and 'clientKey' go together: set both for mutual TLS, or neither/,
      ],
      [
        "'clientKey' without 'clientCertificate'",
        () => ({ inputs: { clientKey: file('client.key') } }),
        /Inputs 'clientCertificate' and 'clientKey' go together/,
      ],
      [
        "'clientKey' holding a certificate",
        () => ({ inputs: { clientCertificate: clientCert.certPem, clientKey: clientCert.certPem } }),
        /Input 'clientKey' does not hold a PEM private key/,
      ],
      [
        "'clientKey' of another certificate",
        () => ({ inputs: { clientCertificate: clientCert.certPem, clientKey: otherCa.keyPem } }),
        /'clientCertificate' and 'clientKey' do not belong together: the key is not the certificate's private key/,
      ],
      [
        'Agent.ClientCert with an Agent.ClientCertKey of another certificate',
        () => ({ inputs: {}, variables: { 'Agent.ClientCert': file('client.crt'), 'Agent.ClientCertKey': file('other.key') } }),
        /'Agent\.ClientCert' and 'Agent\.ClientCertKey' do not belong together/,
      ],
    ];
    for (const [title, options, pattern] of bad) {
      it(title, async () => {
        const before = requestCounts();
        const { inputs, variables } = options();
        const run = await world.runTask({
          connection: world.ids.wif,
          variables,
          inputs: { ...base, vaultAddress: MUTUAL_TLS_VAULT, ...inputs },
        });
        const { errors, vars } = check(run, false);
        assert.match(errors, pattern);
        assert.equal(vars.size, 0);
        assert.deepEqual(requestCounts(), before, 'no request to Azure DevOps, Entra or any Vault');
      });
    }
  });

  describe("the agent's proxy", () => {
    let proxy: ForwardProxy | undefined;
    afterEach(async () => {
      await proxy?.stop();
      proxy = undefined;
    });

    async function startProxy(options?: ProxyOptions): Promise<{ proxy: ForwardProxy; url: string }> {
      proxy = new ForwardProxy(options);
      return { proxy, url: await proxy.start(0, PROXY_IP) };
    }

    // The agent hands its proxy password to tasks as a secret variable (env SECRET_<NAME>).
    // The agent passes the proxy password as a secret variable, the user name as a plain one.
    const credentials = (password: string) => ({
      variables: { 'Agent.ProxyUsername': PROXY_USER },
      secretVariables: { 'Agent.ProxyPassword': password },
    });
    const only = (targets: string[]) => `tunnels: ${targets.join(', ')}`;

    it('carries the Vault calls, the Entra token request (MSAL) and the OIDC request of workload identity federation', async () => {
      const { proxy, url } = await startProxy();
      const before = world.vault.requests.length;
      const run = await world.runTask({
        connection: world.ids.wif,
        variables: { 'Agent.ProxyUrl': url },
        inputs: { ...base, vaultAddress: VAULT_ADDRESS },
      });
      succeeds(run, world.vault, before);
      const targets = proxy.tunnelTargets();
      assert.ok(targets.includes(`${VAULT_HOST}:8200`), only(targets));
      assert.ok(targets.includes('login.microsoftonline.com:443'), `MSAL's token request went through the proxy: ${only(targets)}`);
      // azure-devops-node-api takes the proxy task-lib exposes, as the agent's own calls to Azure DevOps do.
      assert.ok(targets.includes('dev.azure.com:443'), only(targets));
      assert.deepEqual(new Set(targets), new Set([`${VAULT_HOST}:8200`, 'login.microsoftonline.com:443', 'dev.azure.com:443']));
      assert.deepEqual(versions(world.vault, before), ['1.1'], 'HTTP/1.1 through the tunnel');
    });

    it('authenticates to the proxy with the agent proxy credentials, and never shows the password', async () => {
      const { proxy, url } = await startProxy({ auth: { username: PROXY_USER, password: PROXY_PASSWORD } });
      const before = world.vault.requests.length;
      const run = await world.runTask({
        connection: world.ids.wif,
        // Debug mode, where task-lib and arm-rest print the most about the proxy.
        variables: { 'Agent.ProxyUrl': url, ...credentials(PROXY_PASSWORD).variables, 'System.Debug': 'true' },
        secretVariables: credentials(PROXY_PASSWORD).secretVariables,
        inputs: { ...base, vaultAddress: VAULT_ADDRESS },
      });
      succeeds(run, world.vault, before);
      assert.ok(proxy.log.length > 0 && proxy.log.every((r) => r.user === PROXY_USER && r.authorized), JSON.stringify(proxy.log));
      const targets = proxy.tunnelTargets();
      assert.ok(targets.includes(`${VAULT_HOST}:8200`) && targets.includes('login.microsoftonline.com:443'), only(targets));
    });

    it('is bypassed for Vault when Agent.ProxyBypassList matches its address, and still used for Entra', async () => {
      const { proxy, url } = await startProxy();
      const before = world.vault.requests.length;
      const run = await world.runTask({
        connection: world.ids.wif,
        variables: { 'Agent.ProxyUrl': url, 'Agent.ProxyBypassList': JSON.stringify(['vault\\.example\\.com']) },
        inputs: { ...base, vaultAddress: VAULT_ADDRESS },
      });
      succeeds(run, world.vault, before);
      const targets = proxy.tunnelTargets();
      assert.ok(!targets.some((t) => t.startsWith(VAULT_HOST)), `Vault went direct: ${only(targets)}`);
      assert.deepEqual(versions(world.vault, before), ['2.0'], 'direct, so HTTP/2');
      assert.ok(targets.includes('login.microsoftonline.com:443'), only(targets));
    });

    it('forwards requests to a plain-http Vault as absolute URIs', async () => {
      const { proxy, url } = await startProxy();
      const before = plainVault.requests.length;
      const address = `http://${VAULT_HOST}:${PLAIN_PORT}`;
      const run = await world.runTask({
        connection: world.ids.wif,
        variables: { 'Agent.ProxyUrl': url },
        inputs: { ...base, vaultAddress: address },
      });
      succeeds(run, plainVault, before);
      const forwarded = proxy.log.filter((r) => r.method !== 'CONNECT').map((r) => `${r.method} ${r.target}`);
      assert.ok(forwarded.includes(`POST ${address}/v1/auth/ado/login`), forwarded.join('\n'));
      assert.ok(forwarded.includes(`GET ${address}/v1/secret/data/ci/production/db`), forwarded.join('\n'));
    });

    it('refusing the credentials (407) fails the run with a message naming the proxy', async () => {
      const { proxy, url } = await startProxy({ auth: { username: PROXY_USER, password: PROXY_PASSWORD } });
      const before = world.vault.requests.length;
      const run = await world.runTask({
        connection: world.ids.wif,
        // Entra and Azure DevOps bypass the proxy, so that Vault is the one to meet the 407.
        variables: {
          'Agent.ProxyUrl': url,
          ...credentials('not-the-password').variables,
          'Agent.ProxyBypassList': JSON.stringify(['login\\.microsoftonline\\.com', 'dev\\.azure\\.com']),
        },
        secretVariables: credentials('not-the-password').secretVariables,
        inputs: { ...base, vaultAddress: VAULT_ADDRESS },
      });
      const { errors, vars } = check(run, false);
      assert.match(
        errors,
        /^The agent's proxy refused the request to https:\/\/vault\.example\.com:8200 \(HTTP 407 Proxy Authentication Required\)\. Check the proxy user name and password/,
      );
      assert.equal(vars.size, 0);
      assert.deepEqual(proxy.log, [{ method: 'CONNECT', target: `${VAULT_HOST}:8200`, user: PROXY_USER, authorized: false }]);
      assert.equal(world.vault.requests.length, before, 'nothing reached Vault');
    });
  });

  describe('plain http', () => {
    it('warns when a Vault address that is not loopback uses http://', async () => {
      const before = plainVault.requests.length;
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: { ...base, vaultAddress: `http://${VAULT_HOST}:${PLAIN_PORT}` },
      });
      const { warnings } = succeeds(run, plainVault, before);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(
        warnings[0],
        /http:\/\/vault\.example\.com:8212 uses plain http:\/\/: the Entra token, the Vault token and the secrets cross the network unencrypted/,
      );
    });

    it('opens the connections the reads will use at once while the token is on its way, and no more', async () => {
      const connectionsBefore = plainVault.connectedAt.length;
      const entraBefore = world.entra.requests.length;
      const secrets = [
        'secret/ci/production/db password | DB_PASSWORD',
        'secret/ci/production/api token | API_TOKEN',
        'kv1/app/legacy token | LEGACY',
      ].join('\n');
      world.setLatency(200);
      let run: TaskRun;
      try {
        run = await world.runTask({
          connection: world.ids.wif,
          inputs: { ...base, vaultAddress: `http://${VAULT_IP}:${PLAIN_PORT}`, secrets, concurrency: '8' },
        });
      } finally {
        world.setLatency(0);
      }
      succeeds(run, plainVault, 0);
      const entraToken = world.entra.requests.slice(entraBefore).find((r) => r.method === 'POST')!;
      const opened = plainVault.connectedAt.slice(connectionsBefore);
      assert.equal(
        opened.filter((at) => at < entraToken.at).length,
        3,
        'one per path read at once, opened before the Entra token was asked for',
      );
      assert.equal(opened.length, 3, 'and none later');
    });

    it('does not warn for a loopback address', async () => {
      const before = plainVault.requests.length;
      const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, vaultAddress: `http://${VAULT_IP}:${PLAIN_PORT}` } });
      const { warnings } = succeeds(run, plainVault, before);
      assert.deepEqual(warnings, []);
    });
  });
});

describe('isLoopback: which plain-http Vault addresses need no warning', () => {
  const cases: Array<[string, boolean]> = [
    ['http://localhost:8200', true],
    ['http://LOCALHOST', true],
    ['http://127.0.0.1:8200', true],
    ['http://127.1.2.3', true],
    ['http://127.1', true],
    ['http://[::1]:8200', true],
    ['http://vault.internal:8200', false],
    ['http://10.0.0.5:8200', false],
    ['http://192.168.1.10', false],
    ['http://[fd00::1]:8200', false],
    ['http://127.0.0.1.nip.io', false],
    ['http://localhost.example.com', false],
    ['http://vault.example.com:8200', false],
  ];
  for (const [address, expected] of cases) {
    it(`${address} → ${expected ? 'loopback' : 'not loopback'}`, () => assert.equal(isLoopback(address), expected));
  }
});
