// A fault proxy between the task and real OpenBao, as a flaky load balancer is: it terminates TLS
// as vault.example.com (a certificate from the world's CA, HTTP/1.1), forwards each request to
// OpenBao and reads OpenBao's whole answer — so OpenBao has performed the request — and then, for
// the requests a rule names, loses that answer: resets the connection, answers 502 itself, or holds
// the answer back past the client's timeout. Everything else passes through unchanged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, Server } from 'node:https';
import type { Socket } from 'node:net';
import { VAULT_HOST, VAULT_IP } from '../emulators/hosts';
import type { Ca } from '../emulators/pki';

/** How an answer is lost: the connection reset (RST), a gateway's 502, or the answer held back `lateMs`. */
export type LossMode = 'reset' | 'bad-gateway' | 'late';

export interface LossRule {
  method: string;
  /** The API path after /v1/, e.g. sys/wrapping/unwrap. */
  path: string;
  mode: LossMode;
  /** For 'late': how long the answer is held back. */
  lateMs?: number;
}

export interface FaultProxy {
  /** https://vault.example.com:<port> */
  address: string;
  /** Loses the answer to the next request the rule matches (once). */
  lose(rule: LossRule): void;
  /** The answers lost so far: "<method> <path> <mode> <OpenBao's status>". */
  lost: string[];
  stop(): Promise<void>;
}

/** The HTML page a gateway such as nginx answers with when its upstream fails. */
const BAD_GATEWAY =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n';

export async function startFaultProxy(ca: Ca, port: number, upstream: { port: number; caPem: string }): Promise<FaultProxy> {
  const { certPem, keyPem } = await ca.issue([VAULT_HOST]);
  const rules: LossRule[] = [];
  const lost: string[] = [];
  /** The TCP connections, by the client's port: a TLS socket cannot send a reset itself. */
  const sockets = new Map<number, Socket>();
  const held = new Set<NodeJS.Timeout>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const apiPath = (req.url ?? '').split('?')[0].replace(/^\/v1\//, '');
      const headers = { ...req.headers };
      delete headers.connection;
      const forward = request(
        {
          host: VAULT_IP,
          servername: VAULT_HOST,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
          ca: upstream.caPem,
          agent: false,
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            const index = rules.findIndex((r) => r.method === req.method && r.path === apiPath);
            const rule = index >= 0 ? rules.splice(index, 1)[0] : undefined;
            const pass = () => {
              if (res.destroyed) return;
              const type = answer.headers['content-type'];
              res.writeHead(answer.statusCode ?? 502, type ? { 'content-type': type } : {});
              res.end(Buffer.concat(body));
            };
            if (!rule) return pass();
            lost.push(`${req.method} ${apiPath} ${rule.mode} ${answer.statusCode}`);
            if (rule.mode === 'reset') {
              const tcp = sockets.get(req.socket.remotePort ?? 0);
              if (tcp) tcp.resetAndDestroy();
              else req.socket.destroy();
            } else if (rule.mode === 'bad-gateway') {
              res.writeHead(502, { 'content-type': 'text/html' });
              res.end(BAD_GATEWAY);
            } else {
              const timer = setTimeout(() => {
                held.delete(timer);
                pass();
              }, rule.lateMs ?? 10_000);
              held.add(timer);
            }
          });
        },
      );
      forward.on('error', () => {
        if (res.destroyed) return;
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end(BAD_GATEWAY);
      });
      forward.end(Buffer.concat(chunks));
    });
  };

  const server: Server = createServer({ cert: certPem, key: keyPem }, handle);
  server.on('connection', (s: Socket) => {
    const port = s.remotePort ?? 0;
    sockets.set(port, s);
    s.on('close', () => sockets.get(port) === s && sockets.delete(port));
  });
  // A client that gave up resets or closes its side: nothing to report.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, VAULT_IP, () => done());
  });
  return {
    address: `https://${VAULT_HOST}:${port}`,
    lose: (rule) => void rules.push(rule),
    lost,
    async stop() {
      for (const t of held) clearTimeout(t);
      for (const s of sockets.values()) s.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
