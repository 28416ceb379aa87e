// The approle method with a hand-made Vault: a plain secret_id goes straight into the login body; a
// value shaped like a token is looked up: a wrapping token is checked against the role's secret-id
// or custom-secret-id path and unwrapped exactly once (a retry after a deadline reuses the unwrap,
// and the unwrap is sent as a request not to repeat), its secret_id masked before it is returned;
// a value Vault knows no wrapping token of is logged in with as the secret_id; every
// failure and refusal is worded with its cause and fix. Vault's texts are OpenBao 2.7's answers
// (test/server/approle.test.ts gets them from the real server) and Vault's own phrasing.
import * as assert from 'node:assert/strict';
import {
  ApproleAuthConfig,
  approleMethod,
  isRoleSecretIdPath,
  isWrappingToken,
  WrapContentError,
  WrapPathError,
  WrapRequestError,
} from '../../tasks/VaultAzureLoginV1/src/auth/approle';
import type { Proof, ProveContext } from '../../tasks/VaultAzureLoginV1/src/auth/method';
import { DeadlineError } from '../../tasks/VaultAzureLoginV1/src/core/deadline';
import { VaultBody, VaultHttpError, VaultNetworkError } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { loc } from '../helpers/messages';

const WRAPPING = 's.Wr4ppingTokenOfTwentyFour';
const SECRET_ID = '8214984b-8633-cb1f-8f97-82c1364040a8';
const config = (secretId: string): ApproleAuthConfig => ({
  method: 'approle',
  roleId: 'd12bb66a-7dcb-bc0b-f099-281ab139bb58',
  secretId,
  roleIdFrom: "input 'approleRoleId'",
  secretIdFrom: "input 'approleSecretId'",
  address: 'https://vault.example.com:8200',
});
const target = { address: 'https://vault.example.com:8200', mount: 'approle', role: 'ci', nsNote: '' };
const refused = (status: number, error: string) => new VaultHttpError(status, 'auth/approle/login', [error], { errors: [error] });

interface Call {
  path: string;
  body: Record<string, unknown>;
  token: string;
  /** Sent as a request that spends something: never repeated after it may have reached Vault. */
  once?: boolean;
}

/** A Vault that answers sys/wrapping/lookup and sys/wrapping/unwrap from the given functions, recording calls and masks. */
function fakeVault(answers: Partial<Record<'lookup' | 'unwrap', () => Promise<VaultBody>>>) {
  const calls: Call[] = [];
  const events: string[] = [];
  const ctx: ProveContext = {
    mount: 'approle',
    role: 'ci',
    loc,
    log: (line) => events.push(`log ${line}`),
    mask: (value) => events.push(`mask ${value}`),
    timeoutSeconds: 30,
    vault: {
      async post(path, body, token, once) {
        calls.push({ path, body, token, ...(once ? { once } : {}) });
        events.push(`post ${path}`);
        const answer = path === 'sys/wrapping/lookup' ? answers.lookup : path === 'sys/wrapping/unwrap' ? answers.unwrap : undefined;
        if (!answer) throw new Error(`unexpected ${path}`);
        return answer();
      },
    },
  };
  return { ctx, calls, events };
}

const lookupAt =
  (path: string, creationTime = new Date().toISOString()) =>
  async () => ({ data: { creation_path: path, creation_time: creationTime, creation_ttl: 300 } });
const unwrapped =
  (data: Record<string, unknown> = { secret_id: SECRET_ID, secret_id_accessor: 'acc', secret_id_ttl: 0, secret_id_num_uses: 0 }) =>
  async () => ({ data });

