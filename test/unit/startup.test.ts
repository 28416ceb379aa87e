// The start-up entry's reading of the agent's environment: which connections it opens before the
// task loads, and which connection requests Node's https global agent gives the early one.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as sinon from 'sinon';
import { createCa } from '../emulators/pki';
import { pollOnce } from '../../tasks/VaultAzureLoginV1/src/pipeline/scheduling';
import { atMost, earlyPlan, isEarlyConnection, openEarlyConnections } from '../../tasks/VaultAzureLoginV1/src/pipeline/startup';
import { dropEarly, offerSocket, takeSocket, whenConnected, whenFirstConnected } from '../../tasks/VaultAzureLoginV1/src/vault/early';

const WIF = 'c0ffee00-1111-2222-3333-444455556666';

/** An agent's environment for a workload identity federation connection and a Vault address. */
function agent(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    INPUT_VAULTADDRESS: 'https://vault.example.com:8200',
    INPUT_AZURESUBSCRIPTION: WIF,
    [`ENDPOINT_AUTH_SCHEME_${WIF}`]: 'WorkloadIdentityFederation',
    [`ENDPOINT_AUTH_${WIF}`]: JSON.stringify({
      scheme: 'WorkloadIdentityFederation',
      parameters: { tenantid: 't', serviceprincipalid: 'c' },
    }),
    [`ENDPOINT_DATA_${WIF}_ACTIVEDIRECTORYAUTHORITY`]: 'https://login.microsoftonline.com/',
    SYSTEM_OIDCREQUESTURI: 'https://dev.azure.com/contoso/p/_apis/distributedtask/hubs/build/plans/x/jobs/y/oidctoken',
    ...extra,
  };
}

/** Listens on a free loopback port and gives it. */
async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as net.AddressInfo).port;
}

/** A loopback port nothing listens on: a server's, closed again. */
async function refusedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listening(server);
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The plan's connection to Vault (at vault.example.com, vault.internal or vault.corp). */
const vaultSocket = (plan: ReturnType<typeof earlyPlan>) => plan.sockets.find((s) => s.origin.includes('//vault.'));

