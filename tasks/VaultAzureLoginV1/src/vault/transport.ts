// HTTP to Vault on Node's own clients. Over TLS the connection offers HTTP/2 and HTTP/1.1 (ALPN),
// as the vault CLI does; Vault's TLS listener offers both. With HTTP/2 every request of a run
// shares one connection, so the reads in flight cost no extra handshakes. When the server (or a
// load balancer in front of it) picks HTTP/1.1, when Vault is plain http, and when the agent's
// proxy applies, requests go over at most MAX_HTTP1_CONNECTIONS kept-alive HTTP/1.1 connections
// instead, the rest waiting their turn.
//
// The bounds are ../net/http's, as for every outside request: each HTTP/1.1 request is sent there,
// and each HTTP/2 stream counts its answer and keeps its time the same way. No answer is read
// beyond MAX_ANSWER_BYTES. Nothing here follows a redirect (the token would travel with it) or
// reads proxy settings from the environment: the agent's proxy arrives as an argument.
import * as http from 'node:http';
import type * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import {
  ANSWER_TOO_LARGE,
  answerBody,
  asTransportError,
  type HttpRequest,
  MAX_ANSWER_BYTES,
  parseBody,
  send as sendHttp1,
  TransportError,
  timeoutError,
} from '../net/http';
import { limiter } from '../core/concurrency';
import { takeSocket } from './early';
import type { ProxyConfig, TlsConfig } from './settings';

export type { HttpRequest };
export { ANSWER_TOO_LARGE, MAX_ANSWER_BYTES, TransportError };

export interface HttpResponse {
  status: number;
  /** Parsed JSON with every number exactly as sent (net/http.ts parseBody), the raw text when it is not JSON, undefined when empty. */
  body: unknown;
  /** 'h2' or 'http/1.1'. */
  protocol: string;
}

export interface TransportOptions {
  tls: TlsConfig;
  proxy?: ProxyConfig;
  timeoutMs: number;
}

/**
 * HTTP/1.1 connections a run opens to Vault at most, however many reads are in flight: thousands
 * of jobs share one Vault cluster, and each connection costs it a TLS handshake and a socket.
 * HTTP/2 carries every read on one connection.
 */
export const MAX_HTTP1_CONNECTIONS = 8;

export interface Transport {
  /**
   * Starts connecting (TLS handshake, protocol choice) ahead of the first request; to a plain
   * http Vault, up to `connections` HTTP/1.1 connections (at most MAX_HTTP1_CONNECTIONS), as many
   * as the reads will use at once.
   */
  warmUp(connections?: number): void;
  send(req: HttpRequest): Promise<HttpResponse>;
  /** The protocol of the latest answer: 'h2' or 'http/1.1'; undefined before the first. */
  protocol(): string | undefined;
  /** Lets go of every connection so the process can exit; for when no request is in flight. */
  close(): void;
}

function proxyUrl(proxy: ProxyConfig): string {
  const url = new URL(proxy.url);
  if (proxy.username) {
    url.username = encodeURIComponent(proxy.username);
    url.password = encodeURIComponent(proxy.password ?? '');
  }
  return url.toString();
}

/**
 * TLS settings shared by the HTTP/2 and HTTP/1.1 paths, made on first use: a context holding the
 * public roots and the extra CAs takes about 25 ms to build, so it is built once per run (a client
 * would make one per connection) and when the first connection opens, which the task starts while
 * it waits for Azure. The inputs were checked before (PEM certificates, a key that belongs to its
 * certificate), so building it does not fail on them.
 */
function lazyTlsOptions(cfg: TlsConfig): () => tls.ConnectionOptions {
  let options: tls.ConnectionOptions | undefined;
  return () => {
    if (options) return options;
    const custom = cfg.ca.length > 0 || Boolean(cfg.cert);
    options = {
      rejectUnauthorized: cfg.verify,
      // Extra CAs are trusted in addition to the public roots.
      secureContext: custom
        ? tls.createSecureContext({
            ca: cfg.ca.length ? [...tls.rootCertificates, ...cfg.ca] : undefined,
            cert: cfg.cert,
            key: cfg.key,
            passphrase: cfg.passphrase,
          })
        : undefined,
    };
    return options;
  };
}

