// Names and addresses the private network namespace (scripts/netns.mjs) routes to the emulators.
// scripts/netns.mjs writes the same table into the namespace's /etc/hosts; the e2e suite checks
// that the two agree.

/** Entra ID (login.microsoftonline.com, and the legacy names arm-rest and Vault use). */
export const ENTRA_IP = '127.0.0.1';
export const ENTRA_HOST = 'login.microsoftonline.com';
/** arm-rest's non-MSAL ServicePrincipal path uses the endpoint's environmentAuthorityUrl, which is this host for AzureCloud. */
export const ENTRA_LEGACY_HOST = 'login.windows.net';
/** Issuer host of v1 access tokens (`https://sts.windows.net/<tenant>/`). */
export const STS_HOST = 'sts.windows.net';

/** Azure DevOps (the collection URI `https://dev.azure.com/<org>/`). */
export const AZDO_IP = '127.0.0.2';
export const AZDO_HOST = 'dev.azure.com';
/** Issuer of the OIDC tokens Azure DevOps signs itself (`https://vstoken.dev.azure.com/<org id>`): discovery and keys. */
export const VSTOKEN_HOST = 'vstoken.dev.azure.com';

/** The Vault server the task logs in to. */
export const VAULT_IP = '127.0.0.3';
export const VAULT_HOST = 'vault.example.com';

/** A Kubernetes API server (TokenReview), by its in-cluster name and a cluster URL a Vault outside the cluster uses. */
export const KUBERNETES_IP = '127.0.0.8';
export const KUBERNETES_HOST = 'k8s.example.com';
export const KUBERNETES_IN_CLUSTER_HOST = 'kubernetes.default.svc';

/** AWS STS (the global endpoint and the regional ones the tests sign for), over TLS. */
export const AWS_STS_IP = '127.0.0.10';
export const AWS_STS_HOSTS: readonly string[] = ['sts.amazonaws.com', 'sts.us-east-1.amazonaws.com', 'sts.eu-west-1.amazonaws.com'];
/** The GCE metadata server's name: on a VM it is 169.254.169.254, where imds.ts answers Google's paths too. */
export const GCE_METADATA_HOST = 'metadata.google.internal';

/** Azure Instance Metadata Service, added to the namespace's loopback device. */
export const IMDS_IP = '169.254.169.254';
export const IMDS_PORT = 80;

/** Every host name of the namespace's /etc/hosts, by address. */
export const NAMESPACE_HOSTS: ReadonlyArray<{ ip: string; names: readonly string[] }> = [
  { ip: '127.0.0.1', names: ['localhost', ENTRA_HOST, ENTRA_LEGACY_HOST, STS_HOST] },
  { ip: '::1', names: ['localhost'] },
  { ip: AZDO_IP, names: [AZDO_HOST, VSTOKEN_HOST] },
  { ip: VAULT_IP, names: [VAULT_HOST] },
  { ip: KUBERNETES_IP, names: [KUBERNETES_HOST, KUBERNETES_IN_CLUSTER_HOST] },
  { ip: AWS_STS_IP, names: AWS_STS_HOSTS },
  { ip: '169.254.169.254', names: [GCE_METADATA_HOST] },
];

/** Host names an Entra emulator certificate must cover. */
export const ENTRA_CERT_NAMES: readonly string[] = [ENTRA_HOST, ENTRA_LEGACY_HOST, STS_HOST];

/** Parses hosts-file text into name → address (first match wins, as the resolver does). */
export function parseHostsFile(text: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [ip, ...names] = line.split(/\s+/);
    for (const name of names) if (!byName.has(name)) byName.set(name, ip);
  }
  return byName;
}
