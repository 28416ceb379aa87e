// A Kubernetes API server, as far as Vault's and OpenBao's kubernetes auth method use it: it issues
// service account tokens (the projected, pod-bound tokens the kubelet mounts, and the long-lived
// secret-based ones a token reviewer is often given) and answers
// `POST /apis/authentication.k8s.io/v1/tokenreviews` over TLS, by default at
// https://k8s.example.com:6443 (also kubernetes.default.svc) inside the private network namespace.
//
// What the client sends and reads, from openbao/openbao builtin/credential/kubernetes/token_review.go
// (the same in hashicorp/vault-plugin-auth-kubernetes): a TokenReview with no kind or apiVersion,
// `{"metadata":{"creationTimestamp":null},"spec":{"token":<jwt>,"audiences":[...]},"status":{"user":{}}}`,
// authorised with `Bearer <token_reviewer_jwt>` (the login's own JWT when none is configured). A
// status outside 200..206 becomes an error (401: "service account unauthorized"); a 2xx body is read
// as a metav1.Status first, then as a TokenReview: `status.error`, `status.authenticated`,
// `status.audiences` (must meet the audiences asked for), `status.user.username`
// (system:serviceaccount:<namespace>:<name>) and `status.user.uid` (must equal the token's
// service account uid). path_login.go turns any of these failures into 403 "permission denied".
//
// What the API server does, from kubernetes/kubernetes: the token's claims (pkg/serviceaccount/claims.go:
// sub, aud, iat, nbf, exp, and `kubernetes.io` {namespace, serviceaccount {name, uid}, pod {name, uid}}
// for bound tokens; the `kubernetes.io/serviceaccount/*` claims of legacy secret-based tokens, issuer
// `kubernetes/serviceaccount`), the audience rule of pkg/serviceaccount/jwt.go (a token without aud
// has the API server's audiences; the audiences asked for default to the API server's; an empty
// intersection is `token audiences [...] is invalid for the target audiences [...]`), the validator's
// errors (expired, deleted service account, UID changed, pod or secret gone: "service account token
// has been invalidated"), the TokenReview REST storage (201 Created, the request echoed with its
// status), and its own authentication and RBAC: a bad bearer is 401 Unauthorized, and a user
// without `create tokenreviews` (the system:auth-delegator cluster role) is 403 Forbidden.
import { createPublicKey, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, Server } from 'node:https';
import { KUBERNETES_HOST, KUBERNETES_IN_CLUSTER_HOST, KUBERNETES_IP } from './hosts';
import { decodeJwt, JwtClaims, newSigningKey, signJwt, verifyJwt, JwtError } from './jwt';
import type { KeyPair } from './pki';
import { closeServer, guarded, listen, readBody } from './serve';

export const KUBERNETES_PORT = 6443;
/** The issuer most clusters give their bound tokens (the API server's `--service-account-issuer`). */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** The issuer of legacy secret-based tokens. */
export const LEGACY_ISSUER = 'kubernetes/serviceaccount';
/** The default token path in a pod. */
export const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubernetesOptions {
  tls: KeyPair;
  /** Listen address; default KUBERNETES_IP. */
  host?: string;
  /** Listen port; default 6443; 0 picks a free one. */
  port?: number;
  /** `--service-account-issuer`; default DEFAULT_ISSUER. */
  issuer?: string;
}

export interface ServiceAccount {
  namespace: string;
  name: string;
  uid: string;
}

export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  serviceAccount: string;
}

export interface BoundTokenOptions {
  /** The pod the token is bound to (the kubelet's projected token); none for `kubectl create token`. */
  pod?: string;
  /** The projected volume's `audience`; default the API server's audiences. */
  audiences?: string[];
  /** Lifetime; default 3607 s, what the kubelet asks for the default token. */
  expirationSeconds?: number;
  /** Issued this many seconds ago; default 0. */
  ageSeconds?: number;
}