describe('approle: the secret_id and its response wrapping', () => {
  it('tells a wrapping token from a secret_id by its shape', () => {
    for (const token of [WRAPPING, 'hvs.CAESIJlU8C4kxS5ZMZTqiy1mHQ0eyOKT7QzQK', 'hvs.CAESIJlU8C4kxS5ZMZTqiy1mHQ0e.aBcD1'])
      assert.ok(isWrappingToken(token), token);
    for (const other of [SECRET_ID, 'hvb.AAAAAQKZ3gUtU0s1yY0TJbwpA5', 's.short', 'my-custom-secret-id', ` ${WRAPPING}`])
      assert.ok(!isWrappingToken(other), other);
  });

  it("accepts only the role's own secret-id and custom-secret-id paths (the role name in any case, the mount exactly)", () => {
    assert.ok(isRoleSecretIdPath('auth/approle/role/ci/secret-id', 'approle', 'ci'));
    assert.ok(isRoleSecretIdPath('auth/approle/role/CI/secret-id', 'approle', 'ci'));
    assert.ok(isRoleSecretIdPath('auth/approle/role/ci/custom-secret-id', 'approle', 'ci'));
    assert.ok(isRoleSecretIdPath('auth/approle/role/Ci/Custom-Secret-Id', 'approle', 'ci'));
    for (const other of [
      'auth/approle/role/ci-other/secret-id',
      'auth/approle/role/ci-other/custom-secret-id',
      'auth/Approle/role/ci/secret-id',
      'auth/approle/role/ci/secret-id-accessor/lookup',
      'secret/data/ci',
      'auth/approle/role/ci/secret-id/lookup',
      '',
    ])
      assert.ok(!isRoleSecretIdPath(other, 'approle', 'ci'), other);
  });

  it('sends a plain secret_id as it is, and asks Vault nothing before the login', async () => {
    const { ctx, calls } = fakeVault({});
    const proof = await approleMethod(config(SECRET_ID)).prove(ctx);
    assert.deepEqual(proof.body, { role_id: config(SECRET_ID).roleId, secret_id: SECRET_ID });
    assert.deepEqual(proof.secrets, [SECRET_ID]);
    assert.equal(proof.spends, true, 'the login may use the secret_id up: sent once');
    assert.deepEqual(calls, []);
  });

  it('looks a wrapping token up, unwraps it with itself as the token, and masks the secret_id before returning it', async () => {
    const { ctx, calls, events } = fakeVault({ lookup: lookupAt('auth/approle/role/ci/secret-id'), unwrap: unwrapped() });
    const proof = await approleMethod(config(WRAPPING)).prove(ctx);
    assert.deepEqual(calls, [
      { path: 'sys/wrapping/lookup', body: { token: WRAPPING }, token: '' },
      { path: 'sys/wrapping/unwrap', body: {}, token: WRAPPING, once: true },
    ]);
    assert.deepEqual(events, ['post sys/wrapping/lookup', 'post sys/wrapping/unwrap', `mask ${SECRET_ID}`]);
    assert.deepEqual(proof.body, { role_id: config(WRAPPING).roleId, secret_id: SECRET_ID });
    assert.deepEqual(proof.secrets, [SECRET_ID, WRAPPING]);
    assert.equal(proof.spends, true);
    assert.equal(proof.notes.length, 1);
    assert.match(
      proof.notes[0],
      /^Unwrapped the secret_id \(masked\) from a wrapping token made at auth\/approle\/role\/ci\/secret-id on \S+ with a wrap TTL of 300s; the secret_id's TTL: no limit, its uses: no limit\.$/,
    );
    assert.ok(!proof.notes[0].includes(SECRET_ID));
  });

  it('unwraps once: a second attempt (after a deadline) reuses the first unwrap', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { ctx, calls } = fakeVault({
      lookup: lookupAt('auth/approle/role/ci/secret-id'),
      unwrap: async () => (await gate, unwrapped()()),
    });
    const method = approleMethod(config(WRAPPING));
    const first = method.prove(ctx);
    await new Promise((r) => setImmediate(r));
    const second = method.prove(ctx);
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.equal(calls.filter((c) => c.path === 'sys/wrapping/unwrap').length, 1);
    assert.deepEqual(a.body, b.body);
  });

  it('looks up again after a lookup that failed, which spends nothing', async () => {
    let fail = true;
    const { ctx, calls } = fakeVault({
      lookup: async () => {
        if (fail) throw new VaultNetworkError('ECONNRESET', 'sys/wrapping/lookup', 'socket hang up');
        return lookupAt('auth/approle/role/ci/secret-id')();
      },
      unwrap: unwrapped(),
    });
    const method = approleMethod(config(WRAPPING));
    await assert.rejects(method.prove(ctx), WrapRequestError);
    fail = false;
    await method.prove(ctx);
    assert.deepEqual(
      calls.map((c) => c.path),
      ['sys/wrapping/lookup', 'sys/wrapping/lookup', 'sys/wrapping/unwrap'],
    );
  });

  it("unwraps a token made at the role's custom-secret-id path, whose secret_id may look like a token", async () => {
    const custom = 'hvs.CustomSecretIdThatLooksLikeAToken';
    const { ctx } = fakeVault({
      lookup: lookupAt('auth/approle/role/ci/custom-secret-id'),
      unwrap: unwrapped({ secret_id: custom, secret_id_accessor: 'acc', secret_id_ttl: 0, secret_id_num_uses: 0 }),
    });
    const proof = await approleMethod(config(WRAPPING)).prove(ctx);
    assert.deepEqual(proof.body, { role_id: config(WRAPPING).roleId, secret_id: custom });
    assert.match(proof.notes[0], /made at auth\/approle\/role\/ci\/custom-secret-id /);
  });

  it('logs in with a value shaped like a token as the secret_id when Vault knows no wrapping token of it: one lookup, no unwrap', async () => {
    const custom = 's.CustomSecretIdOfTwentyFour';
    const { ctx, calls } = fakeVault({
      lookup: async () => {
        throw new VaultHttpError(400, 'sys/wrapping/lookup', ['wrapping token is not valid or does not exist'], undefined);
      },
      unwrap: unwrapped(),
    });
    const method = approleMethod(config(custom));
    const proof = await method.prove(ctx);
    assert.deepEqual(proof.body, { role_id: config(custom).roleId, secret_id: custom });
    assert.deepEqual(proof.secrets, [custom]);
    assert.equal(proof.facts.notWrapped, 'yes');
    assert.deepEqual(proof.notes, [
      "Vault knows no response-wrapping token of the value from input 'approleSecretId': the step logs in with it as the secret_id.",
    ]);
    // A second attempt (after a deadline) asks Vault nothing more.
    await method.prove(ctx);
    assert.deepEqual(
      calls.map((c) => c.path),
      ['sys/wrapping/lookup'],
    );
  });

  it('never unwraps a token made at another path', async () => {
    const { ctx, calls } = fakeVault({ lookup: lookupAt('secret/data/ci/production/db'), unwrap: unwrapped() });
    const err = await approleMethod(config(WRAPPING))
      .prove(ctx)
      .catch((e: unknown) => e);
    assert.ok(err instanceof WrapPathError);
    assert.equal(err.found, 'secret/data/ci/production/db');
    assert.deepEqual(
      calls.map((c) => c.path),
      ['sys/wrapping/lookup'],
    );
  });

  it('refuses an unwrapped answer without a secret_id, naming its keys only', async () => {
    const { ctx } = fakeVault({ lookup: lookupAt('auth/approle/role/ci/secret-id'), unwrap: unwrapped({ password: 'not-shown' }) });
    const method = approleMethod(config(WRAPPING));
    const err = await method.prove(ctx).catch((e: unknown) => e);
    assert.ok(err instanceof WrapContentError);
    const text = method.explainProofFailure(err, { timeoutSeconds: 30, attempts: 3 }, loc);
    assert.equal(
      text,
      "The wrapping token from input 'approleSecretId' held no secret_id (its keys: password). Wrap the answer of: vault write -f -wrap-ttl=1h auth/approle/role/ci/secret-id",
    );
  });

  it('says when an unwrapped secret_id is older than its TTL', async () => {
    const { ctx } = fakeVault({
      lookup: lookupAt('auth/approle/role/ci/secret-id', new Date(Date.now() - 120_000).toISOString()),
      unwrap: unwrapped({ secret_id: SECRET_ID, secret_id_ttl: 60, secret_id_num_uses: 1 }),
    });
    const proof = await approleMethod(config(WRAPPING)).prove(ctx);
    assert.equal(proof.facts.expired, 'yes');
    assert.match(proof.notes[0], /the secret_id's TTL: 60s, its uses: 1\.$/);
  });
});