/** An https.Agent whose first connection is one already open (the one that chose HTTP/1.1), when there is one. */
class ReusingAgent extends https.Agent {
  constructor(
    options: https.AgentOptions,
    private readonly spare: () => tls.TLSSocket | undefined,
  ) {
    super(options);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    return this.spare() ?? super.createConnection(options, callback);
  }
}

/**
 * An http.Agent for a plain http origin that can open its connections ahead of the requests: each
 * new connection the agent needs is one of those when one is still open.
 */
class PreconnectingAgent extends http.Agent {
  private readonly opened: net.Socket[] = [];
  private readonly ignore = () => undefined;

  constructor(
    options: http.AgentOptions,
    private readonly origin: URL,
  ) {
    super(options);
  }

  /** Opens connections until `count` wait unused; idle, they neither keep the step alive nor fail it. */
  preconnect(count: number): void {
    const host = this.origin.hostname.replace(/^\[|\]$/g, '');
    const early = this.opened.length < count ? takeSocket(this.origin.href, 'tcp') : undefined;
    if (early) this.keep(early.socket);
    while (this.opened.length < count) {
      this.keep(net.connect({ host, port: Number(this.origin.port || 80) }));
    }
  }

  private keep(socket: net.Socket): void {
    socket.unref();
    socket.on('error', this.ignore);
    socket.once('close', () => {
      const i = this.opened.indexOf(socket);
      if (i >= 0) this.opened.splice(i, 1);
    });
    this.opened.push(socket);
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = this.opened.shift();
    if (!socket) return super.createConnection(options, callback);
    socket.off('error', this.ignore);
    socket.ref();
    return socket;
  }

  override destroy(): void {
    for (const socket of this.opened.splice(0)) socket.destroy();
    super.destroy();
  }
}

/**
 * HTTP/1.1 over at most MAX_HTTP1_CONNECTIONS kept-alive connections (directly or through the
 * agent's proxy). Requests beyond that wait here, before their timeout starts, for one in flight
 * to end; the agents' maxSockets holds the same limit should a connection be slow to come free.
 */
function http1(origin: URL, opts: TransportOptions, secure: tls.ConnectionOptions | undefined, spare: () => tls.TLSSocket | undefined) {
  const pool = { keepAlive: true, maxSockets: MAX_HTTP1_CONNECTIONS };
  let agent: http.Agent;
  let preconnecting: PreconnectingAgent | undefined;
  if (opts.proxy) {
    const url = proxyUrl(opts.proxy);
    agent = secure === undefined ? new HttpProxyAgent(url, pool) : new HttpsProxyAgent(url, { ...pool, ...secure });
  } else if (secure === undefined) {
    agent = preconnecting = new PreconnectingAgent(pool, origin);
  } else {
    agent = new ReusingAgent({ ...pool, ...secure }, spare);
  }
  // The TLS settings go with each request too: for the TLS connection to Vault inside the tunnel
  // HttpsProxyAgent takes only these (its own options are for the connection to the proxy), and
  // it leaves out the host, so that Vault's name is checked here (an IP address would be checked
  // as "localhost").
  const tlsFor = (url: URL): tls.ConnectionOptions | undefined =>
    secure && opts.proxy
      ? { ...secure, checkServerIdentity: (_host, cert) => tls.checkServerIdentity(url.hostname.replace(/^\[|\]$/g, ''), cert) }
      : secure;
  const inTurn = limiter(MAX_HTTP1_CONNECTIONS);
  const sendNow = async (req: HttpRequest): Promise<HttpResponse> => {
    const answer = await sendHttp1(
      { ...req, headers: { accept: 'application/json', ...req.headers } },
      { timeoutMs: opts.timeoutMs },
      { agent, tls: tlsFor(req.url) },
    );
    return { status: answer.status, body: parseBody(answer.text), protocol: 'http/1.1' };
  };
  return {
    send: (req: HttpRequest) => inTurn(() => sendNow(req)),
    /** Opens up to `count` connections ahead of the requests, where the agent can (plain http, no proxy). */
    preconnect: (count: number) => preconnecting?.preconnect(Math.min(count, MAX_HTTP1_CONNECTIONS)),
    close: () => agent.destroy(),
  };
}

