// Connections the start-up entry opened before the main bundle loaded (pipeline/startup.ts), handed
// to whichever client asks for their origin first. The entry and the bundle are separate files, so
// the hand-over goes through one process-wide slot rather than a module's own variables.
import type * as net from 'node:net';
import type * as tls from 'node:tls';

/**
 * `tls`: a TLS connection that offered h2 and http/1.1 (vault/transport.ts's offer) and checks the
 * server against Node's own trust (no custom CA, no client certificate, verification on); `https`:
 * the same without ALPN, as Node's https module connects; `tcp`: a TCP connection on which the
 * client does its own TLS, or plain http.
 */
export type EarlyKind = 'tls' | 'https' | 'tcp';

interface EarlySocket {
  kind: EarlyKind;
  socket: net.Socket;
  /** The TCP connection a TLS one was begun on while it was still connecting. */
  beneath?: net.Socket;
  /** TLS: the handshake is done. */
  secure: boolean;
}

interface Early {
  sockets: Map<string, EarlySocket>;
}

const SLOT = Symbol.for('vault-azure-login.early-connections');

function early(): Early {
  const g = globalThis as { [SLOT]?: Early };
  g[SLOT] ??= { sockets: new Map() };
  return g[SLOT];
}

const key = (origin: string, kind: EarlyKind) => `${kind} ${new URL(origin).origin}`;

/**
 * Keeps `socket` (begun on the TCP connection `beneath`, if given) for the first client of
 * `origin` that asks for a connection of this kind. Until then it neither keeps the process alive
 * nor fails it.
 */
export function offerSocket(origin: string, kind: EarlyKind, socket: net.Socket, beneath?: net.Socket): void {
  const entry: EarlySocket = { kind, socket, beneath, secure: false };
  const ignore = () => undefined;
  for (const s of [socket, beneath]) {
    s?.on('error', ignore);
    s?.unref();
  }
  // The TLS connection learns of its TCP connection's failure only later, on its own: it fails with
  // it at once, so that nobody takes it in between and waits for an error already given.
  beneath?.once('error', (err) => socket.destroy(err));
  if (kind !== 'tcp') socket.once('secureConnect', () => (entry.secure = true));
  early().sockets.set(key(origin, kind), entry);
}

/**
 * The connection opened early to `origin`, once, if it is still usable; else undefined and the
 * client connects as usual (an early connection that failed is not the client's failure: its own
 * attempt reports what happens).
 */
export function takeSocket(origin: string, kind: 'tls' | 'https'): { socket: tls.TLSSocket; secure: boolean } | undefined;
export function takeSocket(origin: string, kind: 'tcp'): { socket: net.Socket } | undefined;
export function takeSocket(origin: string, kind: EarlyKind): { socket: net.Socket; secure?: boolean } | undefined {
  const sockets = early().sockets;
  const k = key(origin, kind);
  const entry = sockets.get(k);
  if (!entry) return undefined;
  sockets.delete(k);
  const { socket, beneath } = entry;
  if (socket.destroyed || socket.readyState === 'closed' || (!socket.connecting && !socket.writable)) {
    socket.destroy();
    return undefined;
  }
  socket.ref();
  beneath?.ref();
  return { socket, secure: entry.secure };
}

/**
 * Resolves once the TCP connection under the early connection of this kind to `origin` is no longer
 * connecting: connected (a TLS connection begun on it has then sent its first flight) or failed.
 * Undefined when there is no such connection or someone took it.
 */
export function whenConnected(origin: string, kind: EarlyKind): Promise<void> | undefined {
  const entry = early().sockets.get(key(origin, kind));
  return entry && tcpDone(entry);
}

/**
 * The same for the first connection opened early (the step's first request goes there); at once
 * when there is none.
 */
export function whenFirstConnected(): Promise<void> {
  const first = early().sockets.values().next().value;
  return first ? tcpDone(first) : Promise.resolve();
}

/** Resolves once the TCP connection under `entry` is no longer connecting. */
function tcpDone(entry: EarlySocket): Promise<void> {
  const tcp = entry.beneath ?? entry.socket;
  return tcp.connecting ? onceAny(tcp, ['connect', 'error', 'close']) : Promise.resolve();
}

/** Resolves at the first of `events` that `socket` emits. */
export function onceAny(socket: net.Socket, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    for (const event of events) socket.once(event, () => resolve());
  });
}

/** Whether a connection of this kind to `origin` was opened early and nobody has taken it yet. */
export function hasSocket(origin: string, kind: EarlyKind): boolean {
  try {
    return early().sockets.has(key(origin, kind));
  } catch {
    return false;
  }
}

/** Lets go of every connection nobody took (tests, and a step that ends before using them). */
export function dropEarly(): void {
  const e = early();
  for (const { socket } of e.sockets.values()) socket.destroy();
  e.sockets.clear();
}