describe('approle: failures before the login, in words', () => {
  const method = approleMethod(config(WRAPPING));
  const explain = (err: unknown) => method.explainProofFailure(err, { timeoutSeconds: 30, attempts: 3 }, loc);
  const spent = new VaultHttpError(400, 'sys/wrapping/lookup', ['wrapping token is not valid or does not exist'], undefined);

  it('a token unwrapped by someone else between the lookup and the unwrap', () => {
    const text = explain(new WrapRequestError('unwrap', spent, 'auth/approle/role/ci/secret-id'));
    assert.match(text!, /^Vault knew the wrapping token from input 'approleSecretId' a moment ago, then refused to unwrap it/);
    assert.match(text!, /vault write auth\/approle\/role\/ci\/secret-id-accessor\/destroy secret_id_accessor=<accessor>/);
  });

  it('a token made at another path, naming it', () => {
    assert.match(
      explain(new WrapPathError('secret/data/ci', 'auth/approle/role/ci/secret-id'))!,
      /made at 'secret\/data\/ci', not at this role's secret_id path auth\/approle\/role\/ci\/secret-id/,
    );
  });

  it('network failures and other answers as for any Vault request; a deadline; errors not its own', () => {
    assert.equal(
      explain(new WrapRequestError('lookup', new VaultNetworkError('ECONNREFUSED', 'sys/wrapping/lookup', 'connect ECONNREFUSED'), 'p')),
      loc('VaultUnreachable', 'https://vault.example.com:8200', 'ECONNREFUSED'),
    );
    assert.equal(
      explain(new WrapRequestError('unwrap', new VaultHttpError(403, 'sys/wrapping/unwrap', ['permission denied'], undefined), 'p')),
      'Checking the wrapping token failed: sys/wrapping/unwrap at https://vault.example.com:8200 answered HTTP 403: permission denied',
    );
    assert.equal(explain(new DeadlineError(30_000)), loc('VaultTimeout', 'https://vault.example.com:8200', 30, 'sys/wrapping'));
    // A lookup that failed on the way is no lost answer: it spends nothing.
    assert.equal(
      explain(new WrapRequestError('lookup', new VaultNetworkError('ECONNRESET', 'sys/wrapping/lookup', 'socket hang up'), 'p')),
      loc('VaultUnreachable', 'https://vault.example.com:8200', 'ECONNRESET'),
    );
    assert.equal(explain(new Error('other')), undefined);
    assert.equal(method.isTransient(new Error('x')), false);
  });
});

