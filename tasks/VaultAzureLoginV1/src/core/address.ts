// Vault addresses: which one names this machine, where plain http crosses no network.

/** True when the address's host is localhost or a loopback IP address (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
  const host = new URL(address).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
