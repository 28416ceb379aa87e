// cert's inputs: the client certificate the TLS connections present. From the HashiCorp Vault
// service connection in 'vaultConnection' when its authentication is Certificate (Azure DevOps'
// built-in certificate scheme: one confidential field, `certificate`, holding the certificate and its
// private key in PEM), else the TLS inputs clientCertificate and clientKey, else the agent's
// Agent.ClientCert. The connection's pair goes into the Vault TLS settings, as the inputs' pair does.
import * as tl from 'azure-pipelines-task-lib/task';
import type { CertAuthConfig } from '../auth/cert';
import { loc } from './adapter';
import { AuthInputs, endpointAuthField } from './authInputContext';
import { clientPairMatches, input } from './inputFields';

/** The scheme name of ms.vss-endpoint.endpoint-auth-scheme-cert, as the agent passes it. */
export const CERT_SCHEME = 'Certificate';

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PRIVATE_KEY = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/;

/** Where the Vault address came from, for a message: the connection, the input, or the variable. */
function addressSource(vaultConnection: string): string {
  if (vaultConnection) return loc('FromVaultConnection', vaultConnection);
  return input('vaultAddress') ? loc('FromInput', 'vaultAddress') : 'variable VAULT_ADDR';
}

export function readCertInputs({ problems, vault, vaultConnection }: AuthInputs): CertAuthConfig {
  // Over plain http no TLS carries the certificate: the login would go without it.
  if (vault.address.startsWith('http://')) problems.push(loc('CertNeedsHttps', vault.address, addressSource(vaultConnection)));
  const scheme = vaultConnection ? (tl.getEndpointAuthorizationScheme(vaultConnection, true) ?? '') : '';
  if (scheme.toLowerCase() === CERT_SCHEME.toLowerCase()) {
    const source = loc('FromVaultConnection', vaultConnection);
    if (input('clientCertificate')) problems.push(loc('CertTwoSources', vaultConnection));
    const pem = endpointAuthField(vaultConnection, 'certificate');
    const cert = (pem.match(CERTIFICATE) ?? []).join('\n');
    const key = PRIVATE_KEY.exec(pem)?.[0];
    if (!cert || !key) {
      problems.push(loc('CertConnectionIncomplete', vaultConnection, cert ? loc('CertPartKey') : loc('CertPartCertificate')));
    } else if (!clientPairMatches(cert, key, undefined)) {
      problems.push(loc('CertConnectionMismatch', vaultConnection));
    } else {
      vault.tls = { ...vault.tls, cert: `${cert}\n`, key: `${key}\n`, passphrase: undefined };
    }
    return { method: 'cert', certificate: vault.tls.cert ?? '', source };
  }
  if (vault.tls.cert) {
    const source = input('clientCertificate') ? loc('FromInput', 'clientCertificate') : 'Agent.ClientCert';
    return { method: 'cert', certificate: vault.tls.cert, source };
  }
  // A clientCertificate that could not be read has its own problem already.
  if (!input('clientCertificate') && !input('clientKey')) problems.push(loc('CertMissing', vaultConnection ? loc('VaultConnectionScheme', vaultConnection, scheme || 'None') : ''));
  return { method: 'cert', certificate: '', source: '' };
}
