// A TCP proxy that makes loopback behave like a network with a round-trip time: each connection
// pays one RTT before its first byte reaches the server (the TCP handshake), and every chunk takes
// RTT/2 each way, in order. TLS and HTTP/2 handshakes through it therefore pay their real round
// trips. It forwards bytes and never looks into them (TLS stays end to end). The kernel here has no
// netem qdisc, so this stands in for it inside the private network namespace.
import * as net from 'node:net';

export class DelayProxy {
  /** The round-trip time it adds; may change between connections. */
  rttMs = 0;
  /** Connections accepted so far. */
  connections = 0;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly listenAt: { host: string; port: number },
    private readonly target: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenAt.port, this.listenAt.host, () => resolve());
    });
    this.server = server;
  }

  private accept(client: net.Socket): void {
    this.connections++;
    const rtt = this.rttMs;
    const accepted = Date.now();
    const upstream = net.connect(this.target.port, this.target.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    }
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    // Client to server: nothing arrives before the handshake's round trip, then RTT/2 per chunk.
    pipeDelayed(client, upstream, rtt / 2, accepted + rtt);
    pipeDelayed(upstream, client, rtt / 2, 0);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * Forwards `from` to `to`, each chunk delivered `delayMs` after it arrived but never before
 * `notBefore` + `delayMs`, in order; the end of the stream follows the last chunk.
 */
function pipeDelayed(from: net.Socket, to: net.Socket, delayMs: number, notBefore: number): void {
  const queue: Array<{ when: number; chunk?: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    while (queue.length && queue[0].when <= Date.now()) {
      const { chunk } = queue.shift()!;
      if (to.destroyed) return;
      if (chunk) to.write(chunk);
      else to.end();
    }
    if (queue.length) timer = setTimeout(drain, queue[0].when - Date.now());
  };
  const push = (chunk?: Buffer) => {
    queue.push({ when: Math.max(Date.now(), notBefore) + delayMs, chunk });
    if (!timer) timer = setTimeout(drain, Math.max(0, queue[0].when - Date.now()));
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push());
  from.on('close', () => {
    if (!queue.length) to.destroy();
  });
}