export interface ReviewRecord {
  /** Who asked: the username the bearer authenticated as, 'anonymous', or 'unauthorized'. */
  reviewer: string;
  /** The audiences the review asked for. */
  audiences: string[] | undefined;
  status: number;
  /** status.authenticated, status.error and the user, as answered. */
  authenticated?: boolean;
  error?: string;
  username?: string;
}

export interface Kubernetes {
  /** https://k8s.example.com:<port>, the `kubernetes_host` of a Vault outside the cluster. */
  readonly url: string;
  readonly issuer: string;
  readonly port: number;
  /** PEM of the signing key's public half (`pem_keys`, the API server's `--service-account-key-file`). */
  readonly publicKeyPem: string;
  readonly reviews: ReviewRecord[];
  /** Every token handed out, for leak scans. */
  readonly issuedTokens: string[];
  createServiceAccount(namespace: string, name: string): ServiceAccount;
  deleteServiceAccount(namespace: string, name: string): void;
  createPod(namespace: string, name: string, serviceAccount: string): Pod;
  deletePod(namespace: string, name: string): void;
  /** A ClusterRoleBinding of the service account to system:auth-delegator (allowed to create tokenreviews). */
  bindAuthDelegator(namespace: string, name: string): void;
  /** A bound token: what the kubelet writes into a pod (with `pod`) or `kubectl create token` prints. */
  boundToken(namespace: string, name: string, opts?: BoundTokenOptions): string;
  /** A long-lived token of a `kubernetes.io/service-account-token` Secret (no exp, no aud). */
  secretToken(namespace: string, name: string): string;
  close(): Promise<void>;
}

const API_VERSION = 'authentication.k8s.io/v1';