describe('start-up entry: the connections opened before the task loads', () => {
  it('workload identity federation: Azure DevOps, Entra ID for the global agent, then Vault, all over TLS, in the order the step uses them', () => {
    assert.deepEqual(earlyPlan(agent(), 'main'), {
      sockets: [
        { origin: 'https://dev.azure.com', kind: 'tls' },
        { origin: 'https://login.microsoftonline.com', kind: 'https' },
        { origin: 'https://vault.example.com:8200', kind: 'tls' },
      ],
    });
  });

  it('nothing when the agent has a proxy', () => {
    assert.deepEqual(earlyPlan(agent({ AGENT_PROXYURL: 'http://proxy.example.com:3128' }), 'main'), { sockets: [] });
  });

  it('nothing in the stage that runAsPreJob does not give the work', () => {
    assert.deepEqual(earlyPlan(agent({ INPUT_RUNASPREJOB: 'true' }), 'main'), { sockets: [] });
    assert.deepEqual(earlyPlan(agent(), 'prejob'), { sockets: [] });
    assert.equal(earlyPlan(agent({ INPUT_RUNASPREJOB: 'True' }), 'prejob').sockets.length, 3);
  });

  it('only TCP to Vault when its TLS is not Node’s own trust: a CA, a client certificate, skipped verification, the agent’s CA', () => {
    for (const extra of [
      { INPUT_CACERTIFICATE: '-----BEGIN CERTIFICATE-----' },
      { INPUT_CLIENTCERTIFICATE: '/agent/client.pem' },
      { INPUT_TLSSKIPVERIFY: 'true' },
      { AGENT_CAINFO: '/agent/ca.pem' },
      { AGENT_CLIENTCERT: '/agent/client.pem' },
    ]) {
      const vault = vaultSocket(earlyPlan(agent(extra), 'main'));
      assert.deepEqual(vault, { origin: 'https://vault.example.com:8200', kind: 'tcp' }, JSON.stringify(extra));
    }
    // The agent's own certificate settings apply to Azure DevOps as well.
    assert.equal(earlyPlan(agent({ AGENT_CAINFO: '/agent/ca.pem' }), 'main').sockets[0].kind, 'tcp');
  });

  it('Vault from VAULT_ADDR or a Vault service connection (TCP only: it may carry a CA); plain http over TCP', () => {
    assert.deepEqual(vaultSocket(earlyPlan(agent({ INPUT_VAULTADDRESS: '', VAULT_ADDR: 'http://vault.internal:8200' }), 'main')), {
      origin: 'http://vault.internal:8200',
      kind: 'tcp',
    });
    const viaConnection = agent({ INPUT_VAULTADDRESS: '', INPUT_VAULTCONNECTION: 'vc', ENDPOINT_URL_vc: 'https://vault.corp:8200/' });
    assert.deepEqual(vaultSocket(earlyPlan(viaConnection, 'main')), { origin: 'https://vault.corp:8200', kind: 'tcp' });
  });

  it('nothing for what the environment does not name exactly: a bad address, a scheme other than federation, no OIDC URI', () => {
    assert.deepEqual(
      earlyPlan(agent({ INPUT_VAULTADDRESS: 'vault.example.com:8200' }), 'main').sockets.map((s) => s.origin),
      ['https://dev.azure.com', 'https://login.microsoftonline.com'],
    );
    const key = earlyPlan(agent({ [`ENDPOINT_AUTH_SCHEME_${WIF}`]: 'ServicePrincipal' }), 'main');
    assert.deepEqual(key, { sockets: [{ origin: 'https://vault.example.com:8200', kind: 'tls' }] });
    const noUri = earlyPlan(agent({ SYSTEM_OIDCREQUESTURI: undefined }), 'main');
    assert.deepEqual(
      noUri.sockets.map((s) => s.origin),
      ['https://login.microsoftonline.com', 'https://vault.example.com:8200'],
    );
    assert.equal(earlyPlan(agent({ SYSTEM_OIDCREQUESTURI: 'http://dev.azure.com/x' }), 'main').sockets.length, 2);
  });

  it('the jwt method: Azure DevOps for the pipeline token, no Entra ID; other methods: Vault alone', () => {
    const jwt = earlyPlan(agent({ INPUT_AUTHMETHOD: 'jwt', INPUT_AZURESUBSCRIPTION: '' }), 'main');
    assert.deepEqual(jwt, {
      sockets: [
        { origin: 'https://dev.azure.com', kind: 'tls' },
        { origin: 'https://vault.example.com:8200', kind: 'tls' },
      ],
    });
    assert.deepEqual(earlyPlan(agent({ INPUT_AUTHMETHOD: 'approle' }), 'main'), {
      sockets: [{ origin: 'https://vault.example.com:8200', kind: 'tls' }],
    });
  });
});

describe('start-up entry: which request of the https global agent takes the early Entra connection', () => {
  const entra = new URL('https://login.microsoftonline.com');
  const asked = { host: 'login.microsoftonline.com', port: 443, servername: 'login.microsoftonline.com', path: '/t/oauth2/v2.0/token' };

  it('a request with Node’s defaults to the same host and port', () => {
    assert.equal(isEarlyConnection(asked, entra), true);
    assert.equal(isEarlyConnection({ ...asked, port: undefined }, entra), true);
  });

  it('not another host or port, nor one with TLS settings of its own', () => {
    assert.equal(isEarlyConnection({ ...asked, host: 'login.windows.net' }, entra), false);
    assert.equal(isEarlyConnection({ ...asked, port: 8443 }, entra), false);
    assert.equal(isEarlyConnection({ ...asked, servername: 'other.example.com' }, entra), false);
    for (const option of ['ca', 'cert', 'key', 'pfx', 'secureContext', 'checkServerIdentity', 'ALPNProtocols', 'lookup', 'localAddress']) {
      assert.equal(isEarlyConnection({ ...asked, [option]: 'x' }, entra), false, option);
    }
    assert.equal(isEarlyConnection({ ...asked, rejectUnauthorized: false }, entra), false);
  });
});

