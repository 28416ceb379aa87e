// The bench's delaying proxy (test/emulators/delayProxy.ts), the network it stands for: bytes
// forwarded untouched and in order both ways; nothing reaches the server before the TCP
// handshake's round trip; every chunk half a round trip after it left, never sooner.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { DelayProxy } from '../emulators/delayProxy';

interface Seen {
  at: number;
  bytes: string;
}

describe('delaying proxy', function () {
  this.timeout(20_000);
  let server: net.Server;
  let proxy: DelayProxy | undefined;
  /** What the server received, and when; it answers each chunk with the same bytes upper-cased. */
  const atServer: Seen[] = [];
  const answered: Seen[] = [];
  before(async () => {
    server = net.createServer((s) => {
      s.setNoDelay(true);
      s.on('data', (d: Buffer) => {
        atServer.push({ at: performance.now(), bytes: d.toString() });
        answered.push({ at: performance.now(), bytes: d.toString().toUpperCase() });
        s.write(d.toString().toUpperCase());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  });
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    atServer.length = 0;
    answered.length = 0;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function through(rttMs: number): Promise<net.Socket> {
    proxy = new DelayProxy({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
    proxy.rttMs = rttMs;
    await proxy.start();
    const socket = net.connect(proxy.port, '127.0.0.1');
    socket.setNoDelay(true);
    return socket;
  }

  /** Sends each message once the answer to the one before has come back; when each left and came back. */
  async function exchange(socket: net.Socket, messages: string[]): Promise<{ sent: number[]; back: Seen[] }> {
    const sent: number[] = [];
    const back: Seen[] = [];
    for (const m of messages) {
      const answer = new Promise<void>((resolve) =>
        socket.once('data', (d: Buffer) => {
          back.push({ at: performance.now(), bytes: d.toString() });
          resolve();
        }),
      );
      sent.push(performance.now());
      socket.write(m);
      await answer;
    }
    return { sent, back };
  }

  for (const rtt of [0, 40]) {
    it(`RTT ${rtt} ms: forwards the bytes untouched and in order, both ways`, async () => {
      const socket = await through(rtt);
      const { back } = await exchange(socket, ['first', 'second', 'third ü']);
      socket.destroy();
      assert.deepEqual(
        atServer.map((s) => s.bytes),
        ['first', 'second', 'third ü'],
      );
      assert.deepEqual(
        back.map((s) => s.bytes),
        ['FIRST', 'SECOND', 'THIRD Ü'],
      );
      assert.equal(proxy!.connections, 1);
    });
  }

  it('delivers nothing before the handshake round trip, and each chunk half a round trip after it left, never sooner', async () => {
    const rtt = 40;
    const connecting = performance.now();
    const socket = await through(rtt);
    await new Promise((resolve) => socket.once('connect', resolve));
    const { sent, back } = await exchange(socket, ['a', 'b', 'c']);
    socket.destroy();
    // The proxy accepted after the client began to connect: the first byte may reach the server
    // one RTT (the handshake) and half an RTT (its own way) after that, at the earliest.
    assert.ok(atServer[0].at - connecting >= 1.5 * rtt, `first byte at the server ${atServer[0].at - connecting} ms after connecting`);
    for (const [i, s] of atServer.entries()) {
      assert.ok(s.at - sent[i] >= rtt / 2, `chunk ${i} reached the server ${s.at - sent[i]} ms after it left`);
      assert.ok(back[i].at - answered[i].at >= rtt / 2, `answer ${i} came back ${back[i].at - answered[i].at} ms after it left`);
    }
  });
});
