// What the start-up entry does before the task's bundle loads (tens of milliseconds of parsing and
// compiling): it reads from the agent's environment which hosts the step will talk to first and
// opens the connections to them, so that their handshakes overlap the loading. The clients adopt
// them (vault/early.ts; Node's https global agent, which MSAL sends with, through a hook here).
// Only connections, no request: the inputs are not checked yet. Nothing when the agent has a proxy
// (the requests then go through it). Reads process.env directly, as the agent sets it (task-lib's
// naming), because task-lib is part of what loads later.
import * as net from 'node:net';
import type * as Https from 'node:https';
import type * as Tls from 'node:tls';
import { type EarlyKind, offerSocket, onceAny, takeSocket, whenFirstConnected } from '../vault/early';
import { pollOnce } from './scheduling';

export interface EarlyPlan {
  /**
   * Connections to open, in the order the step uses them: the origin, and whether TLS is done early
   * (`tls`: the transport's offer; `https`: Node's https module's, for MSAL's requests to Entra ID)
   * or left to the client (`tcp`).
   */
  sockets: Array<{ origin: string; kind: EarlyKind }>;
}

type Env = Record<string, string | undefined>;

/** An input as task-lib's getInput reads it. */
const input = (env: Env, name: string) => (env[`INPUT_${name.toUpperCase()}`] ?? '').trim();
/** A variable as task-lib's getVariable reads it. */
const variable = (env: Env, name: string) => (env[name.replace(/\./g, '_').replace(/ /g, '_').toUpperCase()] ?? '').trim();