/** Node's codes for an HTTP/2 session that broke the protocol (not a reset stream or a lost connection). */
const protocolErrors = new Set(['ERR_HTTP2_ERROR', 'ERR_HTTP2_SESSION_ERROR']);
const GOAWAY_PROTOCOL_ERROR = 1;
/** RST_STREAM code for a stream the client no longer wants. */
const NGHTTP2_CANCEL = 8;

/**
 * One HTTP/2 session to the origin, opened on first use (or by warmUp) and opened again after it
 * ends; null when the server chose HTTP/1.1, after which the HTTP/1.1 path is used for good. The
 * same holds when a server offers h2 but does not speak it (a front end that advertises h2 and
 * answers in HTTP/1.1): a session that breaks the protocol before its first answer turns the
 * origin to HTTP/1.1.
 */
class Http2Origin {
  private session?: Promise<http2.ClientHttp2Session | null>;
  private closed = false;
  /** Set when HTTP/2 turned out not to work with this server. */
  http1Only = false;
  /** What ended each session that ended in error (a TLS alert, a reset), for the requests it took down. */
  private readonly causes = new WeakMap<http2.ClientHttp2Session, Error>();
  /** Sessions that have delivered an answer: HTTP/2 works with them. */
  private readonly answered = new WeakSet<http2.ClientHttp2Session>();
  /** The connection on which the server chose HTTP/1.1, until the HTTP/1.1 path takes it. */
  private spare?: { socket: tls.TLSSocket; release: () => void };

  constructor(
    private readonly origin: URL,
    private readonly secure: () => tls.ConnectionOptions,
    private readonly timeoutMs: number,
  ) {}

  get(): Promise<http2.ClientHttp2Session | null> {
    if (this.http1Only) return Promise.resolve(null);
    this.session ??= this.open();
    return this.session;
  }

  noteAnswer(session: http2.ClientHttp2Session): void {
    this.answered.add(session);
  }

  /** Called with every failure on a session: a protocol error before any answer ends HTTP/2 here. */
  noteFailure(session: http2.ClientHttp2Session, code: string | number | undefined): void {
    const broken = typeof code === 'number' ? code === GOAWAY_PROTOCOL_ERROR : protocolErrors.has(code ?? '');
    if (broken && !this.answered.has(session)) this.http1Only = true;
  }

  /** The error behind a request's failure: the session's own, when the session went down. */
  causeOf(session: http2.ClientHttp2Session, err: unknown): unknown {
    const cause = (err as { cause?: unknown })?.cause;
    if (cause instanceof Error && typeof (cause as NodeJS.ErrnoException).code === 'string') return cause;
    return this.causes.get(session) ?? err;
  }

  /**
   * The open connection on which the server chose HTTP/1.1, once: it carries the first HTTP/1.1
   * request, so that the protocol choice costs no handshake and no connection of its own.
   */
  takeSpare(): tls.TLSSocket | undefined {
    const spare = this.spare;
    this.spare = undefined;
    if (!spare) return undefined;
    spare.release();
    if (spare.socket.destroyed || !spare.socket.writable) {
      spare.socket.destroy();
      return undefined;
    }
    return spare.socket;
  }