describe('approle: an unwrap whose answer is lost', () => {
  const path = 'auth/approle/role/ci/secret-id';
  const lost: Array<[string, unknown, string]> = [
    ['a reset after the unwrap was written', new VaultNetworkError('ECONNRESET', 'sys/wrapping/unwrap', 'socket hang up'), 'ECONNRESET'],
    ['no answer in time', new VaultNetworkError('ETIMEDOUT', 'sys/wrapping/unwrap', 'no answer within 30 s'), 'no answer within 30 s'],
    ["a gateway's 502", new VaultHttpError(502, 'sys/wrapping/unwrap', [], undefined), 'HTTP 502'],
  ];
  for (const [what, cause, said] of lost) {
    it(`${what}: the token may be spent by this very request, never "stolen"`, () => {
      const text = approleMethod(config(WRAPPING)).explainProofFailure(
        new WrapRequestError('unwrap', cause, path),
        { timeoutSeconds: 30, attempts: 3 },
        loc,
      );
      assert.equal(text, loc('ApproleUnwrapLost', 'https://vault.example.com:8200', "input 'approleSecretId'", said, path, path, path));
      assert.doesNotMatch(text!, /stolen/);
    });
  }

  it('the deadline ran out while the unwrap was in flight: the same', async () => {
    const { ctx } = fakeVault({ lookup: lookupAt(path), unwrap: () => new Promise(() => undefined) });
    const method = approleMethod(config(WRAPPING));
    void method.prove(ctx);
    await new Promise((r) => setImmediate(r));
    const text = method.explainProofFailure(new DeadlineError(30_000), { timeoutSeconds: 30, attempts: 3 }, loc);
    assert.equal(
      text,
      loc('ApproleUnwrapLost', 'https://vault.example.com:8200', "input 'approleSecretId'", 'no answer within 30 s', path, path, path),
    );
  });

  it('a login whose answer is lost: the secret_id may be used up by it', () => {
    assert.equal(
      approleMethod(config(SECRET_ID)).lostLoginNote!(target, loc),
      loc('ApproleLoginLost', "input 'approleSecretId'", path, path),
    );
  });
});

