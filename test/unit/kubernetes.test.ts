// The kubernetes login method on its own: the token file read and checked (missing, unreadable, not
// a regular file, too large, empty, not a JWT, expired), the claims of bound and legacy service account tokens, the proof it
// sends, and Vault's refusals in the exact words OpenBao answered them (test/server/kubernetes.test.ts
// gets the same answers from a real server) turned into the cause and the fix.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_TOKEN_FILE,
  KubernetesTokenError,
  kubernetesMethod,
  readServiceAccountClaims,
  readTokenFile,
} from '../../tasks/VaultAzureLoginV1/src/auth/kubernetes';
import type { ReadFile } from '../../tasks/VaultAzureLoginV1/src/core/inputFile';
import { readInputFile } from '../../tasks/VaultAzureLoginV1/src/pipeline/inputFile';
import { explainLogin } from '../../tasks/VaultAzureLoginV1/src/core/errors';
import { VaultHttpError } from '../../tasks/VaultAzureLoginV1/src/core/failures';
import { loc } from '../helpers/messages';

const NOW = Date.parse('2026-05-04T10:00:00Z');
const nowSec = NOW / 1000;
const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (payload: unknown, header: unknown = { alg: 'RS256', kid: 'k1' }) => `${part(header)}.${part(payload)}.c2lnbmF0dXJl`;

/** A token as the kubelet mounts it (kubernetes/kubernetes pkg/serviceaccount/claims.go). */
const bound = (over: Record<string, unknown> = {}) =>
  jwt({
    aud: ['https://kubernetes.default.svc.cluster.local'],
    exp: nowSec + 3600,
    iat: nowSec - 7,
    iss: 'https://kubernetes.default.svc.cluster.local',
    jti: 'c0ffee',
    'kubernetes.io': {
      namespace: 'azp',
      node: { name: 'aks-node-0', uid: 'n-1' },
      pod: { name: 'azp-agent-7d9c', uid: 'p-1' },
      serviceaccount: { name: 'azp-agent', uid: 's-1' },
      warnafter: nowSec + 3600,
    },
    nbf: nowSec - 7,
    sub: 'system:serviceaccount:azp:azp-agent',
    ...over,
  });

/** A token of a kubernetes.io/service-account-token Secret. */
const legacy = jwt({
  iss: 'kubernetes/serviceaccount',
  'kubernetes.io/serviceaccount/namespace': 'vault',
  'kubernetes.io/serviceaccount/secret.name': 'vault-auth-token',
  'kubernetes.io/serviceaccount/service-account.name': 'vault-auth',
  'kubernetes.io/serviceaccount/service-account.uid': 'u-2',
  sub: 'system:serviceaccount:vault:vault-auth',
});

/** A file system of one file (or what reading it gave instead of text). */
function oneFile(content: string | { refused: 'missing' | 'unreadable'; code: string }): ReadFile {
  return () => (typeof content === 'string' ? { text: content } : content);
}
const missing = (code: string) => oneFile({ refused: 'missing', code });
const unreadable = (code: string) => oneFile({ refused: 'unreadable', code });

describe('kubernetes: the service account token claims', () => {
  it('reads a bound token: sub, namespace, service account, pod, audiences, issuer, expiry', () => {
    assert.deepEqual(readServiceAccountClaims(bound()), {
      iss: 'https://kubernetes.default.svc.cluster.local',
      sub: 'system:serviceaccount:azp:azp-agent',
      aud: ['https://kubernetes.default.svc.cluster.local'],
      namespace: 'azp',
      serviceAccount: 'azp-agent',
      pod: 'azp-agent-7d9c',
      exp: nowSec + 3600,
      expires: '2026-05-04T11:00:00.000Z',
    });
  });

  it('reads a legacy secret-based token (kubernetes.io/serviceaccount/* claims, no aud, no exp)', () => {
    assert.deepEqual(readServiceAccountClaims(legacy), {
      iss: 'kubernetes/serviceaccount',
      sub: 'system:serviceaccount:vault:vault-auth',
      aud: [],
      namespace: 'vault',
      serviceAccount: 'vault-auth',
      pod: undefined,
    });
  });

  it('takes the namespace and name from sub when the kubernetes.io claims are absent, and a single aud as a list', () => {
    const claims = readServiceAccountClaims(jwt({ sub: 'system:serviceaccount:build:runner', aud: 'vault' }));
    assert.equal(claims?.namespace, 'build');
    assert.equal(claims?.serviceAccount, 'runner');
    assert.deepEqual(claims?.aud, ['vault']);
  });

  it('refuses what is not a JWT', () => {
    for (const text of [
      '',
      'abc',
      'a.b',
      'a.b.c.d',
      `${part({ alg: 'RS256' })}.${part({ sub: 'x' })}.`,
      `${part({ alg: 'RS256' })}.${part([1])}.sig`,
      `${part({ alg: 'RS256' })}.bm90IGpzb24.sig`,
      `x+y.${part({})}.sig`,
      `${part('text')}.${part({})}.sig`,
    ]) {
      assert.equal(readServiceAccountClaims(text), undefined, text);
    }
  });
});