  close(): void {
    this.closed = true;
    this.spare?.socket.destroy();
    this.spare = undefined;
    void this.session?.then((s) => s?.close()).catch(() => undefined);
  }

  /** Keeps a connection on which the server chose HTTP/1.1 until the first HTTP/1.1 request. */
  private keepSpare(socket: tls.TLSSocket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    // Idle, it neither keeps the step alive nor fails it: a server that closes it leaves nothing to take.
    const ignore = () => undefined;
    const forget = () => {
      if (this.spare?.socket === socket) this.spare = undefined;
    };
    socket.unref();
    socket.on('error', ignore);
    socket.once('close', forget);
    const release = () => {
      socket.off('error', ignore);
      socket.off('close', forget);
      socket.ref();
    };
    this.spare = { socket, release };
  }

  private open(): Promise<http2.ClientHttp2Session | null> {
    const attempt = new Promise<http2.ClientHttp2Session | null>((resolve, reject) => {
      const host = this.origin.hostname.replace(/^\[|\]$/g, '');
      const secure = this.secure();
      // A connection the start-up entry opened: its TLS connection when the server is checked
      // against Node's own trust alone (as that one was), else its TCP connection to do TLS on.
      const ownTrust = secure.rejectUnauthorized === true && secure.secureContext === undefined;
      const early = ownTrust ? takeSocket(this.origin.href, 'tls') : undefined;
      const tcp = early ? undefined : takeSocket(this.origin.href, 'tcp');
      const socket =
        early?.socket ??
        tls.connect({
          ...secure,
          socket: tcp?.socket,
          host,
          port: Number(this.origin.port || 443),
          servername: isIP(host) ? undefined : host,
          ALPNProtocols: ['h2', 'http/1.1'],
        });
      const timer = setTimeout(() => socket.destroy(timeoutError(this.timeoutMs)), this.timeoutMs);
      let session: http2.ClientHttp2Session | undefined;
      const onError = (err: Error) => {
        // Before the session: the connection failed. After: it ends the session (a TLS alert such
        // as "certificate required" arrives after the handshake in TLS 1.3).
        if (session) {
          if (!this.causes.has(session)) this.causes.set(session, err);
          session.destroy();
          return;
        }
        clearTimeout(timer);
        reject(asTransportError(err));
      };
      socket.on('error', onError);
      const onSecure = () => {
        if (socket.alpnProtocol !== 'h2') {
          clearTimeout(timer);
          socket.off('error', onError);
          this.keepSpare(socket);
          resolve(null);
          return;
        }
        // Required here: loading node:http2 costs a few milliseconds, and only HTTP/2 needs it.
        const { connect } = require('node:http2') as typeof http2;
        const opened = connect(this.origin, { createConnection: () => socket });
        session = opened;
        const forget = () => {
          if (this.session === attempt) this.session = undefined;
        };
        opened.on('close', () => {
          clearTimeout(timer);
          forget();
          reject(
            asTransportError(this.causes.get(opened) ?? new TransportError('ECONNRESET', 'the connection closed before HTTP/2 began')),
          );
        });
        opened.on('goaway', (code: number) => {
          this.noteFailure(opened, code);
          forget();
        });
        opened.on('error', (err: NodeJS.ErrnoException) => {
          if (!this.causes.has(opened)) this.causes.set(opened, err);
          this.noteFailure(opened, err.code);
          forget();
        });
        // Usable once the server's settings are in: a burst of requests before them could exceed
        // the streams it allows at once and be refused; after them, Node holds back the excess.
        opened.once('remoteSettings', () => {
          clearTimeout(timer);
          // From now on an idle session never keeps the step alive; requests in flight do (their
          // timers).
          opened.unref();
          if (this.closed) opened.close();
          resolve(opened);
        });
      };
      if (early?.secure) onSecure();
      else socket.once('secureConnect', onSecure);
    });
    // A failed connection is not kept: the next request (or its retry) connects again.
    attempt.catch(() => {
      if (this.session === attempt) this.session = undefined;
    });
    return attempt;
  }
}

