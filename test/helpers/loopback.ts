// Servers on loopback for the unit tests of outside requests: a plain http server that answers as a
// test says and records what it was asked, and one that takes TCP connections and never answers a
// TLS handshake (a connection that is never made, as a client over TLS sees it).
import * as http from 'node:http';
import * as net from 'node:net';

export interface LoopbackServer {
  /** http://127.0.0.1:<port> */
  origin: string;
  /** The requests it got, in order: path with query, and headers. */
  seen: Array<{ path: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** Answers each request with `handle`, which a test may swap between requests. */
export async function serveHttp(handle: (res: http.ServerResponse, req: http.IncomingMessage) => void): Promise<LoopbackServer> {
  const seen: LoopbackServer['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    handle(res, req);
  });
  const stop = await listen(server);
  return { origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen, close: stop };
}

/** Takes connections and never answers the TLS handshake; `origin` is https://127.0.0.1:<port>. */
export async function silentTls(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = net.createServer(() => undefined);
  const stop = await listen(server);
  return { origin: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: stop };
}

/** Listens on a free loopback port; the returned function closes the server and every connection it holds. */
async function listen(server: net.Server): Promise<() => Promise<void>> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
}
