import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { cleanup, CleanupDeps } from '../../tasks/VaultAzureLoginV1/src/cleanup';
import { VaultSettings } from '../../tasks/VaultAzureLoginV1/src/inputs';
import { JobState, loadState, saveState, StateStore } from '../../tasks/VaultAzureLoginV1/src/state';
import { VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault';
import { loc } from '../helpers/messages';


const settings: VaultSettings = { address: 'https://vault.example.com', tls: { verify: true, ca: [] }, timeoutSeconds: 30, retries: 0, concurrency: 8 };

function fakes() {
  const vault = { login: sinon.stub(), mount: sinon.stub(), read: sinon.stub(), revokeSelf: sinon.stub().resolves(), revokeLease: sinon.stub().resolves(), warmUp: sinon.spy(), close: sinon.spy() };
  const deps: CleanupDeps = {
    createVault: sinon.stub().returns(vault),
    removeFile: sinon.stub().returns(true),
    retry: { retries: 0, sleep: async () => undefined, random: () => 0, onRetry: () => undefined },
    log: sinon.spy(),
    warn: sinon.spy(),
    loc: loc,
  };
  return { vault, deps };
}

const state = (s: Partial<JobState>): JobState => ({ revokeToken: true, leaseIds: [], files: [], ...s });
const logged = (spy: unknown) => (spy as sinon.SinonSpy).getCalls().map((c) => String(c.args[0]));

describe('post-job clean-up', () => {
  it('does nothing, and says so, when the main step never logged in', async () => {
    const { deps } = fakes();
    await cleanup(state({}), settings, deps);
    sinon.assert.notCalled(deps.createVault as sinon.SinonStub);
    assert.match(logged(deps.log).join('\n'), /Nothing to clean up/);
  });

  it('revokes leases, then the token with it, then removes files', async () => {
    const { vault, deps } = fakes();
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: ['database/creds/ci/1'], files: ['/tmp/a/F'] }), settings, deps);
    sinon.assert.callOrder(vault.revokeLease, vault.revokeSelf, vault.close);
    sinon.assert.calledWithMatch(deps.createVault as sinon.SinonStub, { token: 'hvs.t', address: settings.address });
    sinon.assert.calledOnceWithExactly(vault.revokeLease, 'database/creds/ci/1');
    sinon.assert.calledOnce(vault.revokeSelf);
    assert.ok(vault.revokeLease.calledBefore(vault.revokeSelf), 'leases first, while the token still works');
    sinon.assert.calledWith(deps.removeFile as sinon.SinonStub, '/tmp/a/F');
    sinon.assert.notCalled(deps.warn as sinon.SinonSpy);
  });

  it('skips a batch token, which Vault cannot revoke, but still revokes its leases', async () => {
    const { vault, deps } = fakes();
    await cleanup(state({ token: 'hvb.AAAA', tokenType: 'batch', leaseIds: ['l1'] }), settings, deps);
    sinon.assert.notCalled(vault.revokeSelf);
    sinon.assert.calledOnce(vault.revokeLease);
    assert.match(logged(deps.log).join('\n'), /batch token, which cannot be revoked; it expires at the end of its TTL/);
  });

  it('keeps the token when revokeToken is false', async () => {
    const { deps } = fakes();
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', revokeToken: false }), settings, deps);
    sinon.assert.notCalled(deps.createVault as sinon.SinonStub);
    assert.match(logged(deps.log).join('\n'), /not revoked \(revokeToken: false\)/);
  });

  it('turns every failure into a warning and goes on', async () => {
    const { vault, deps } = fakes();
    vault.revokeLease.rejects(new VaultHttpError(403, 'sys/leases/revoke', ['1 error occurred:\n\t* permission denied\n\n'], undefined));
    vault.revokeSelf.rejects(new VaultNetworkError('ECONNREFUSED', 'auth/token/revoke-self', 'x'));
    (deps.removeFile as sinon.SinonStub).throws(Object.assign(new Error('busy'), { code: 'EBUSY' }));
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: ['l1'], files: ['/f'] }), settings, deps);
    const warnings = logged(deps.warn);
    assert.equal(warnings.length, 3);
    assert.match(warnings[0], /Could not revoke lease l1: HTTP 403/);
    assert.match(warnings[1], /Could not revoke the Vault token: Cannot reach Vault at https:\/\/vault.example.com \(ECONNREFUSED\)/);
    assert.match(warnings[2], /Could not remove secret file \/f \(EBUSY\)/);
  });

  it('treats an already expired token as done, not as a warning', async () => {
    const { vault, deps } = fakes();
    vault.revokeSelf.rejects(new VaultHttpError(403, 'auth/token/revoke-self', ['permission denied', 'invalid token'], undefined));
    await cleanup(state({ token: 'hvs.t', tokenType: 'service' }), settings, deps);
    sinon.assert.notCalled(deps.warn as sinon.SinonSpy);
    assert.match(logged(deps.log).join('\n'), /already expired or been revoked/);
  });

  it('still removes files when the inputs can no longer be read', async () => {
    const { deps } = fakes();
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', files: ['/f'] }), { problem: 'No Vault address' }, deps);
    assert.match(logged(deps.warn).join('\n'), /Could not revoke the Vault token or leases: No Vault address/);
    sinon.assert.calledWith(deps.removeFile as sinon.SinonStub, '/f');
  });
});

describe('job state', () => {
  it('round-trips through task variables, the token as a secret', () => {
    const saved = new Map<string, { value: string; secret: boolean }>();
    const store: StateStore = { set: (n, value, secret) => saved.set(n, { value, secret }), get: (n) => saved.get(n)?.value };
    saveState(store, { token: 'hvs.t', tokenType: 'service', revokeToken: false, leaseIds: ['a', 'b'], files: ['/f'] });
    assert.deepEqual(loadState(store), { token: 'hvs.t', tokenType: 'service', revokeToken: false, leaseIds: ['a', 'b'], files: ['/f'] });
    assert.deepEqual([...saved].filter(([, v]) => v.secret).map(([n]) => n), ['VaultAzureLogin.Token']);
  });

  it('reads an empty or damaged state as nothing to do', () => {
    const store: StateStore = { set: () => undefined, get: (n) => (n.endsWith('Leases') ? 'not json' : undefined) };
    assert.deepEqual(loadState(store), { token: undefined, tokenType: undefined, revokeToken: true, leaseIds: [], files: [] });
  });
});
