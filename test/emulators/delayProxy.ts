// A TCP proxy that makes loopback behave like a network with a round-trip time: each connection
// pays one RTT before its first byte reaches the server (the TCP handshake), and every chunk takes
// RTT/2 each way, in order. TLS and HTTP/2 handshakes through it therefore pay their real round
// trips. It forwards bytes and never looks into them (TLS stays end to end). The kernel here has no
// netem qdisc, so this stands in for it inside the private network namespace.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

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
    const accepted = performance.now();
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

  /** The port it listens on (the one asked for, or the one the system chose for 0). */
  get port(): number {
    return (this.server?.address() as net.AddressInfo | null)?.port ?? this.listenAt.port;
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
 * `notBefore` + `delayMs`, in order; the end of the stream follows the last chunk. Node's timers
 * have whole milliseconds and fire late, never early: a timer wakes the queue in the millisecond
 * the next chunk is due and the event loop's next turns deliver it on time, so that no hop adds a
 * late timer's fraction. A chunk already due (no delay) is forwarded at once.
 */
function pipeDelayed(from: net.Socket, to: net.Socket, delayMs: number, notBefore: number): void {
  const queue: Array<{ when: number; chunk?: Buffer }> = [];
  let waiting = false;
  const deliver = (chunk?: Buffer) => {
    if (to.destroyed) return;
    if (chunk) to.write(chunk);
    else to.end();
  };
  const drain = () => {
    waiting = false;
    while (queue.length && queue[0].when <= performance.now()) deliver(queue.shift()!.chunk);
    if (!queue.length) return;
    waiting = true;
    const left = queue[0].when - performance.now();
    if (left >= 1) setTimeout(drain, Math.floor(left));
    else setImmediate(drain);
  };
  const push = (chunk?: Buffer) => {
    const now = performance.now();
    const when = Math.max(now, notBefore) + delayMs;
    if (!queue.length && when <= now) return deliver(chunk);
    queue.push({ when, chunk });
    if (!waiting) drain();
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push());
  from.on('close', () => {
    if (!queue.length) to.destroy();
  });
}
