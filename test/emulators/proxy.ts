// An HTTP forward proxy on loopback, as an agent's corporate proxy: CONNECT tunnels for https
// targets, absolute-URI forwarding for http targets, optional Basic authentication (407 when
// missing or wrong), and a log of every request with the user it authenticated as.
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { closeServer, listen } from './serve';

export interface ProxyRecord {
  /** `CONNECT` for a tunnel, otherwise the forwarded method. */
  method: string;
  /** `host:port` of a tunnel, or the absolute URI of a forwarded request. */
  target: string;
  /** User name of the Proxy-Authorization header (never the password). */
  user?: string;
  /** False when the proxy answered 407. */
  authorized: boolean;
}

export interface ProxyOptions {
  /** Require Basic authentication with these credentials. */
  auth?: { username: string; password: string };
}

function credentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? { user: text, password: '' } : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

const hopByHop = new Set([
  'proxy-authorization',
  'proxy-connection',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export class ForwardProxy {
  readonly log: ProxyRecord[] = [];
  private server?: http.Server;
  private readonly tunnels = new Set<Duplex>();

  constructor(private readonly opts: ProxyOptions = {}) {}

  /** Targets of the CONNECT tunnels the proxy opened, e.g. `vault.example.com:8200`. */
  tunnelTargets(): string[] {
    return this.log.filter((r) => r.method === 'CONNECT' && r.authorized).map((r) => r.target);
  }

  /** Listens; resolves the proxy URL, e.g. `http://127.0.0.5:40123`. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = http.createServer((req, res) => this.forward(req, res));
    server.on('connect', (req: http.IncomingMessage, client: Duplex, head: Buffer) => this.tunnel(req, client, head));
    this.server = server;
    const actual = await listen(server, port, host);
    return `http://${host}:${actual}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.tunnels) socket.destroy();
    if (server) await closeServer(server);
  }

  /** Records the request; false (and the caller answers 407) when authentication fails. */
  private admit(method: string, target: string, header: string | undefined): boolean {
    const given = credentials(header);
    const wanted = this.opts.auth;
    const authorized = !wanted || (given?.user === wanted.username && given.password === wanted.password);
    this.log.push({ method, target, user: given?.user, authorized });
    return authorized;
  }

  private tunnel(req: http.IncomingMessage, client: Duplex, head: Buffer): void {
    this.tunnels.add(client);
    client.on('close', () => this.tunnels.delete(client));
    client.on('error', () => client.destroy());
    const target = req.url ?? '';
    if (!this.admit('CONNECT', target, req.headers['proxy-authorization'])) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    const colon = target.lastIndexOf(':');
    const host = target.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(target.slice(colon + 1));
    const upstream = net.connect(port, host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.tunnels.add(upstream);
    upstream.on('close', () => {
      this.tunnels.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {
      if (client.writable) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    client.on('close', () => upstream.destroy());
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const target = req.url ?? '';
    if (!this.admit(req.method ?? 'GET', target, req.headers['proxy-authorization'])) {
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="proxy"', 'Content-Length': '0' });
      res.end();
      return;
    }
    let url: URL;
    try {
      url = new URL(target);
      if (url.protocol !== 'http:') throw new Error('not http');
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('a forward proxy takes absolute http:// URIs');
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !hopByHop.has(name)));
    const upstream = http.request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 80,
        method: req.method,
        path: url.pathname + url.search,
        headers,
        agent: false,
      },
      (answer) => {
        res.writeHead(
          answer.statusCode ?? 502,
          Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !hopByHop.has(name))) as http.OutgoingHttpHeaders,
        );
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end();
    });
    req.pipe(upstream);
  }
}