function sendHttp2(origin: Http2Origin, session: http2.ClientHttp2Session, req: HttpRequest, timeoutMs: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      origin.noteFailure(session, (err as NodeJS.ErrnoException)?.code);
      reject(asTransportError(origin.causeOf(session, err)));
    };
    const url = req.url;
    const payload = req.json === undefined ? undefined : JSON.stringify(req.json);
    const headers: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': url.pathname + url.search, accept: 'application/json' };
    for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = value;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: payload === undefined });
    } catch (err) {
      // Refused by the session itself (closed, or closing): no frame of it went out.
      settled = true;
      reject(asTransportError(err, false));
      return;
    }
    let status = 0;
    // Made before the answer's headers are seen: Node emits 'response' a tick late, after the DATA
    // frames that came in the same read.
    const body = answerBody(req);
    const timer = setTimeout(() => stream.destroy(timeoutError(timeoutMs)), timeoutMs);
    // Stopped: the stream is cancelled (RST_STREAM), the session and the other reads go on.
    const stop = (err: TransportError) => {
      clearTimeout(timer);
      settled = true;
      reject(err);
      stream.close(NGHTTP2_CANCEL);
    };
    stream.on('response', (h) => {
      status = Number(h[':status']);
      origin.noteAnswer(session);
      const declared = settled ? undefined : body.declared(status, h['content-length']);
      if (declared) stop(declared);
    });
    stream.on('data', (c: Buffer) => {
      const tooLarge = settled ? undefined : body.add(c);
      if (tooLarge) stop(tooLarge);
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      if (settled) return;
      if (!status) return fail(new TransportError('ECONNRESET', 'the connection closed before an answer'));
      settled = true;
      resolve({ status, body: parseBody(body.text()), protocol: 'h2' });
    });
    // Closed with neither an answer nor an error: the connection went away under the stream.
    stream.on('close', () => {
      clearTimeout(timer);
      if (!settled) fail(new TransportError('ECONNRESET', `the connection closed before an answer (HTTP/2 code ${stream.rstCode ?? 0})`));
    });
    if (payload !== undefined) stream.end(payload);
  });
}

export function createTransport(address: string, opts: TransportOptions): Transport {
  const origin = new URL(address);
  const secure = origin.protocol === 'https:' ? lazyTlsOptions(opts.tls) : undefined;
  // HTTP/2 needs a direct TLS connection: through a proxy (CONNECT) and over plain http the
  // requests use HTTP/1.1.
  const h2 = secure && !opts.proxy ? new Http2Origin(origin, secure, opts.timeoutMs) : undefined;
  let h1: ReturnType<typeof http1> | undefined;
  const viaHttp1 = () => (h1 ??= http1(origin, opts, secure?.(), () => h2?.takeSpare()));
  let latest: string | undefined;

  return {
    warmUp(connections = 1) {
      if (h2) h2.get().catch(() => undefined);
      else if (!secure && !opts.proxy) viaHttp1().preconnect(connections);
    },
    async send(req) {
      let res: HttpResponse | undefined;
      if (h2) {
        try {
          let session: http2.ClientHttp2Session | null;
          try {
            session = await h2.get();
          } catch (err) {
            // The connection failed before the request had one: nothing of it went out.
            throw asTransportError(err, false);
          }
          if (session) res = await sendHttp2(h2, session, req, opts.timeoutMs);
        } catch (err) {
          // The server offered h2 but broke it before answering anything: nothing was processed,
          // so the request goes again over HTTP/1.1, as every later one will.
          if (!h2.http1Only) throw err;
        }
      }
      res ??= await viaHttp1().send(req);
      latest = res.protocol;
      return res;
    },
    protocol: () => latest,
    close() {
      h2?.close();
      h1?.close();
    },
  };
}