describe('early connections: handed over once, and only while usable', () => {
  afterEach(() => dropEarly());

  it('the first client of the origin and kind takes it; the next connects on its own', async () => {
    const server = net.createServer((s) => s.end());
    const port = await listening(server);
    try {
      const origin = `http://127.0.0.1:${port}`;
      offerSocket(origin, 'tcp', net.connect({ host: '127.0.0.1', port }));
      assert.equal(takeSocket(origin, 'tls'), undefined, 'another kind');
      const taken = takeSocket(`${origin}/v1/sys/health`, 'tcp');
      assert.ok(taken, 'taken by its origin');
      assert.equal(takeSocket(origin, 'tcp'), undefined, 'only once');
      taken.socket.destroy();
    } finally {
      server.close();
    }
  });

  it('a connection that failed is not handed over', async () => {
    const port = await refusedPort();
    const socket = net.connect({ host: '127.0.0.1', port });
    offerSocket(`http://127.0.0.1:${port}`, 'tcp', socket);
    await new Promise((r) => socket.once('close', r));
    assert.equal(takeSocket(`http://127.0.0.1:${port}`, 'tcp'), undefined);
  });

  it('tells when the TCP connection under a TLS one has connected (its first flight sent), or failed', async () => {
    const server = net.createServer((s) => s.on('error', () => undefined));
    const port = await listening(server);
    const refused = await refusedPort();
    try {
      assert.equal(whenConnected(`https://localhost:${port}`, 'tls'), undefined, 'nothing offered');
      const events: string[] = [];
      const tcp = net.connect({ host: '127.0.0.1', port });
      const socket = tls.connect({ socket: tcp, servername: 'localhost' });
      offerSocket(`https://localhost:${port}`, 'tls', socket, tcp);
      tcp.once('connect', () => events.push('connect'));
      assert.equal(tcp.connecting, true);
      await whenConnected(`https://localhost:${port}`, 'tls')!.then(() => events.push('told'));
      assert.deepEqual(events, ['connect', 'told']);
      assert.equal(tcp.connecting, false);
      // Already connected: at once.
      await whenConnected(`https://localhost:${port}`, 'tls');
      assert.equal(whenConnected(`https://localhost:${port}`, 'tcp'), undefined, 'another kind');
      takeSocket(`https://localhost:${port}`, 'tls')!.socket.destroy();
      assert.equal(whenConnected(`https://localhost:${port}`, 'tls'), undefined, 'taken');

      const failing = net.connect({ host: '127.0.0.1', port: refused });
      offerSocket(`https://localhost:${refused}`, 'tls', tls.connect({ socket: failing, servername: 'localhost' }), failing);
      await whenConnected(`https://localhost:${refused}`, 'tls');
      assert.equal(failing.destroyed, true);
    } finally {
      server.close();
    }
  });
});

describe('the step starts once the first early connection is up', () => {
  afterEach(() => dropEarly());

  /** A socket that stays connecting (no packet is ever answered). */
  function stuck(): net.Socket {
    const socket = new net.Socket();
    (socket as { connecting: boolean }).connecting = true;
    return socket;
  }

  it('waits for the TCP connection of the first connection offered, not for the others', async () => {
    const server = net.createServer((s) => s.on('error', () => undefined));
    const port = await listening(server);
    try {
      const events: string[] = [];
      const tcp = net.connect({ host: '127.0.0.1', port });
      tcp.once('connect', () => events.push('connect'));
      offerSocket(`https://localhost:${port}`, 'tls', tls.connect({ socket: tcp, servername: 'localhost' }), tcp);
      const later = stuck();
      offerSocket('https://vault.example.com', 'tcp', later);
      assert.equal(tcp.connecting, true);
      await whenFirstConnected().then(() => events.push('step starts'));
      assert.deepEqual(events, ['connect', 'step starts']);
      assert.equal(later.connecting, true);
    } finally {
      server.close();
    }
  });

  it('no longer than the bound when it stays connecting; at once when nothing was opened, or on a failure', async () => {
    await whenFirstConnected();
    const socket = stuck();
    offerSocket('https://dev.azure.com', 'tcp', socket);
    await atMost(whenFirstConnected(), 20);
    assert.equal(socket.connecting, true);
    dropEarly();
    const refused = await refusedPort();
    const failing = net.connect({ host: '127.0.0.1', port: refused });
    offerSocket(`http://127.0.0.1:${refused}`, 'tcp', failing);
    await whenFirstConnected();
    assert.equal(failing.destroyed, true);
  });
});

