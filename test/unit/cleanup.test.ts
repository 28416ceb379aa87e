import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { cleanup, CleanupDeps } from '../../tasks/VaultAzureLoginV1/src/cleanup';
import { RetryPolicy } from '../../tasks/VaultAzureLoginV1/src/vault/retry';
import { JobState, SavedVault } from '../../tasks/VaultAzureLoginV1/src/pipeline/state';
import { VaultClientOptions, VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/vault/client';
import { loc } from '../helpers/messages';

const saved: SavedVault = {
  address: 'https://vault.example.com',
  namespace: 'admin/team',
  authNamespace: 'admin',
  tls: { verify: true, ca: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'], cert: 'CERT PEM', key: 'KEY PEM' },
  proxy: { url: 'http://proxy.internal:3128', username: 'agent', password: 'proxy-pw' },
  timeoutSeconds: 30,
  retries: 2,
};

/** Timers the test fires by hand: the deadline is reached when the test says so. */
function manualTimers() {
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const setTimer = (fn: () => void, ms: number) => {
    const t = { fn, ms, cancelled: false };
    timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  const fire = (ms: number) => {
    const due = timers.filter((t) => t.ms === ms && !t.cancelled);
    assert.ok(due.length > 0, `a timer of ${ms} ms is pending`);
    for (const t of due) t.fn();
  };
  return { timers, setTimer, fire };
}

function fakes() {
  const vault = {
    login: sinon.stub(),
    mount: sinon.stub(),
    read: sinon.stub(),
    revokeSelf: sinon.stub().resolves(),
    revokeLease: sinon.stub().resolves(),
    warmUp: sinon.spy(),
    close: sinon.spy(),
    protocol: () => 'HTTP/2',
  };
  const timers = manualTimers();
  const deps: CleanupDeps = {
    createVault: sinon.stub().returns(vault),
    removeFile: sinon.stub().returns(true),
    retry: { retries: 2, sleep: sinon.stub().resolves(), random: () => 0, onRetry: sinon.spy() },
    setTimer: timers.setTimer,
    log: sinon.spy(),
    warn: sinon.spy(),
    loc: loc,
  };
  return { vault, deps, timers };
}

const state = (s: Partial<JobState>): JobState => ({ revokeToken: true, vault: saved, leaseIds: [], files: [], ...s });
const logged = (spy: unknown) => (spy as sinon.SinonSpy).getCalls().map((c) => String(c.args[0]));
/** A promise that never settles: a Vault that never answers. */
const hang = () => new Promise<void>(() => undefined);
/** Lets the event loop turn (the leases start one per turn). */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('post-job clean-up', () => {
  it('does nothing, and says so, when the main step never logged in', async () => {
    const { deps } = fakes();
    await cleanup(state({}), deps);
    sinon.assert.notCalled(deps.createVault as sinon.SinonStub);
    assert.match(logged(deps.log).join('\n'), /Nothing to clean up/);
  });

  it('revokes leases, then the token with it, then removes files', async () => {
    const { vault, deps, timers } = fakes();
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: ['database/creds/ci/1'], files: ['/tmp/a/F'] }), deps);
    sinon.assert.callOrder(vault.revokeLease, vault.revokeSelf, vault.close);
    sinon.assert.calledOnceWithExactly(vault.revokeLease, 'database/creds/ci/1');
    sinon.assert.calledOnce(vault.revokeSelf);
    sinon.assert.calledWith(deps.removeFile as sinon.SinonStub, '/tmp/a/F');
    sinon.assert.notCalled(deps.warn as sinon.SinonSpy);
    assert.ok(
      timers.timers.every((t) => t.cancelled),
      'no timer keeps the step alive once the work is done',
    );
  });

  it('reaches Vault exactly as the main step saved it, whatever else the step could read', async () => {
    const { deps } = fakes();
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: ['l1'] }), deps);
    const opts = (deps.createVault as sinon.SinonStub).firstCall.args[0] as VaultClientOptions;
    const { retry, ...rest } = opts;
    assert.deepEqual(rest, {
      address: saved.address,
      namespace: saved.namespace,
      authNamespace: saved.authNamespace,
      tls: saved.tls,
      proxy: saved.proxy,
      timeoutMs: 30_000,
      token: 'hvs.t',
    });
    assert.equal(retry?.retries, 2, "the saved retries, through the deps' retry policy");
  });

  it('without a saved Vault (state of an older version) revokes nothing, warns why, and still removes files', async () => {
    const { deps } = fakes();
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: ['l1'], files: ['/f'], vault: undefined }), deps);
    sinon.assert.notCalled(deps.createVault as sinon.SinonStub);
    const warnings = logged(deps.warn);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^Could not revoke the Vault token or leases: the main step left no usable record of the Vault/);
    assert.match(warnings[0], /inputs are not read again/);
    assert.match(warnings[0], /expire at the end of their TTL/);
    sinon.assert.calledWith(deps.removeFile as sinon.SinonStub, '/f');
  });

  it('skips a batch token, which Vault cannot revoke, but still revokes its leases', async () => {
    const { vault, deps } = fakes();
    await cleanup(state({ token: 'hvb.AAAA', tokenType: 'batch', leaseIds: ['l1'] }), deps);
    sinon.assert.notCalled(vault.revokeSelf);
    sinon.assert.calledOnce(vault.revokeLease);
    assert.match(logged(deps.log).join('\n'), /batch token, which cannot be revoked; it expires at the end of its TTL/);
  });

  it('keeps the token when revokeToken is false', async () => {
    const { deps } = fakes();
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', revokeToken: false }), deps);
    sinon.assert.notCalled(deps.createVault as sinon.SinonStub);
    assert.match(logged(deps.log).join('\n'), /not revoked \(revokeToken: false\)/);
  });

  it('turns every failure into a warning and goes on', async () => {
    const { vault, deps } = fakes();
    vault.revokeLease.rejects(new VaultHttpError(403, 'sys/leases/revoke', ['1 error occurred:\n\t* permission denied\n\n'], undefined));
    vault.revokeSelf.rejects(new VaultNetworkError('ECONNREFUSED', 'auth/token/revoke-self', 'x'));
    (deps.removeFile as sinon.SinonStub).throws(Object.assign(new Error('busy'), { code: 'EBUSY' }));
    await cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: ['l1'], files: ['/f'] }), deps);
    const warnings = logged(deps.warn);
    assert.equal(warnings.length, 3);
    assert.match(warnings[0], /Could not revoke lease l1: HTTP 403/);
    assert.match(warnings[1], /Could not revoke the Vault token: Cannot reach Vault at https:\/\/vault.example.com \(ECONNREFUSED\)/);
    assert.match(warnings[2], /Could not remove secret file \/f \(EBUSY\)/);
    for (const w of warnings) assert.doesNotMatch(w, /\.\./, 'one full stop between the cause and what follows');
  });

  it('treats an already expired token as done, not as a warning', async () => {
    const { vault, deps } = fakes();
    vault.revokeSelf.rejects(new VaultHttpError(403, 'auth/token/revoke-self', ['permission denied', 'invalid token'], undefined));
    await cleanup(state({ token: 'hvs.t', tokenType: 'service' }), deps);
    sinon.assert.notCalled(deps.warn as sinon.SinonSpy);
    assert.match(logged(deps.log).join('\n'), /already expired or been revoked/);
  });

  it('a bare 403 permission denied (OpenBao for a token gone, Vault for a token without revoke-self): warns with both causes and the policy', async () => {
    const { vault, deps } = fakes();
    vault.revokeSelf.rejects(new VaultHttpError(403, 'auth/token/revoke-self', ['permission denied'], undefined));
    await cleanup(state({ token: 'hvs.t', tokenType: 'service' }), deps);
    assert.deepEqual(logged(deps.warn), [loc('TokenRevokeDenied')]);
    assert.match(
      loc('TokenRevokeDenied'),
      /expired or been revoked already.*path "auth\/token\/revoke-self" \{ capabilities = \["update"\] \}/,
    );
  });

  describe('bounded by one deadline, 2 × timeoutSeconds', () => {
    const leases = ['database/creds/ci/a', 'database/creds/ci/b', 'database/creds/ci/c'];

    it('revokes the leases in parallel, and the token only once they are done', async () => {
      const { vault, deps } = fakes();
      const answers: Array<() => void> = [];
      vault.revokeLease.callsFake(() => new Promise<void>((resolve) => answers.push(resolve)));
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: leases }), deps);
      await turns();
      assert.equal(vault.revokeLease.callCount, 3, 'all three in flight at once');
      sinon.assert.notCalled(vault.revokeSelf);
      answers[0]();
      answers[1]();
      await turns();
      sinon.assert.notCalled(vault.revokeSelf);
      answers[2]();
      await done;
      sinon.assert.calledOnce(vault.revokeSelf);
      assert.ok(vault.revokeSelf.calledAfter(vault.revokeLease));
      sinon.assert.notCalled(deps.warn as sinon.SinonSpy);
    });

    it('gives the token its turn after one timeout when leases hang, and their leases go with it', async () => {
      const { vault, deps, timers } = fakes();
      vault.revokeLease.callsFake(hang);
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: leases }), deps);
      await turns();
      sinon.assert.notCalled(vault.revokeSelf);
      timers.fire(30_000);
      await done;
      sinon.assert.calledOnce(vault.revokeSelf);
      sinon.assert.notCalled(deps.warn as sinon.SinonSpy);
      assert.match(
        logged(deps.log).join('\n'),
        /Leases still being revoked when the token was revoked go with it: database\/creds\/ci\/a, database\/creds\/ci\/b, database\/creds\/ci\/c\./,
      );
      assert.ok(timers.timers.every((t) => t.cancelled));
      sinon.assert.calledOnce(vault.close);
    });

    it('ends at the deadline with one warning naming every lease and the token not revoked', async () => {
      const { vault, deps, timers } = fakes();
      vault.revokeLease.onFirstCall().resolves();
      vault.revokeLease.callsFake(hang);
      vault.revokeSelf.callsFake(hang);
      let ended = false;
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: leases, files: ['/f'] }), deps).then(
        () => (ended = true),
      );
      await turns();
      timers.fire(30_000);
      await turns();
      sinon.assert.calledOnce(vault.revokeSelf);
      assert.equal(ended, false, 'still waiting for Vault before the deadline');
      timers.fire(60_000);
      await done;
      const warnings = logged(deps.warn);
      assert.deepEqual(warnings, [
        'Stopped waiting for Vault after 60 s (2 × timeoutSeconds); the Vault token and these leases were not revoked: database/creds/ci/b, database/creds/ci/c. Each expires at the end of its TTL.',
      ]);
      assert.match(logged(deps.log).join('\n'), /Revoked lease database\/creds\/ci\/a\./);
      sinon.assert.calledWith(deps.removeFile as sinon.SinonStub, '/f');
      sinon.assert.calledOnce(vault.close);
    });

    it('names the token alone when only the token is left', async () => {
      const { vault, deps, timers } = fakes();
      vault.revokeSelf.callsFake(hang);
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: leases }), deps);
      await turns();
      timers.fire(60_000);
      await done;
      assert.deepEqual(logged(deps.warn), [
        'Stopped waiting for Vault after 60 s (2 × timeoutSeconds); the Vault token was not revoked. It expires at the end of its TTL.',
      ]);
    });

    it('gives the leases the whole deadline when the token is kept, and names those left', async () => {
      const { vault, deps, timers } = fakes();
      vault.revokeLease.callsFake(hang);
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', revokeToken: false, leaseIds: leases.slice(0, 1) }), deps);
      await turns();
      assert.ok(!timers.timers.some((t) => t.ms === 30_000), 'no turn for a token that is kept');
      timers.fire(60_000);
      await done;
      sinon.assert.notCalled(vault.revokeSelf);
      assert.deepEqual(logged(deps.warn), [
        'Stopped waiting for Vault after 60 s (2 × timeoutSeconds); these leases were not revoked: database/creds/ci/a. Each expires at the end of its TTL.',
      ]);
    });

    it('keeps waiting for the leases until the deadline when the token could not be revoked', async () => {
      const { vault, deps, timers } = fakes();
      vault.revokeLease.callsFake(hang);
      vault.revokeSelf.rejects(new VaultHttpError(403, 'auth/token/revoke-self', ['permission denied'], undefined));
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', leaseIds: leases.slice(0, 2) }), deps);
      await turns();
      timers.fire(30_000);
      await turns();
      timers.fire(60_000);
      await done;
      const warnings = logged(deps.warn);
      assert.equal(warnings.length, 2);
      assert.equal(warnings[0], loc('TokenRevokeDenied'));
      assert.match(warnings[1], /these leases were not revoked: database\/creds\/ci\/a, database\/creds\/ci\/b\./);
    });

    it('reports nothing that settles after the deadline', async () => {
      const { vault, deps, timers } = fakes();
      let answer = (): void => undefined;
      vault.revokeLease.callsFake(() => new Promise<void>((resolve) => (answer = resolve)));
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', revokeToken: false, leaseIds: leases.slice(0, 1) }), deps);
      await turns();
      timers.fire(60_000);
      await done;
      const before = [logged(deps.log).length, logged(deps.warn).length];
      answer();
      await turns();
      assert.deepEqual([logged(deps.log).length, logged(deps.warn).length], before);
    });

    it('retries by the retry policy until the deadline, and starts no attempt after it', async () => {
      const { vault, deps, timers } = fakes();
      vault.revokeLease.callsFake(hang);
      const done = cleanup(state({ token: 'hvs.t', tokenType: 'service', revokeToken: false, leaseIds: leases.slice(0, 1) }), deps);
      await turns();
      const retry = ((deps.createVault as sinon.SinonStub).firstCall.args[0] as VaultClientOptions).retry as RetryPolicy;
      retry.onRetry('PUT sys/leases/revoke', 1, 3, 'ETIMEDOUT', 1000);
      sinon.assert.calledOnce(deps.retry.onRetry as sinon.SinonSpy);
      await retry.sleep(1000);
      sinon.assert.calledOnceWithExactly(deps.retry.sleep as sinon.SinonStub, 1000);

      timers.fire(60_000);
      await done;
      retry.onRetry('PUT sys/leases/revoke', 2, 3, 'ETIMEDOUT', 2000);
      sinon.assert.calledOnce(deps.retry.onRetry as sinon.SinonSpy);
      const next = await Promise.race([retry.sleep(2000).then(() => 'next attempt'), turns().then(() => 'still waiting')]);
      assert.equal(next, 'still waiting', 'the wait after the deadline never ends, so no attempt follows');
      sinon.assert.calledOnce(deps.retry.sleep as sinon.SinonStub);
    });
  });
});