function origin(address: string, protocols: string[]): URL | undefined {
  try {
    const url = new URL(address);
    return protocols.includes(url.protocol) && url.hostname ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connections worth opening at start for `stage`, from the agent's environment alone. Nothing
 * when the stage will not do the work (runAsPreJob), when the agent has a proxy, or for what the
 * environment does not name exactly (a bad value is the step's to report). TLS is done early only
 * where the client would check the server against Node's own trust alone; elsewhere only TCP.
 * Azure DevOps first (the proof's first request), then Entra ID, then Vault: the connections'
 * handshakes end in that order, and the first one's is on the step's critical path.
 */
export function earlyPlan(env: Env, stage: 'main' | 'prejob'): EarlyPlan {
  const plan: EarlyPlan = { sockets: [] };
  if (variable(env, 'Agent.ProxyUrl')) return plan;
  if ((input(env, 'runAsPreJob').toLowerCase() === 'true') !== (stage === 'prejob')) return plan;
  const agentTls = Boolean(variable(env, 'Agent.CAInfo') || variable(env, 'Agent.ClientCert'));

  // Vault: the address input, else VAULT_ADDR (a Vault service connection may carry a CA: TCP only).
  const vaultConnection = input(env, 'vaultConnection');
  const address = vaultConnection
    ? (env[`ENDPOINT_URL_${vaultConnection}`] ?? '')
    : input(env, 'vaultAddress') || variable(env, 'VAULT_ADDR');
  const vault = origin(address, ['https:', 'http:']);

  // Azure DevOps' OIDC token endpoint, and Entra ID for the exchange of a federated assertion.
  const method = input(env, 'authMethod') || 'azure';
  const connection = input(env, 'azureSubscription');
  const federated = method === 'azure' && Boolean(connection) && env[`ENDPOINT_AUTH_SCHEME_${connection}`] === 'WorkloadIdentityFederation';
  if (federated || method === 'jwt') {
    const azdo = origin(variable(env, 'System.OidcRequestUri'), ['https:']);
    if (azdo && azdo.origin !== vault?.origin) plan.sockets.push({ origin: azdo.origin, kind: agentTls ? 'tcp' : 'tls' });
  }
  if (federated) {
    const authority = origin(env[`ENDPOINT_DATA_${connection}_ACTIVEDIRECTORYAUTHORITY`] ?? '', ['https:']);
    if (authority) plan.sockets.push({ origin: authority.origin, kind: 'https' });
  }

  if (vault) {
    const customTls =
      Boolean(vaultConnection) ||
      agentTls ||
      input(env, 'tlsSkipVerify').toLowerCase() === 'true' ||
      ['caCertificate', 'clientCertificate', 'clientKey'].some((name) => input(env, name));
    plan.sockets.push({ origin: vault.origin, kind: vault.protocol === 'https:' && !customTls ? 'tls' : 'tcp' });
  }
  return plan;
}

/**
 * How long the entry waits, at most, for the host names to resolve before it goes on: the answer
 * of a lookup (and so the TCP connection's start) is handled on the main thread, which the TLS
 * set-up and then the loading of the task hold for milliseconds and tens of milliseconds. From the
 * hosts file or a resolver's cache it takes a millisecond or two.
 */
export const LOOKUP_WAIT_MS = 20;

/**
 * How long the entry waits, at most, once the task has loaded, for the TCP handshake of the first
 * connection opened early before the step starts: the step's own start (reading its inputs) holds
 * the main thread for milliseconds, and a handshake that completes meanwhile would send its TLS
 * ClientHello only after it. Begun once the handshake is done, the start fills the TLS handshake's
 * round trip instead. Past the bound (a round trip longer than any on the way to Azure DevOps, or
 * a lost packet) the step starts anyway.
 */
export const FIRST_CONNECTION_WAIT_MS = 300;

/** Resolves when `work` settles or `ms` have passed, whichever comes first; never rejects. */
export async function atMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * What the entries do between loading the task and starting the step: a poll of the event loop
 * (a connection that completed during the loading is handled first), then the wait for the first
 * early connection's TCP handshake (at most FIRST_CONNECTION_WAIT_MS).
 */
export async function readyToStart(): Promise<void> {
  await pollOnce();
  await atMost(whenFirstConnected(), FIRST_CONNECTION_WAIT_MS);
}

/**
 * Resolves once `socket` has started connecting (its name resolved and the connection begun; an
 * IP address begins on the next tick) or has failed.
 */
function begun(socket: net.Socket, host: string): Promise<void> {
  return net.isIP(host) ? Promise.resolve() : onceAny(socket, ['lookup', 'connect', 'error', 'close']);
}

/**
 * Opens what `earlyPlan` names; never rejects, never fails the step. Every TCP connection is
 * started first, and the entry waits (at most LOOKUP_WAIT_MS) until each has begun, so that no
 * connection waits for the main thread to be free before its first packet. Then TLS is begun on
 * those that take it early: loading the TLS and https modules and making the TLS contexts take a
 * few milliseconds, during the TCP handshakes.
 */
export async function openEarlyConnections(env: Env, stage: 'main' | 'prejob'): Promise<void> {
  let opened: Array<{ url: URL; host: string; kind: EarlyKind; socket: net.Socket }>;
  try {
    opened = earlyPlan(env, stage).sockets.map(({ origin: o, kind }) => {
      const url = new URL(o);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const socket = net.connect({ host, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) });
      // A connection that fails while the entry waits is dropped below, unseen.
      socket.on('error', () => undefined);
      return { url, host, kind, socket };
    });
  } catch {
    // Opening early is an optimisation: the clients connect as usual.
    return;
  }
  if (!opened.length) return;
  await atMost(Promise.all(opened.map(({ socket, host }) => begun(socket, host))), LOOKUP_WAIT_MS);
  try {
    let tls: typeof Tls | undefined;
    for (const { url, host, kind, socket } of opened) {
      if (socket.destroyed) continue;
      if (kind === 'tcp') {
        offerSocket(url.origin, kind, socket);
        continue;
      }
      tls ??= require('node:tls') as typeof Tls;
      const servername = net.isIP(host) ? undefined : host;
      // The same offer as the client's own connection: the transport's h2 or HTTP/1.1
      // (vault/transport.ts), or Node's https module's (no ALPN).
      const ALPNProtocols = kind === 'tls' ? ['h2', 'http/1.1'] : undefined;
      offerSocket(url.origin, kind, tls.connect({ socket, host, servername, ALPNProtocols }), socket);
      if (kind === 'https') adoptOnGlobalAgent(url);
    }
  } catch {
    // As above.
  }
}

/**
 * Request options that change how the server is checked, what the client presents or where it
 * connects: a connection asked for with any of them is not the early one (made with Node's defaults).
 */
const CONNECTION_OPTIONS = [
  'ALPNProtocols',
  'ca',
  'cert',
  'checkServerIdentity',
  'ciphers',
  'clientCertEngine',
  'crl',
  'dhparam',
  'ecdhCurve',
  'family',
  'honorCipherOrder',
  'key',
  'localAddress',
  'lookup',
  'maxVersion',
  'minVersion',
  'passphrase',
  'pfx',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'pskCallback',
  'secureContext',
  'secureOptions',
  'secureProtocol',
  'session',
  'sigalgs',
  'socketPath',
];

/** Whether Node's https global agent asks, with `options`, for the connection opened early to `url`. */
export function isEarlyConnection(options: Record<string, unknown>, url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return (
    options.host === host &&
    Number(options.port || 443) === Number(url.port || 443) &&
    options.rejectUnauthorized !== false &&
    (options.servername === undefined || options.servername === host) &&
    CONNECTION_OPTIONS.every((name) => options[name] === undefined)
  );
}

/**
 * Node's https global agent takes the early connection to `url` as its first connection there,
 * when a request asks for one with Node's defaults (MSAL's token request does, unless a proxy is
 * set); then the hook is gone.
 */
function adoptOnGlobalAgent(url: URL): void {
  type Create = (...args: unknown[]) => unknown;
  const https = require('node:https') as typeof Https;
  const agent = https.globalAgent as unknown as { createConnection: Create };
  const own = agent.createConnection;
  agent.createConnection = function (this: unknown, ...args: unknown[]) {
    const options = args[0];
    if (options && typeof options === 'object' && isEarlyConnection(options as Record<string, unknown>, url)) {
      agent.createConnection = own;
      const early = takeSocket(url.origin, 'https');
      const timeout = (options as { timeout?: unknown }).timeout;
      if (early && typeof timeout === 'number') early.socket.setTimeout(timeout);
      if (early) return early.socket;
    }
    return own.apply(this, args);
  };
}
