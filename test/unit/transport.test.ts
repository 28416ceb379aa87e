import * as assert from 'node:assert/strict';
import type * as Tls from 'node:tls';
import * as sinon from 'sinon';
import { createTransport, TransportError } from '../../tasks/VaultAzureLoginV1/src/transport';
import { createCa } from '../emulators/pki';

// The module object itself (not an import copy), so that the spy is what the transport calls.
const tls = require('node:tls') as typeof Tls;

describe('transport: the TLS context', () => {
  afterEach(() => sinon.restore());

  it('is built when the first connection opens, not when the transport is made, and once for every connection', async () => {
    const ca = await createCa('Transport Test CA');
    const build = sinon.spy(tls, 'createSecureContext');
    // Nothing listens on port 1: each request fails to connect, and the next one connects again.
    const transport = createTransport('https://127.0.0.1:1', { tls: { verify: true, ca: [ca.certPem] }, timeoutMs: 5000 });
    assert.equal(build.callCount, 0, 'not built with the transport (the step is busy with the token request then)');
    for (let i = 0; i < 2; i++) {
      await assert.rejects(transport.send({ method: 'GET', url: new URL('https://127.0.0.1:1/v1/sys/health'), headers: {} }), (err: unknown) => err instanceof TransportError && err.code === 'ECONNREFUSED');
    }
    assert.equal(build.callCount, 1, 'one context for both connection attempts');
    const options = build.firstCall.args[0] as Tls.SecureContextOptions;
    assert.deepEqual(options.ca, [...tls.rootCertificates, ca.certPem], 'the extra CA is trusted in addition to the public roots');
    transport.close();
  });
});