describe('start-up entry: opening', () => {
  afterEach(() => dropEarly());

  it('resolves once the connections have begun, and offers each to its client', async () => {
    const server = net.createServer((s) => s.end());
    const port = await listening(server);
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        await openEarlyConnections({ INPUT_VAULTADDRESS: `http://${host}:${port}`, INPUT_AUTHMETHOD: 'approle' }, 'main');
        const taken = takeSocket(`http://${host}:${port}`, 'tcp');
        assert.ok(taken, host);
        taken.socket.destroy();
      }
    } finally {
      server.close();
    }
  });

  it('TLS begun on the TCP connection once it has begun: the transport’s offer, checked against Node’s own trust', async () => {
    const ca = await createCa();
    const seen: Array<{ servername: string; protocols: string[] }> = [];
    const leaf = await ca.issue(['localhost']);
    const ALPNCallback = ({ servername, protocols }: { servername: string; protocols: string[] }) => {
      seen.push({ servername, protocols });
      return protocols[0];
    };
    const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem, ALPNCallback }, (s) => s.end());
    server.on('tlsClientError', () => undefined);
    const port = await listening(server);
    try {
      await openEarlyConnections({ INPUT_VAULTADDRESS: `https://localhost:${port}`, INPUT_AUTHMETHOD: 'approle' }, 'main');
      const taken = takeSocket(`https://localhost:${port}`, 'tls');
      assert.ok(taken);
      // The test CA is not Node's: the early connection refuses the server.
      const failed = await new Promise<NodeJS.ErrnoException>((resolve) => taken.socket.once('error', resolve));
      assert.match(String(failed.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
      assert.deepEqual(seen, [{ servername: 'localhost', protocols: ['h2', 'http/1.1'] }]);
    } finally {
      server.close();
      await ca.dispose();
    }
  });

  it('after the task loads, a connection that completed meanwhile is handled before the step starts', async () => {
    const server = net.createServer((s) => s.end());
    const port = await listening(server);
    try {
      // As the entry does: from an I/O callback, a connection begun, then the main thread held (the loading).
      const order = await new Promise<string[]>((resolve) => {
        net.connect({ host: '127.0.0.1', port }).once('connect', function (this: net.Socket) {
          const events: string[] = [];
          const socket = net.connect({ host: '127.0.0.1', port });
          socket.once('connect', () => events.push('connected'));
          const until = Date.now() + 50;
          while (Date.now() < until);
          void pollOnce().then(() => {
            events.push('step starts');
            socket.destroy();
            this.destroy();
            resolve(events);
          });
        });
      });
      assert.deepEqual(order, ['connected', 'step starts']);
    } finally {
      server.close();
    }
  });

  it('a TCP connection begins (its name resolved, its connection started) before the TLS set-up holds the main thread', async () => {
    const server = net.createServer((s) => s.end());
    const port = await listening(server);
    const events: string[] = [];
    // The modules themselves: the entry reads their functions at each call.
    const netModule = require('node:net') as typeof net;
    const tlsModule = require('node:tls') as typeof tls;
    const connect = netModule.connect;
    const netConnect = sinon.stub(netModule, 'connect').callsFake((...args: unknown[]) => {
      const socket = (connect as (...a: unknown[]) => net.Socket)(...args);
      socket.once('lookup', () => events.push('lookup'));
      return socket;
    });
    const tlsConnect = sinon.stub(tlsModule, 'connect').callsFake((...args: unknown[]) => {
      events.push('tls');
      return (tlsConnect.wrappedMethod as (...a: unknown[]) => tls.TLSSocket)(...args);
    });
    try {
      await openEarlyConnections({ INPUT_VAULTADDRESS: `https://localhost:${port}`, INPUT_AUTHMETHOD: 'approle' }, 'main');
    } finally {
      netConnect.restore();
      tlsConnect.restore();
      server.close();
    }
    assert.deepEqual(events, ['lookup', 'tls']);
  });

  for (const host of ['localhost', '127.0.0.1']) {
    it(`a TLS connection whose TCP connection was refused is not handed over, however soon it is asked for (${host})`, async () => {
      const port = await refusedPort();
      await openEarlyConnections({ INPUT_VAULTADDRESS: `https://${host}:${port}`, INPUT_AUTHMETHOD: 'approle' }, 'main');
      // The refusal may be in by now; a TLS connection above it would only learn of it a turn later.
      const until = Date.now() + 50;
      while (Date.now() < until);
      await pollOnce();
      assert.equal(takeSocket(`https://${host}:${port}`, 'tls'), undefined);
    });
  }

  it('opens nothing and resolves at once when the environment names nothing', async () => {
    await openEarlyConnections({}, 'main');
    assert.equal(takeSocket('https://vault.example.com', 'tls'), undefined);
  });
});