/** A metav1.Status failure, as the API server writes it. */
function statusFailure(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** Go's %q of a []string: ["a" "b"]. */
const goQuoted = (list: string[]) => `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;

export async function startKubernetes(opts: KubernetesOptions): Promise<Kubernetes> {
  const issuer = opts.issuer ?? DEFAULT_ISSUER;
  /** `--api-audiences`, which default to the issuer. */
  const apiAudiences = [issuer];
  const key = newSigningKey();
  const publicKeyPem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const serviceAccounts = new Map<string, ServiceAccount>();
  const pods = new Map<string, Pod>();
  const secrets = new Map<string, { name: string; uid: string }>();
  const delegators = new Set<string>();
  const reviews: ReviewRecord[] = [];
  const issuedTokens: string[] = [];
  const id = (namespace: string, name: string) => `${namespace}/${name}`;

  function account(namespace: string, name: string): ServiceAccount {
    const sa = serviceAccounts.get(id(namespace, name));
    if (!sa) throw new Error(`no service account ${namespace}/${name}`);
    return sa;
  }

  function boundToken(namespace: string, name: string, o: BoundTokenOptions = {}): string {
    const sa = account(namespace, name);
    const now = Math.floor(Date.now() / 1000) - (o.ageSeconds ?? 0);
    const pod = o.pod ? pods.get(id(namespace, o.pod)) : undefined;
    if (o.pod && !pod) throw new Error(`no pod ${namespace}/${o.pod}`);
    const claims: JwtClaims = {
      aud: o.audiences ?? apiAudiences,
      exp: now + (o.expirationSeconds ?? 3607),
      iat: now,
      iss: issuer,
      jti: randomUUID(),
      'kubernetes.io': {
        namespace,
        ...(pod
          ? {
              node: { name: 'aks-agentpool-12345678-vmss000000', uid: 'b8d4c1f6-7f0e-4f3e-9d1e-0c3f5a2b7e41' },
              pod: { name: pod.name, uid: pod.uid },
            }
          : {}),
        serviceaccount: { name: sa.name, uid: sa.uid },
        ...(pod ? { warnafter: now + 3600 } : {}),
      },
      nbf: now,
      sub: `system:serviceaccount:${namespace}:${name}`,
    };
    const token = signJwt(claims, key, { typ: undefined, x5t: undefined });
    issuedTokens.push(token);
    return token;
  }

  function secretToken(namespace: string, name: string): string {
    const sa = account(namespace, name);
    const secret = { name: `${name}-token`, uid: randomUUID() };
    secrets.set(id(namespace, secret.name), secret);
    const claims: JwtClaims = {
      iss: LEGACY_ISSUER,
      'kubernetes.io/serviceaccount/namespace': namespace,
      'kubernetes.io/serviceaccount/secret.name': secret.name,
      'kubernetes.io/serviceaccount/service-account.name': sa.name,
      'kubernetes.io/serviceaccount/service-account.uid': sa.uid,
      sub: `system:serviceaccount:${namespace}:${name}`,
    };
    const token = signJwt(claims, key, { typ: undefined, x5t: undefined });
    issuedTokens.push(token);
    return token;
  }

  interface Authenticated {
    username: string;
    uid: string;
    groups: string[];
    extra: Record<string, string[]>;
    audiences: string[];
  }

  /**
   * The service account token authenticator: undefined with no error when the token is not one of
   * this cluster's (another issuer, not a JWT), else the user or the error.
   */
  function authenticate(token: string, requested: string[] | undefined): { user?: Authenticated; error?: string } {
    let claims: JwtClaims;
    try {
      const iss = decodeJwt(token).payload.iss;
      if (iss !== issuer && iss !== LEGACY_ISSUER) return {};
      claims = verifyJwt(token, publicKeyPem, { checkTime: false });
    } catch (err) {
      if (err instanceof JwtError && err.code === 'malformed') return {};
      return { error: 'go-jose/go-jose: error in cryptographic primitive' };
    }
    const legacy = claims.iss === LEGACY_ISSUER;
    const tokenAudiences = legacy || claims.aud === undefined ? apiAudiences : ([] as string[]).concat(claims.aud);
    const wanted = requested?.length ? requested : apiAudiences;
    const audiences = tokenAudiences.filter((a) => wanted.includes(a));
    if (audiences.length === 0)
      return { error: `token audiences ${goQuoted(tokenAudiences)} is invalid for the target audiences ${goQuoted(wanted)}` };
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp === 'number' && now >= claims.exp) return { error: 'service account token has expired' };
    if (typeof claims.nbf === 'number' && now < claims.nbf) return { error: 'service account token is not valid yet' };
    const k8s = (claims['kubernetes.io'] ?? {}) as {
      namespace?: string;
      serviceaccount?: { name?: string; uid?: string };
      pod?: { name?: string; uid?: string };
    };
    const namespace = String(legacy ? claims['kubernetes.io/serviceaccount/namespace'] : k8s.namespace);
    const name = String(legacy ? claims['kubernetes.io/serviceaccount/service-account.name'] : k8s.serviceaccount?.name);
    const uid = String(legacy ? claims['kubernetes.io/serviceaccount/service-account.uid'] : k8s.serviceaccount?.uid);
    const sa = serviceAccounts.get(id(namespace, name));
    if (!sa) return { error: `serviceaccounts "${name}" not found` };
    if (sa.uid !== uid) return { error: `service account UID (${sa.uid}) does not match claim (${uid})` };
    const extra: Record<string, string[]> = {};
    if (legacy) {
      const secret = secrets.get(id(namespace, String(claims['kubernetes.io/serviceaccount/secret.name'])));
      if (!secret) return { error: 'service account token has been invalidated' };
    } else if (k8s.pod) {
      const pod = pods.get(id(namespace, String(k8s.pod.name)));
      if (!pod) return { error: 'service account token has been invalidated' };
      if (pod.uid !== k8s.pod.uid) return { error: `pod UID (${pod.uid}) does not match service account pod ref claim (${k8s.pod.uid})` };
      extra['authentication.kubernetes.io/pod-name'] = [pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [pod.uid];
    }
    if (typeof claims.jti === 'string') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
    return {
      user: {
        username: `system:serviceaccount:${namespace}:${name}`,
        uid: sa.uid,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
        extra,
        audiences,
      },
    };
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'https://k8s').pathname;
    const text = await readBody(req);
    if (path !== '/apis/authentication.k8s.io/v1/tokenreviews') {
      return send(res, 404, statusFailure(404, 'NotFound', 'the server could not find the requested resource', {}));
    }
    if (req.method !== 'POST')
      return send(res, 405, statusFailure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, {}));

    // The API server's own authentication of the caller, then RBAC.
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    let reviewer = 'system:anonymous';
    if (auth) {
      const who = authenticate(auth, undefined).user;
      if (!who) {
        reviews.push({ reviewer: 'unauthorized', audiences: undefined, status: 401 });
        return send(res, 401, statusFailure(401, 'Unauthorized', 'Unauthorized'));
      }
      reviewer = who.username;
    }
    if (!delegators.has(reviewer)) {
      reviews.push({ reviewer, audiences: undefined, status: 403 });
      return send(
        res,
        403,
        statusFailure(
          403,
          'Forbidden',
          `tokenreviews.authentication.k8s.io is forbidden: User "${reviewer}" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope`,
          { group: 'authentication.k8s.io', kind: 'tokenreviews' },
        ),
      );
    }

    let review: { kind?: string; apiVersion?: string; spec?: { token?: string; audiences?: string[] } };
    try {
      review = JSON.parse(text);
    } catch {
      return send(
        res,
        400,
        statusFailure(
          400,
          'BadRequest',
          `the object provided is unrecognized (must be of type TokenReview): couldn't get version/kind; json parse error`,
        ),
      );
    }
    const spec = review.spec ?? {};
    const requested = spec.audiences?.length ? spec.audiences : undefined;
    const status: Record<string, unknown> = { user: {} };
    const result = spec.token ? authenticate(spec.token, requested) : {};
    if (result.user) {
      const { audiences, ...user } = result.user;
      status.authenticated = true;
      status.user = user;
      status.audiences = audiences;
    } else if (result.error) {
      status.error = `[invalid bearer token, ${result.error}]`;
    }
    reviews.push({
      reviewer,
      audiences: requested,
      status: 201,
      authenticated: Boolean(result.user),
      error: status.error as string | undefined,
      username: result.user?.username,
    });
    send(res, 201, { kind: 'TokenReview', apiVersion: API_VERSION, metadata: { creationTimestamp: null }, spec, status });
  }

  const server: Server = createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, guarded('Kubernetes', handle));
  const port = await listen(server, opts.port ?? KUBERNETES_PORT, opts.host ?? KUBERNETES_IP);

  return {
    url: `https://${KUBERNETES_HOST}:${port}`,
    issuer,
    port,
    publicKeyPem,
    reviews,
    issuedTokens,
    createServiceAccount(namespace, name) {
      const sa = { namespace, name, uid: randomUUID() };
      serviceAccounts.set(id(namespace, name), sa);
      return sa;
    },
    deleteServiceAccount(namespace, name) {
      serviceAccounts.delete(id(namespace, name));
    },
    createPod(namespace, name, serviceAccount) {
      account(namespace, serviceAccount);
      const pod = { namespace, name, uid: randomUUID(), serviceAccount };
      pods.set(id(namespace, name), pod);
      return pod;
    },
    deletePod(namespace, name) {
      pods.delete(id(namespace, name));
    },
    bindAuthDelegator(namespace, name) {
      delegators.add(`system:serviceaccount:${namespace}:${name}`);
    },
    boundToken,
    secretToken,
    close: () => closeServer(server),
  };
}

/** Host names the emulator's certificate must cover. */
export const KUBERNETES_CERT_NAMES: readonly string[] = [KUBERNETES_HOST, KUBERNETES_IN_CLUSTER_HOST];
