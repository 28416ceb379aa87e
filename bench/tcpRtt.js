// biome-ignore lint/suspicious/noRedundantUseStrict: CommonJS, not a module: the directive is what makes this file strict
'use strict';
// Preloaded by `npm run bench` into each run of the task (and of the barest client) at an RTT
// above 0, never shipped: the TCP handshake's round trip on the client's side. On loopback a
// connection completes at once; the delaying proxy holds the client's first bytes until the
// handshake's round trip has passed, but the client sees its connection up at once, and a client
// whose main thread is free just then sends its first flight (a TLS ClientHello) right away, even
// when on a real network it would be busy once the handshake ended (loading its code) and send it
// late. Here a socket's 'connect' (and 'ready') is emitted no sooner than one RTT after its first
// packet (after its name's lookup, or at connect() for an address): on the first turn of the
// event loop after that moment, as the kernel's completion would be handled. Until then the socket
// reads as connecting, and what is written waits for 'connect', as it does before it.
const net = require('node:net');
const { performance } = require('node:perf_hooks');

const rtt = Number(globalThis.__tcpRttMs);
const HELD = Symbol('held connect');

if (rtt > 0) {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    if (this[HELD] === undefined) {
      this[HELD] = { synAt: performance.now(), events: [] };
      // The first packet leaves once the name has resolved.
      this.once('lookup', () => (this[HELD].synAt = performance.now()));
    }
    return connect.apply(this, args);
  };
  const emit = net.Socket.prototype.emit;
  net.Socket.prototype.emit = function (event, ...rest) {
    const held = this[HELD];
    if (!held || held.released || (event !== 'connect' && event !== 'ready')) return emit.call(this, event, ...rest);
    const left = held.synAt + rtt - performance.now();
    if (left <= 0 && !held.events.length) {
      held.released = true;
      return emit.call(this, event, ...rest);
    }
    held.events.push([event, rest]);
    if (held.events.length === 1) {
      this.connecting = true;
      // A timer wakes in the millisecond the round trip ends (Node's timers fire up to a
      // millisecond late), and the event loop's next turns release the events when it has.
      const release = () => {
        const wait = held.synAt + rtt - performance.now();
        if (wait >= 1) return void setTimeout(release, Math.floor(wait));
        if (wait > 0) return void setImmediate(release);
        held.released = true;
        if (this.destroyed) return;
        this.connecting = false;
        for (const [e, r] of held.events) emit.call(this, e, ...r);
      };
      release();
    }
    return true;
  };
}