describe('approle: refusals of the login, in words', () => {
  const plain: Proof = { body: {}, secrets: [], notes: [], facts: {} };
  const fresh: Proof = { ...plain, facts: { wrapped: 'yes', creationPath: 'auth/approle/role/ci/secret-id' } };
  const stale: Proof = { ...plain, facts: { wrapped: 'yes', expired: 'yes', creationTime: '2026-01-01T00:00:00Z', ttl: '60' } };
  const explain = (err: VaultHttpError, proof: Proof) => approleMethod(config(SECRET_ID)).explainRefusal(err, proof, target, loc);
  const invalid = refused(400, 'invalid role or secret ID');

  it('"invalid role or secret ID": every cause Vault folds into it, with the checks', () => {
    assert.equal(
      explain(invalid, plain),
      "Vault refused the AppRole login at auth/approle (400 invalid role or secret ID). Vault gives this one answer for a secret_id that is used up (secret_id_num_uses), expired (secret_id_ttl), destroyed or issued for another role, and for a role_id that is not the role's. Compare the role_id from input 'approleRoleId' with the output of (vault read -field=role_id auth/approle/role/ci/role-id), then give input 'approleSecretId' a new secret_id for every run, best response-wrapped: vault write -f -wrap-ttl=1h auth/approle/role/ci/secret-id",
    );
  });

  it('with a secret_id just unwrapped, the role_id; with one past its TTL, the TTL', () => {
    assert.match(
      explain(invalid, fresh)!,
      /so unused and within its TTL: the role_id from input 'approleRoleId' is not the one of role 'ci'.*vault read -field=role_id auth\/approle\/role\/ci\/role-id$/,
    );
    assert.match(
      explain(invalid, stale)!,
      /the unwrapped secret_id was made at 2026-01-01T00:00:00Z with a TTL of 60s, which ran out before the login/,
    );
  });

  it('CIDR bindings of the role and of the secret_id, as OpenBao and Vault word them', () => {
    for (const text of [
      'source address "10.1.2.3" unauthorized by CIDR restrictions on the role: %!w(<nil>)',
      'source address "10.1.2.3" unauthorized by CIDR restrictions on the role',
    ]) {
      assert.match(
        explain(refused(400, text), plain)!,
        /^Vault refused the AppRole login: the agent's address as Vault sees it, 10\.1\.2\.3, is outside the CIDR blocks that role auth\/approle\/role\/ci accepts secret_ids from \(secret_id_bound_cidrs\)\. .*secret_id_bound_cidrs=<blocks already there>,10\.1\.2\.3\/32$/,
      );
    }
    for (const text of [
      'source address "10.1.2.3" unauthorized through CIDR restrictions on the secret ID',
      'source address "10.1.2.3" unauthorized by CIDR restrictions on the secret ID: <nil>',
    ]) {
      assert.match(
        explain(refused(400, text), plain)!,
        /the secret_id from input 'approleSecretId' is bound to \(its cidr_list\)\. .*vault write -wrap-ttl=1h auth\/approle\/role\/ci\/secret-id cidr_list=10\.1\.2\.3\/32$/,
      );
    }
  });

  it('a value Vault knew no wrapping token of, refused as a secret_id too: both readings, no theft', () => {
    const text = explain(invalid, { ...plain, facts: { notWrapped: 'yes' } });
    assert.equal(
      text,
      loc(
        'ApproleNotWrappedRefused',
        'approle',
        'invalid role or secret ID',
        "input 'approleSecretId'",
        "input 'approleRoleId'",
        'auth/approle/role/ci/role-id',
        'auth/approle/role/ci/secret-id',
      ),
    );
    assert.doesNotMatch(text!, /stolen/);
  });

  it('leaves other refusals to the shared explanation', () => {
    assert.equal(explain(refused(400, 'missing secret_id'), plain), undefined);
    assert.equal(explain(refused(403, 'permission denied'), plain), undefined);
  });

  it('describes where the role_id and secret_id come from, never their values', () => {
    const wrapped = approleMethod(config(WRAPPING)).describe(loc);
    assert.equal(
      wrapped,
      "Logging in with an AppRole: role_id from input 'approleRoleId', secret_id from input 'approleSecretId' (shaped like a response-wrapping token: the step asks Vault whether it is one, checks where it was made and unwraps it once).",
    );
    assert.ok(!wrapped.includes(WRAPPING) && !wrapped.includes(config(WRAPPING).roleId));
  });
});