describe('kubernetes: the token file is checked before any request', () => {
  const path = '/var/run/secrets/vault/token';
  const problem = (fs: ReadFile) => {
    const read = readTokenFile(path, loc, NOW, fs);
    assert.ok('problem' in read, 'a problem');
    assert.match(read.problem, /^Input 'kubernetesTokenFile'( names)?[: ]/);
    assert.ok(read.problem.includes(`'${path}'`), 'names the path');
    return read.problem;
  };

  it('the default path is where Kubernetes mounts the pod token', () => {
    assert.equal(DEFAULT_TOKEN_FILE, '/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  it('a missing file: not in a pod, automountServiceAccountToken off, or a projected volume elsewhere', () => {
    for (const code of ['ENOENT', 'ENOTDIR']) {
      const text = problem(missing(code));
      assert.match(text, /no file at/);
      assert.match(text, /Microsoft-hosted agent/);
      assert.match(text, /automountServiceAccountToken: false .*set it to true/);
      assert.match(text, /projected serviceAccountToken volume: set 'kubernetesTokenFile' to its path/);
    }
  });

  it('an unreadable file, with the error code', () => {
    assert.match(problem(unreadable('EACCES')), /cannot be read \(EACCES\).*defaultMode.*fsGroup/);
  });

  it('an empty file, or one of white space', () => {
    for (const content of ['', ' \n\t\n']) assert.match(problem(oneFile(content)), /is empty/);
  });

  it('a file that is not a JWT, its content never shown', () => {
    const text = problem(oneFile('-----BEGIN CERTIFICATE-----\nc2VjcmV0LXRoaW5n\n-----END CERTIFICATE-----\n'));
    assert.match(text, /does not hold a JWT .*not ca\.crt or namespace/);
    assert.doesNotMatch(text, /c2VjcmV0LXRoaW5n|BEGIN/);
  });

  it('a file larger than any token: refused with the cap, asked for no more than the cap', () => {
    let asked = 0;
    const text = problem((_path, maxBytes) => ((asked = maxBytes), { refused: 'tooLarge' }));
    assert.equal(asked, 64 * 1024);
    assert.equal(
      text,
      `Input 'kubernetesTokenFile' names the file '${path}', which is larger than 64 KiB, the most the step reads for it: it stopped reading there. Check that the path names the right file.`,
    );
  });

  it('an expired token: a copy nothing renews', () => {
    const text = problem(oneFile(bound({ exp: nowSec - 60 })));
    assert.match(text, /expired at 2026-05-04T09:59:00\.000Z/);
    assert.match(text, /a copy nothing renews/);
  });

  it('a good token, trimmed of the line end an editor adds, with its claims', () => {
    const token = bound();
    const read = readTokenFile(path, loc, NOW, oneFile(`${token}\n`));
    assert.ok('token' in read);
    assert.equal(read.token, token);
    assert.equal(read.claims.serviceAccount, 'azp-agent');
  });

  it('a legacy token without exp is not expired', () => {
    const read = readTokenFile(path, loc, NOW, oneFile(legacy));
    assert.ok('token' in read);
  });

  it('real files: missing, a folder, a folder on the way, a named pipe, a device, a link, too large, and a good one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'val-k8s-'));
    try {
      mkdirSync(join(dir, 'folder'));
      writeFileSync(join(dir, 'token'), bound());
      writeFileSync(join(dir, 'plain'), 'x');
      writeFileSync(join(dir, 'big'), Buffer.alloc(64 * 1024 + 1, 'a'));
      symlinkSync(join(dir, 'token'), join(dir, 'link'));
      symlinkSync('/dev/zero', join(dir, 'zero-link'));
      // A named pipe nobody writes to: reading it would wait for ever.
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      const at = (name: string) => readTokenFile(name.startsWith('/') ? name : join(dir, name), loc, NOW, readInputFile);
      const problemAt = (name: string) => (at(name) as { problem: string }).problem;
      assert.match(problemAt('missing'), /no file at/);
      assert.match(problemAt('plain/token'), /no file at/);
      assert.equal(
        problemAt('folder'),
        `Input 'kubernetesTokenFile' names '${join(dir, 'folder')}', which is a directory, not a regular file. The step reads only regular files (a link to one is followed): a pipe or a device could keep it waiting or never end. Give the path of the file itself.`,
      );
      assert.match(problemAt('fifo'), /which is a named pipe \(FIFO\), not a regular file/);
      assert.match(
        problemAt('/dev/zero'),
        /^Input 'kubernetesTokenFile' names '\/dev\/zero', which is a character device, not a regular file/,
      );
      assert.match(problemAt('zero-link'), /zero-link', which is a character device/);
      assert.match(problemAt('big'), /larger than 64 KiB/);
      assert.ok('token' in at('token'));
      assert.ok('token' in at('link'), 'a link to a regular file is followed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubernetes: the proof', () => {
  const ctx = (masked: string[]) => ({
    mount: 'kubernetes',
    role: 'azure-pipelines',
    loc,
    log: () => undefined,
    mask: (v: string) => masked.push(v),
    vault: { post: () => Promise.reject(new Error('no request expected')) },
    timeoutSeconds: 30,
  });

  it('sends {role, jwt}, masks the token, and logs only its non-secret claims', async () => {
    const token = bound();
    const masked: string[] = [];
    const method = kubernetesMethod({ method: 'kubernetes', tokenFile: '/t' }, oneFile(token), () => NOW);
    assert.equal(method.describe(loc), "Reading the Kubernetes service account token from '/t'.");
    const proof = await method.prove(ctx(masked));
    assert.deepEqual(proof.body, { role: 'azure-pipelines', jwt: token });
    assert.deepEqual(proof.secrets, [token]);
    assert.deepEqual(masked, [token]);
    assert.deepEqual(proof.notes, [
      'Kubernetes service account token: sub=system:serviceaccount:azp:azp-agent namespace=azp serviceaccount=azp-agent pod=azp-agent-7d9c aud=https://kubernetes.default.svc.cluster.local iss=https://kubernetes.default.svc.cluster.local expires=2026-05-04T11:00:00.000Z',
    ]);
    assert.ok(!proof.notes.join('\n').includes(token.split('.')[1]));
    assert.equal(proof.facts.serviceAccount, 'azp-agent');
  });

  it('reads the file at login: the token the kubelet renewed since the input check', async () => {
    let content = bound({ jti: 'old' });
    const method = kubernetesMethod(
      { method: 'kubernetes', tokenFile: '/t' },
      () => ({ text: content }),
      () => NOW,
    );
    content = bound({ jti: 'renewed' });
    assert.equal((await method.prove(ctx([]))).body.jwt, content);
  });

  it('a file gone by the login fails with the input message, not retried', async () => {
    const method = kubernetesMethod({ method: 'kubernetes', tokenFile: '/t' }, missing('ENOENT'), () => NOW);
    const err = await method.prove(ctx([])).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubernetesTokenError);
    assert.equal(method.isTransient(err), false);
    assert.match(
      method.explainProofFailure(err, { timeoutSeconds: 30, attempts: 3 }, loc) ?? '',
      /^Input 'kubernetesTokenFile': no file at '\/t'/,
    );
    assert.equal(method.explainProofFailure(new Error('other'), { timeoutSeconds: 30, attempts: 3 }, loc), undefined);
  });
});

describe("kubernetes: Vault's refusals, as OpenBao words them, with the fix", () => {
  const method = kubernetesMethod({ method: 'kubernetes', tokenFile: '/t' }, readInputFile);
  const facts = {
    sub: 'system:serviceaccount:azp:azp-agent',
    namespace: 'azp',
    serviceAccount: 'azp-agent',
    aud: 'https://kubernetes.default.svc.cluster.local,other',
    iss: 'x',
    expires: '2026-05-04T11:00:00.000Z',
  };
  const proof = { body: {}, secrets: [], notes: [], facts };
  const target = { address: 'https://vault.example.com:8200', mount: 'k8s-prod', role: 'azure-pipelines', nsNote: '' };
  const http = (status: number, ...errors: string[]) => new VaultHttpError(status, 'auth/k8s-prod/login', errors, { errors });
  /** As the flow puts the shared and the method's explanations together. */
  const explain = (err: VaultHttpError) =>
    explainLogin(err, { ...target, method: 'kubernetes' }, 30, loc, (e) => method.explainRefusal(e, proof, target, loc));

  it('unknown role: the command that creates it for this service account', () => {
    assert.equal(
      explain(http(400, 'invalid role name "azure-pipelines"')),
      "Vault has no role 'azure-pipelines' on the kubernetes auth mount 'auth/k8s-prod' (invalid role name). Fix the 'role' input, or create the role: vault write auth/k8s-prod/role/azure-pipelines bound_service_account_names=azp-agent bound_service_account_namespaces=azp audience=https://kubernetes.default.svc.cluster.local token_policies=<policy> token_ttl=10m",
    );
  });

  it('service account name not bound: bound_service_account_names', () => {
    const text = explain(http(403, 'service account name not authorized'));
    assert.match(text, /^The service account 'azp-agent' \(namespace 'azp'\) is not one role 'azure-pipelines' on auth\/k8s-prod allows/);
    assert.match(text, /vault write auth\/k8s-prod\/role\/azure-pipelines bound_service_account_names=azp-agent \(this replaces the list/);
    assert.match(text, /spec\.serviceAccountName/);
  });

  it('namespace not bound: bound_service_account_namespaces', () => {
    const text = explain(http(403, 'namespace not authorized'));
    assert.match(text, /^The namespace 'azp' of service account 'azp-agent' is not one role 'azure-pipelines' on auth\/k8s-prod allows/);
    assert.match(text, /vault write auth\/k8s-prod\/role\/azure-pipelines bound_service_account_namespaces=azp \(this replaces the list/);
  });

  it("audience mismatch: a projected token for the role's audience, or the role's audience", () => {
    const text = explain(http(403, 'invalid audience (aud) claim: audience claim does not match any expected audience'));
    assert.match(
      text,
      /^Role 'azure-pipelines' on auth\/k8s-prod expects another audience than the token's \(aud https:\/\/kubernetes\.default\.svc\.cluster\.local,other\)/,
    );
    assert.match(text, /projected serviceAccountToken volume with that audience, and its path in 'kubernetesTokenFile'/);
    assert.match(text, /vault write auth\/k8s-prod\/role\/azure-pipelines audience=https:\/\/kubernetes\.default\.svc\.cluster\.local$/);
  });

  it("expired by Vault's clock only: the clocks differ", () => {
    assert.match(
      explain(http(403, 'invalid expiration time (exp) claim: token is expired')),
      /expires at 2026-05-04T11:00:00\.000Z .*clocks of Vault and the agent differ/,
    );
  });

  it('a mount without config', () => {
    assert.match(
      explain(http(500, 'could not load backend configuration')),
      /^The kubernetes auth method at auth\/k8s-prod is enabled but not configured.*vault write auth\/k8s-prod\/config kubernetes_host=/,
    );
  });

  it('a bare 403 permission denied: the TokenReview failed, or no mount there', () => {
    const text = explain(http(403, 'permission denied'));
    assert.match(
      text,
      /^Vault answered the login at auth\/k8s-prod with 403 permission denied: the Kubernetes API server did not confirm the token/,
    );
    assert.match(text, /'vault auth list' shows a kubernetes method at k8s-prod\//);
    assert.match(text, /'vault read auth\/k8s-prod\/config' shows kubernetes_host/);
    assert.match(text, /this job's own, azp:azp-agent/);
    assert.match(
      text,
      /kubectl create clusterrolebinding vault-tokenreview --clusterrole=system:auth-delegator --serviceaccount=<namespace>:<name>/,
    );
  });

  it('leaves the rest to the shared explanations', () => {
    assert.match(explain(http(404, 'no handler for route "auth/k8s-prod/login"')), /^No kubernetes auth method answers at auth\/k8s-prod/);
    assert.equal(explain(http(400, 'something new')), 'Vault login at auth/k8s-prod/login failed (HTTP 400): something new');
    assert.equal(method.explainRefusal(http(403, '1 error occurred:\n\t* permission denied\n\n'), proof, target, loc), undefined);
  });

  it('without claims, placeholders instead of values', () => {
    const bare = { ...proof, facts: {} };
    const text = method.explainRefusal(http(400, 'invalid role name "x"'), bare, target, loc) ?? '';
    assert.match(text, /bound_service_account_names=<service account> bound_service_account_namespaces=<namespace> audience=<audience>/);
  });
});
