// How to reach Vault: address, namespaces, TLS, proxy and request limits, declared once. The
// pipeline fills it from the inputs; the client's options and the post-job step's saved state are
// derived from it (vault/client.ts, pipeline/state.ts), so a new setting is added here.

export interface TlsConfig {
  verify: boolean;
  /** Extra trusted CAs (PEM), from the input, the Vault connection and the agent. */
  ca: string[];
  cert?: string;
  key?: string;
  passphrase?: string;
}

export interface ProxyConfig {
  url: string;
  username?: string;
  password?: string;
}

/** What both the main and the post-job step need to talk to Vault. */
export interface VaultSettings {
  address: string;
  /** Namespace the secrets are read in. */
  namespace?: string;
  /** Namespace of the auth mount (login, token revocation). */
  authNamespace?: string;
  tls: TlsConfig;
  proxy?: ProxyConfig;
  timeoutSeconds: number;
  retries: number;
  concurrency: number;
}

/** The Vault a token came from, as the post-job step reaches it again: every setting but the reads in flight. */
export type VaultTarget = Omit<VaultSettings, 'concurrency'>;
