// HTTP to Vault on Node's own clients. Over TLS the connection offers HTTP/2 and HTTP/1.1 (ALPN),
// as the vault CLI does; Vault's TLS listener offers both. With HTTP/2 every request of a run
// shares one connection, so the reads in flight cost no extra handshakes. When the server (or a
// load balancer in front of it) picks HTTP/1.1, when Vault is plain http, and when the agent's
// proxy applies, requests go over kept-alive HTTP/1.1 connections instead.
//
// Nothing here follows a redirect (the token would travel with it) or reads proxy settings from
// the environment: the agent's proxy arrives as an argument.
import * as http from 'node:http';
import type * as http2 from 'node:http2';
import * as https from 'node:https';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { parse as parseJson } from 'lossless-json';
import type { ProxyConfig, TlsConfig } from './inputs';

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
}

export interface HttpResponse {
  status: number;
  /** Parsed JSON with numbers as LosslessNumber, the raw text when it is not JSON, undefined when empty. */
  body: unknown;
  /** 'h2' or 'http/1.1'. */
  protocol: string;
}

export interface TransportOptions {
  tls: TlsConfig;
  proxy?: ProxyConfig;
  timeoutMs: number;
}

/** No HTTP answer; `code` is Node's (ECONNREFUSED, CERT_HAS_EXPIRED, ETIMEDOUT, ...). */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface Transport {
  /** Starts connecting (TLS handshake, protocol choice) ahead of the first request. */
  warmUp(): void;
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
 * Vault's JSON, every number kept as the text Vault sent (a LosslessNumber): a secret such as
 * 12345678901234567890 or 0.10 must reach the pipeline as Vault holds it, which JSON.parse cannot
 * give. Objects are plain, `__proto__` an own key like any other.
 */
function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return parseJson(text);
  } catch {
    return text;
  }
}

function asTransportError(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const e = err as NodeJS.ErrnoException;
  return new TransportError(typeof e?.code === 'string' ? e.code : 'EUNKNOWN', e?.message ?? String(err));
}

const timeoutError = (ms: number) => new TransportError('ETIMEDOUT', `no answer within ${ms / 1000} s`);

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

/** HTTP/1.1 over kept-alive connections (directly or through the agent's proxy). */
function http1(opts: TransportOptions, secure: tls.ConnectionOptions | undefined) {
  let agent: http.Agent;
  if (opts.proxy) {
    const url = proxyUrl(opts.proxy);
    agent = secure === undefined ? new HttpProxyAgent(url, { keepAlive: true }) : new HttpsProxyAgent(url, { keepAlive: true, ...secure });
  } else {
    agent = secure === undefined ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true, ...secure });
  }
  const client = secure === undefined ? http : https;
  const send = (req: HttpRequest): Promise<HttpResponse> =>
    new Promise((resolve, reject) => {
      const payload = req.json === undefined ? undefined : JSON.stringify(req.json);
      const headers: Record<string, string | number> = { accept: 'application/json', ...req.headers };
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const request = client.request(req.url, { method: req.method, headers, agent });
      const timer = setTimeout(() => request.destroy(timeoutError(opts.timeoutMs)), opts.timeoutMs);
      request.on('error', (err) => {
        clearTimeout(timer);
        reject(asTransportError(err));
      });
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(asTransportError(err));
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: parseBody(Buffer.concat(chunks).toString('utf8')), protocol: 'http/1.1' });
        });
      });
      request.end(payload);
    });
  return { send, close: () => agent.destroy() };
}

/** Node's codes for an HTTP/2 session that broke the protocol (not a reset stream or a lost connection). */
const protocolErrors = new Set(['ERR_HTTP2_ERROR', 'ERR_HTTP2_SESSION_ERROR']);
const GOAWAY_PROTOCOL_ERROR = 1;

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

  close(): void {
    this.closed = true;
    void this.session?.then((s) => s?.close()).catch(() => undefined);
  }

  private open(): Promise<http2.ClientHttp2Session | null> {
    const attempt = new Promise<http2.ClientHttp2Session | null>((resolve, reject) => {
      const host = this.origin.hostname.replace(/^\[|\]$/g, '');
      const socket = tls.connect({
        ...this.secure(),
        host,
        port: Number(this.origin.port || 443),
        servername: isIP(host) ? undefined : host,
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      const timer = setTimeout(() => socket.destroy(timeoutError(this.timeoutMs)), this.timeoutMs);
      let session: http2.ClientHttp2Session | undefined;
      socket.on('error', (err) => {
        // Before the session: the connection failed. After: it ends the session (a TLS alert such
        // as "certificate required" arrives after the handshake in TLS 1.3).
        if (session) {
          if (!this.causes.has(session)) this.causes.set(session, err);
          session.destroy();
          return;
        }
        clearTimeout(timer);
        reject(asTransportError(err));
      });
      socket.once('secureConnect', () => {
        if (socket.alpnProtocol !== 'h2') {
          clearTimeout(timer);
          socket.destroy();
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
          reject(asTransportError(this.causes.get(opened) ?? new TransportError('ECONNRESET', 'the connection closed before HTTP/2 began')));
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
      });
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
      fail(err);
      return;
    }
    let status = 0;
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => stream.destroy(timeoutError(timeoutMs)), timeoutMs);
    stream.on('response', (h) => {
      status = Number(h[':status']);
      origin.noteAnswer(session);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      if (!status) return fail(new TransportError('ECONNRESET', 'the connection closed before an answer'));
      settled = true;
      resolve({ status, body: parseBody(Buffer.concat(chunks).toString('utf8')), protocol: 'h2' });
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
  let h1: ReturnType<typeof http1> | undefined;
  const viaHttp1 = () => (h1 ??= http1(opts, secure?.()));
  // HTTP/2 needs a direct TLS connection: through a proxy (CONNECT) and over plain http the
  // requests use HTTP/1.1.
  const h2 = secure && !opts.proxy ? new Http2Origin(origin, secure, opts.timeoutMs) : undefined;
  let latest: string | undefined;

  return {
    warmUp() {
      h2?.get().catch(() => undefined);
    },
    async send(req) {
      let res: HttpResponse | undefined;
      if (h2) {
        try {
          const session = await h2.get();
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
