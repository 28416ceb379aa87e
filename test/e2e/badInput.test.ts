// Bad inputs, one at a time, through the bundled task: each run fails naming the input, the value
// and the fix, publishes nothing, prints no stack trace, and (for input errors) sends nothing to
// Entra, Azure DevOps or Vault.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServiceEndpoint } from '../emulators/agentEnv';
import { AUTH_MOUNT, ROLE } from '../emulators/seed';
import { startWorld, TaskRun, VAULT_ADDRESS, World } from '../emulators/world';
import { checkRun } from '../helpers/checkRun';
import { vsoCommands } from '../helpers/output';

interface Override {
  inputs?: Record<string, string>;
  variables?: Record<string, string>;
  /** Service connections of other types (a HashiCorp Vault connection). */
  endpoints?: ServiceEndpoint[];
}

interface Expect {
  /** Found only after login (e.g. @version on a KV v1 mount): the run reaches Entra and Vault. */
  afterLogin?: boolean;
  /** Text the log must not show outside debug lines (task-lib itself debug-logs every input as read). */
  absent?: RegExp[];
}

type Case = [title: string, override: Override | ((world: World) => Override), expected: RegExp[], expect?: Expect];

const GOOD_LINE = 'secret/ci/production/db password | DB_PASSWORD';
/** A `secrets` input whose line 2 is `line`. */
const line2 = (line: string): Override => ({ inputs: { secrets: `${GOOD_LINE}\n${line}` } });
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The error names `secrets line 2` and quotes the entry. */
const atLine2 = (entry: string) => new RegExp(`secrets line 2: "${escapeRegExp(entry)}"`);

/** A file in the job's working directory, where a relative kubernetesTokenFile starts: its relative name. */
const workingFile = (world: World, name: string, content: string): string => {
  writeFileSync(join(dirname(world.taskDir), 's', name), content);
  return name;
};
/** A named pipe in the job's working directory that nothing writes to: a read of it waits for ever. */
const workingFifo = (world: World, name: string): string => {
  const path = join(dirname(world.taskDir), 's', name);
  if (!existsSync(path)) execFileSync('mkfifo', [path]);
  return name;
};
const jwtPart = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A service account token (unsigned: the task reads its claims only) that expired on 2023-11-14. */
const EXPIRED_SA_TOKEN = `${jwtPart({ alg: 'RS256', kid: 'k' })}.${jwtPart({ sub: 'system:serviceaccount:azp:azp-agent', aud: ['vault'], exp: 1700000000 })}.c2ln`;

const NOT_A_CERTIFICATE = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----';

/** A HashiCorp Vault service connection as the agent passes it, instead of the input vaultAddress. */
const vaultConnection = (
  scheme: string,
  parameters: Record<string, string> = {},
): Pick<Override, 'endpoints'> & { inputs: Record<string, string> } => ({
  inputs: { vaultAddress: '', vaultConnection: 'VAULTCONN' },
  endpoints: [{ id: 'VAULTCONN', url: VAULT_ADDRESS, scheme, parameters, data: { namespace: '', caCertificate: '' } }],
});
const approleNeeds = (what: string, input: string, variable: string) =>
  new RegExp(
    `The approle login method needs a ${what} and none was given\\. Set the input '${input}' from a secret variable \\(${input}: \\$\\(${variable}\\)\\), or choose in 'vaultConnection' a HashiCorp Vault service connection with AppRole authentication`,
  );

const cases: Case[] = [
  // Where Vault is
  [
    'no vaultAddress, no vaultConnection and no VAULT_ADDR',
    { inputs: { vaultAddress: '' } },
    [
      /No Vault address/,
      /set 'vaultConnection'.*or 'vaultAddress' \(for example https:\/\/vault\.example\.com:8200\), or the VAULT_ADDR pipeline variable/,
    ],
  ],
  [
    'vaultAddress without a scheme',
    { inputs: { vaultAddress: 'vault.example.com' } },
    [/The Vault address 'vault\.example\.com' \(from input 'vaultAddress'\)/, /Use the form https:\/\/vault\.example\.com:8200/],
  ],
  [
    'host:port without a scheme',
    { inputs: { vaultAddress: 'vault.example.com:8200' } },
    [/'vault\.example\.com:8200' \(from input 'vaultAddress'\)/, /Use the form https:\/\/vault\.example\.com:8200/],
  ],
  [
    'vaultAddress with an ftp scheme',
    { inputs: { vaultAddress: 'ftp://x' } },
    [/'ftp:\/\/x' \(from input 'vaultAddress'\)/, /http\(s\)/, /https:\/\/vault\.example\.com:8200/],
  ],
  [
    'vaultAddress ending in the API path /v1',
    { inputs: { vaultAddress: 'https://x/v1' } },
    [/'https:\/\/x\/v1' \(from input 'vaultAddress'\) ends in \/v1/, /without the API path, for example https:\/\/x\./],
  ],
  [
    'vaultAddress with a query string',
    { inputs: { vaultAddress: 'https://vault.example.com:8200/?ns=admin' } },
    [
      /'https:\/\/vault\.example\.com:8200\/\?ns=admin' \(from input 'vaultAddress'\) has a query/,
      /here https:\/\/vault\.example\.com:8200 \(set a namespace with 'vaultNamespace'\)/,
    ],
  ],
  [
    'vaultAddress with a user name and password, which the message does not repeat',
    { inputs: { vaultAddress: 'https://ci:hunter2-pass@vault.example.com:8200' } },
    [
      /'https:\/\/vault\.example\.com:8200\/' \(from input 'vaultAddress'\) contains a user name or password/,
      /here https:\/\/vault\.example\.com:8200\./,
    ],
    { absent: [/hunter2-pass/] },
  ],
  [
    'non-http address with credentials, which the message does not repeat',
    { inputs: { vaultAddress: 'ftp://ci:hunter2-pass@vault.example.com' } },
    [/'ftp:\/\/vault\.example\.com\/?' \(from input 'vaultAddress'\) is not a valid http\(s\) URL/],
    { absent: [/hunter2-pass/] },
  ],
  [
    'VAULT_ADDR variable that is not a URL',
    { inputs: { vaultAddress: '' }, variables: { VAULT_ADDR: 'vault:8200' } },
    [/'vault:8200' \(from variable VAULT_ADDR\)/, /Use the form https:\/\/vault\.example\.com:8200/],
  ],
  [
    'both vaultConnection and vaultAddress',
    { inputs: { vaultConnection: 'vault-prod' } },
    [/Set either 'vaultConnection' or 'vaultAddress', not both/],
  ],
  [
    'unknown vaultConnection',
    { inputs: { vaultAddress: '', vaultConnection: 'vault-typo' } },
    [/The Vault service connection 'vault-typo' is not available/, /Check the name in 'vaultConnection'/],
  ],
  [
    'malformed vaultNamespace',
    { inputs: { vaultNamespace: 'admin team' } },
    [/Input 'vaultNamespace' is 'admin team'/, /namespace path such as admin or admin\/team/],
  ],
  [
    'malformed authNamespace',
    { inputs: { authNamespace: 'admin/../root' } },
    [/Input 'authNamespace' is 'admin\/\.\.\/root'/, /namespace path such as admin or admin\/team/, /none of them '\.' or '\.\.'/],
  ],

  // Auth mount, role, resource
  [
    'authMount with the auth/ prefix',
    { inputs: { authMount: 'auth/ado' } },
    [/Input 'authMount' is 'auth\/ado'/, /without 'auth\/', for example 'ado'/],
  ],
  [
    'authMount with a space',
    { inputs: { authMount: 'a b' } },
    [/Input 'authMount' is 'a b'/, /names of letters, digits and - _ \. separated by \//, /for example 'azure' or 'ado'/],
  ],
  [
    'authMount with a .. segment',
    { inputs: { authMount: '../x' } },
    [/Input 'authMount' is '\.\.\/x'/, /none of them '\.' or '\.\.'/, /for example 'azure' or 'ado'/],
  ],
  ['empty role', { inputs: { role: '' } }, [/Input 'role' is required/, /for example azure-devops-production/]],
  [
    'role starting with -',
    { inputs: { role: '-x' } },
    [/Input 'role' is '-x'/, /must start and end with a letter, digit or _/, /for example 'azure-devops-production'/],
  ],
  [
    'role with a space',
    { inputs: { role: 'a b' } },
    [/Input 'role' is 'a b'/, /only letters, digits and - _ \./, /for example 'azure-devops-production'/],
  ],
  [
    'resource given as a scope',
    { inputs: { resource: 'api://vault-prod/.default' } },
    [/Input 'resource' is 'api:\/\/vault-prod\/\.default', which is a scope/, /without '\/\.default', for example 'api:\/\/vault-prod'/],
  ],
  [
    'resource with spaces',
    { inputs: { resource: 'https://management.azure.com/ extra' } },
    [/Input 'resource' is 'https:\/\/management\.azure\.com\/ extra'/, /audience configured as 'resource' on the Vault azure auth mount/],
  ],

  // The Azure connection
  [
    'unknown azureSubscription connection',
    { inputs: { azureSubscription: 'sc-does-not-exist' } },
    [
      /The service connection 'sc-does-not-exist' is not available/,
      /Check the name in 'azureSubscription'/,
      /Service connections > Security/,
    ],
  ],

  // The jwt method: which token, and what the agent must give for one
  [
    'jwt with an unknown jwtSource',
    { inputs: { authMethod: 'jwt', jwtSource: 'agent' } },
    [/^Input 'jwtSource' is 'agent'\. Use pipeline \(the pipeline's own OIDC token\) or serviceConnection/],
  ],
  [
    'jwt from a service connection without azureSubscription',
    { inputs: { authMethod: 'jwt', jwtSource: 'serviceConnection', azureSubscription: '' } },
    [
      /^Input 'azureSubscription' is required\. With jwtSource serviceConnection, name the Azure Resource Manager connection \(workload identity federation\)/,
    ],
  ],
  [
    'jwt from a service principal connection, which has no OIDC token',
    (world) => ({ inputs: { authMethod: 'jwt', jwtSource: 'serviceConnection', azureSubscription: world.ids.spKey.connectionId } }),
    [
      /The service connection '[0-9a-f-]{36}' uses the scheme ServicePrincipal, and Azure DevOps issues an OIDC token only for workload identity federation connections\. Convert the connection/,
    ],
  ],
  [
    'jwt where the agent sets no System.OidcRequestUri (Azure DevOps Server without OIDC)',
    { inputs: { authMethod: 'jwt' }, variables: { 'System.OidcRequestUri': '' } },
    [
      /^Azure DevOps did not give this job the variable System\.OidcRequestUri, where a task asks for the job's OIDC tokens/,
      /Log in with another authMethod/,
    ],
  ],
  [
    'jwt with a System.OidcRequestUri that is no URL',
    { inputs: { authMethod: 'jwt' }, variables: { 'System.OidcRequestUri': 'oidc' } },
    [/^The pipeline variable System\.OidcRequestUri is 'oidc', which is not an http\(s\) URL/],
  ],

  // The secrets input
  [
    'secrets line without a selector',
    line2('secret/ci/production/api'),
    [atLine2('secret/ci/production/api'), /a selector must follow the path: a key name, "\*" for every key, or "\."/],
  ],
  [
    'secrets version that is not a number',
    line2('secret/ci/production/db@x password | X'),
    [atLine2('secret/ci/production/db@x password | X'), /whole number of 1 or more.*\(found "@x"\)/],
  ],
  [
    'secrets version 0',
    line2('secret/ci/production/db@0 password | X'),
    [atLine2('secret/ci/production/db@0 password | X'), /whole number of 1 or more.*\(found "@0"\)/],
  ],
  [
    'secrets key with an unterminated quote',
    line2('secret/ci/production/tls "key with spaces | X'),
    [/secrets line 2: /, /is never closed; end a quoted key with '"'/],
  ],
  [
    'secrets "." without a target',
    line2('secret/ci/production/api .'),
    [
      atLine2('secret/ci/production/api .'),
      /needs a variable name after "\|", such as "secret\/ci\/production\/api \. \| APP_SECRET_JSON"/,
    ],
  ],
  [
    'secrets entry with two |',
    line2('secret/ci/production/api token | A | B'),
    [atLine2('secret/ci/production/api token | A | B'), /only one "\|"; write one entry per line/],
  ],
  [
    'secrets "*" to a file',
    line2('secret/ci/production/api * | file:API'),
    [atLine2('secret/ci/production/api * | file:API'), /cannot go to one file; name a key, or use "\."/],
  ],
  [
    'secrets empty file: target',
    line2('secret/ci/production/tls key | file:'),
    [atLine2('secret/ci/production/tls key | file:'), /nothing follows "file:"; give the variable that will hold the file's path/],
  ],
  [
    'secrets file: target ".."',
    line2('secret/ci/production/tls key | file:..'),
    [
      atLine2('secret/ci/production/tls key | file:..'),
      /"file:\.\." names a folder, not a file/,
      /give the variable that will hold the file's path a name with a letter, digit or "_", such as "\| file:TLS_CERT"/,
    ],
  ],
  [
    'secrets file: target "."',
    line2('secret/ci/production/tls key | file:.'),
    [atLine2('secret/ci/production/tls key | file:.'), /"file:\." names a folder, not a file/, /such as "\| file:TLS_CERT"/],
  ],
  [
    'secrets file: target NUL, a Windows device name, refused on every agent',
    line2('secret/ci/production/tls key | file:NUL'),
    [
      atLine2('secret/ci/production/tls key | file:NUL'),
      /"file:NUL" names a file that Windows reserves for the device NUL/,
      /choose another variable name after "file:", such as "\| file:APP_NUL"/,
    ],
  ],
  [
    'secrets nothing after |',
    line2('secret/ci/production/api token |'),
    [atLine2('secret/ci/production/api token |'), /nothing follows "\|"; give a variable name such as "\| DB_PASSWORD"/],
  ],
  [
    'secrets path naming only a mount',
    line2('secret password | X'),
    [atLine2('secret password | X'), /names only a mount; add the secret's path within it, such as secret\/app/],
  ],
  [
    'secrets path with a .. segment',
    line2('secret/ci/../other/team password | X'),
    [/secrets line 2: /, /has an empty, "\." or "\.\." segment/],
  ],
  [
    'secrets comment after ;',
    line2('secret/ci/production/api token | T; # note'),
    [/secrets line 2: "# note"/, /a comment must be on a line of its own/],
  ],
  [
    'secrets key with spaces not quoted',
    line2('secret/ci/production/tls key with spaces | X'),
    [/secrets line 2: /, /quote a key that contains spaces \("my key"\)/],
  ],
  [
    'secrets duplicate variable name',
    line2('secret/ci/production/db@1 password | DB_PASSWORD'),
    [
      atLine2('secret/ci/production/db@1 password | DB_PASSWORD'),
      /the variable "DB_PASSWORD" is already published by secrets line 1/,
      /rename one of them with "\| NAME"/,
    ],
  ],
  [
    'secrets duplicate variable name differing only in case',
    line2('secret/ci/production/db@1 password | db_password'),
    [
      atLine2('secret/ci/production/db@1 password | db_password'),
      /already published as "DB_PASSWORD" by secrets line 1: .*, and the two are one variable to the agent \(it ignores case/,
    ],
  ],
  [
    'secrets duplicate derived name',
    { inputs: { secrets: 'secret/ci/production/db db-user\nsecret/ci/production/db@1 db_user' } },
    [atLine2('secret/ci/production/db@1 db_user'), /the variable "DB_USER" is already published by secrets line 1/],
  ],
  [
    'secrets target with a reserved prefix',
    line2('secret/ci/production/api token | SECRET_X'),
    [
      atLine2('secret/ci/production/api token | SECRET_X'),
      /starts with "secret", and Azure DevOps hides variables/,
      /choose another name after "\|"/,
    ],
  ],
  [
    'secrets derived name with a reserved prefix',
    line2('secret/ci/production/db secret-key'),
    [
      atLine2('secret/ci/production/db secret-key'),
      /would be published as the variable "SECRET_KEY"/,
      /name it explicitly after "\|", such as "\| APP_SECRET_KEY"/,
    ],
  ],
  [
    'secrets target endpoint.url',
    line2('secret/ci/production/api url | endpoint.url'),
    [atLine2('secret/ci/production/api url | endpoint.url'), /starts with "endpoint"/],
  ],
  [
    'secrets target with a -',
    line2('secret/ci/production/db password | DB-PASSWORD'),
    [atLine2('secret/ci/production/db password | DB-PASSWORD'), /contains "-"; only letters, digits, "_" and "\." are allowed/],
  ],
  [
    'secrets "*" prefix with a -',
    line2('secret/ci/production/api * | API-'),
    [atLine2('secret/ci/production/api * | API-'), /the variable-name prefix "API-" contains "-"/, /choose another prefix after "\|"/],
  ],
  [
    'empty secrets without exportToken',
    { inputs: { secrets: '' } },
    [
      /The 'secrets' input has 1 problem\(s\)/,
      /no entries; add lines such as `secret\/ci\/db password \| DB_PASSWORD`/,
      /set 'exportToken: true'/,
    ],
  ],
  [
    'secrets with only comments',
    { inputs: { secrets: '# nothing yet\n\n' } },
    [/The 'secrets' input has 1 problem\(s\)/, /set 'exportToken: true'/],
  ],
  [
    '@version on a KV v1 mount, found after login',
    line2('kv1/app/legacy@2 token | X'),
    [/1 secret request\(s\) failed; no variables were published/, /'@2' needs a KV version 2 mount, but kv1\/ is .*; remove '@2'/],
    { afterLogin: true },
  ],

  // Numbers and booleans
  ['negative retries', { inputs: { retries: '-1' } }, [/Input 'retries' is '-1': use a whole number from 0 to 10/]],
  ['non-numeric retries', { inputs: { retries: 'three' } }, [/Input 'retries' is 'three': use a whole number from 0 to 10/]],
  ['retries above the limit', { inputs: { retries: '11' } }, [/Input 'retries' is '11': use a whole number from 0 to 10/]],
  ['timeoutSeconds 0', { inputs: { timeoutSeconds: '0' } }, [/Input 'timeoutSeconds' is '0': use a whole number from 1 to 600/]],
  [
    'fractional timeoutSeconds',
    { inputs: { timeoutSeconds: '1.5' } },
    [/Input 'timeoutSeconds' is '1\.5': use a whole number from 1 to 600/],
  ],
  [
    'timeoutSeconds with a unit',
    { inputs: { timeoutSeconds: '30s' } },
    [/Input 'timeoutSeconds' is '30s': use a whole number from 1 to 600/],
  ],
  ['concurrency 0', { inputs: { concurrency: '0' } }, [/Input 'concurrency' is '0': use a whole number from 1 to 128/]],
  ['concurrency above the limit', { inputs: { concurrency: '129' } }, [/Input 'concurrency' is '129': use a whole number from 1 to 128/]],
  ['non-boolean ignoreNotFound', { inputs: { ignoreNotFound: 'yes' } }, [/Input 'ignoreNotFound' is 'yes': use true or false/]],
  ['non-boolean exportToken', { inputs: { exportToken: '1' } }, [/Input 'exportToken' is '1': use true or false/]],
  ['non-boolean tlsSkipVerify', { inputs: { tlsSkipVerify: 'on' } }, [/Input 'tlsSkipVerify' is 'on': use true or false/]],

  // TLS
  [
    'caCertificate naming a file that does not exist',
    { inputs: { caCertificate: '/nonexistent/ca.pem' } },
    [
      /Input 'caCertificate' is neither PEM text \(starting with -----BEGIN\) nor the path of an existing file: no file at '\/nonexistent\/ca\.pem'/,
    ],
  ],
  [
    'caCertificate naming a folder',
    { inputs: { caCertificate: '/' } },
    [/^Input 'caCertificate' names '\/', which is a directory, not a regular file\. .*Give the path of the file itself\.$/],
  ],
  [
    'caCertificate naming a named pipe, which would keep the step waiting',
    (world) => ({ inputs: { caCertificate: workingFifo(world, 'ca-pipe') } }),
    [/^Input 'caCertificate' names 'ca-pipe', which is a named pipe \(FIFO\), not a regular file/],
  ],
  [
    'clientCertificate naming /dev/zero, which never ends',
    (world) => ({ inputs: { clientCertificate: '/dev/zero', clientKey: world.clientCert.keyPem } }),
    [/^Input 'clientCertificate' names '\/dev\/zero', which is a character device, not a regular file/],
  ],
  [
    'clientKey naming a 2 MiB file: refused with the cap, not read whole',
    (world) => ({
      inputs: {
        clientCertificate: world.clientCert.certPem,
        clientKey: workingFile(
          world,
          'huge.key',
          `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(2 * 1024 * 1024)}\n-----END PRIVATE KEY-----\n`,
        ),
      },
    }),
    [/^Input 'clientKey' names the file 'huge\.key', which is larger than 1024 KiB, the most the step reads for it/],
  ],
  [
    'caCertificate PEM text that is not a certificate',
    { inputs: { caCertificate: NOT_A_CERTIFICATE } },
    [/Input 'caCertificate' does not hold a PEM certificate \(-----BEGIN CERTIFICATE-----/],
  ],
  [
    'clientCertificate without clientKey',
    (world) => ({ inputs: { clientCertificate: world.clientCert.certPem } }),
    [/Inputs 'clientCertificate' and 'clientKey' go together: set both for mutual TLS, or neither/],
  ],
  [
    'clientKey that is not a key',
    (world) => ({ inputs: { clientCertificate: world.clientCert.certPem, clientKey: 'not a key' } }),
    [/Input 'clientKey' is neither PEM text/],
  ],
  [
    'clientKey of another certificate',
    (world) => ({ inputs: { clientCertificate: world.clientCert.certPem, clientKey: world.ca.keyPem } }),
    [
      /'clientCertificate' and 'clientKey' do not belong together: the key is not the certificate's private key/,
      /Give the key issued with that certificate/,
    ],
  ],

  // approle
  [
    'approle with neither role_id nor secret_id',
    { inputs: { authMethod: 'approle' } },
    [/^- /m, approleNeeds('role_id', 'approleRoleId', 'VAULT_ROLE_ID'), approleNeeds('secret_id', 'approleSecretId', 'VAULT_SECRET_ID')],
  ],
  [
    'approle with a Vault connection whose authentication is not AppRole',
    () => {
      const c = vaultConnection('None');
      return { ...c, inputs: { ...c.inputs, authMethod: 'approle', approleRoleId: 'role-id-of-ci' } };
    },
    [
      /needs a secret_id and none was given\. .* with AppRole authentication \(the Vault service connection 'VAULTCONN' has the authentication 'None'\)\.$/,
    ],
  ],
  [
    'approle secret_id of two lines',
    { inputs: { authMethod: 'approle', approleRoleId: 'role-id-of-ci', approleSecretId: 'first-line\nsecond-line' } },
    [/^The AppRole secret_id from input 'approleSecretId' holds more than one line: give the value alone, on one line\.$/],
  ],

  // cert
  [
    'cert with no client certificate anywhere',
    { inputs: { authMethod: 'cert' } },
    [
      /^The cert login method needs a client certificate and none was given\. Choose in 'vaultConnection' a HashiCorp Vault service connection with Certificate authentication, or set the inputs 'clientCertificate' and 'clientKey'/,
    ],
  ],
  [
    'cert with an http:// Vault address: refused before the login goes without the certificate',
    (world) => ({
      inputs: {
        authMethod: 'cert',
        vaultAddress: 'http://vault.example.com:8200',
        clientCertificate: world.clientCert.certPem,
        clientKey: world.clientCert.keyPem,
      },
    }),
    [
      /^authMethod 'cert' logs in with a TLS client certificate, which only an https:\/\/ connection carries, and the Vault address http:\/\/vault\.example\.com:8200 \(input 'vaultAddress'\) is http:\/\/.*Give the https:\/\/ address of Vault's TLS listener there\.$/,
    ],
  ],
  [
    'cert with a Vault connection whose Server URL is http://',
    (world) => {
      const c = vaultConnection('Certificate', { certificate: world.clientCert.combinedPem });
      c.endpoints = c.endpoints?.map((e) => ({ ...e, url: 'http://vault.example.com:8200' }));
      return { ...c, inputs: { ...c.inputs, authMethod: 'cert' } };
    },
    [/the Vault address http:\/\/vault\.example\.com:8200 \(Vault service connection 'VAULTCONN'\) is http:\/\//],
  ],
  [
    'cert with a Vault connection whose Certificate holds no private key',
    (world) => {
      const c = vaultConnection('Certificate', { certificate: world.clientCert.certPem });
      return { ...c, inputs: { ...c.inputs, authMethod: 'cert' } };
    },
    [
      /^The Certificate of the HashiCorp Vault service connection 'VAULTCONN' lacks its private key: paste into it the client certificate and its unencrypted private key, both in PEM/,
    ],
  ],
  [
    'cert with a Vault connection whose key is not the certificate’s',
    (world) => {
      const c = vaultConnection('Certificate', { certificate: world.clientCert.certPem + world.ca.keyPem });
      return { ...c, inputs: { ...c.inputs, authMethod: 'cert' } };
    },
    [/^The Certificate of the HashiCorp Vault service connection 'VAULTCONN' holds a private key that is not the certificate's/],
  ],
  [
    'cert with both a Vault connection’s certificate and clientCertificate',
    (world) => {
      const c = vaultConnection('Certificate', { certificate: world.clientCert.combinedPem });
      return {
        ...c,
        inputs: { ...c.inputs, authMethod: 'cert', clientCertificate: world.clientCert.certPem, clientKey: world.clientCert.keyPem },
      };
    },
    [
      /^Both the HashiCorp Vault service connection 'VAULTCONN' \(Certificate authentication\) and the input 'clientCertificate' give a client certificate: keep one of them\.$/,
    ],
  ],

  // kubernetes: the service account token file
  [
    'kubernetes with a token file that does not exist (no pod, or automountServiceAccountToken: false)',
    { inputs: { authMethod: 'kubernetes', kubernetesTokenFile: '/nonexistent/serviceaccount/token' } },
    [
      /^Input 'kubernetesTokenFile': no file at '\/nonexistent\/serviceaccount\/token'\. /,
      /Microsoft-hosted agent or a virtual machine has no such identity/,
      /automountServiceAccountToken: false on the pod or its service account: set it to true/,
      /projected serviceAccountToken volume: set 'kubernetesTokenFile' to its path/,
    ],
  ],
  [
    'kubernetes with a folder as the token file',
    { inputs: { authMethod: 'kubernetes', kubernetesTokenFile: '/' } },
    [/^Input 'kubernetesTokenFile' names '\/', which is a directory, not a regular file\./],
  ],
  [
    'kubernetes with a named pipe as the token file, which would keep the step waiting',
    (world) => ({ inputs: { authMethod: 'kubernetes', kubernetesTokenFile: workingFifo(world, 'token-pipe') } }),
    [
      /^Input 'kubernetesTokenFile' names 'token-pipe', which is a named pipe \(FIFO\), not a regular file\. The step reads only regular files/,
    ],
  ],
  [
    'kubernetes with /dev/zero as the token file, which never ends',
    { inputs: { authMethod: 'kubernetes', kubernetesTokenFile: '/dev/zero' } },
    [/^Input 'kubernetesTokenFile' names '\/dev\/zero', which is a character device, not a regular file/],
  ],
  [
    'kubernetes with a token file larger than any token',
    (world) => ({ inputs: { authMethod: 'kubernetes', kubernetesTokenFile: workingFile(world, 'big-token', 'a'.repeat(64 * 1024 + 1)) } }),
    [
      /^Input 'kubernetesTokenFile' names the file 'big-token', which is larger than 64 KiB, the most the step reads for it: it stopped reading there\./,
    ],
  ],
  [
    'kubernetes with an empty token file, relative to the working directory',
    (world) => ({ inputs: { authMethod: 'kubernetes', kubernetesTokenFile: workingFile(world, 'empty-token', '') } }),
    [/^Input 'kubernetesTokenFile': the file 'empty-token' is empty\./],
  ],
  [
    'kubernetes with the CA certificate beside the token instead of the token, whose content is not shown',
    (world) => ({ inputs: { authMethod: 'kubernetes', kubernetesTokenFile: workingFile(world, 'ca.crt', world.ca.certPem) } }),
    [/^Input 'kubernetesTokenFile': the file 'ca\.crt' does not hold a JWT .*not ca\.crt or namespace beside it\.$/],
    { absent: [/BEGIN CERTIFICATE/] },
  ],
  [
    'kubernetes with an expired token, a copy nothing renews, which is not shown',
    (world) => ({ inputs: { authMethod: 'kubernetes', kubernetesTokenFile: workingFile(world, 'old-token', EXPIRED_SA_TOKEN) } }),
    [/^Input 'kubernetesTokenFile': the token in 'old-token' expired at 2023-11-14T22:13:20\.000Z\. The kubelet renews a token it mounts/],
    { absent: [new RegExp(EXPIRED_SA_TOKEN.split('.')[1])] },
  ],

  // Everything at once
  [
    'several bad inputs, all listed in one message',
    {
      inputs: {
        vaultAddress: 'ftp://x',
        authMount: 'a b',
        role: '-x',
        retries: 'many',
        concurrency: '0',
        secrets: `${GOOD_LINE}\nsecret/ci/production/api . `,
      },
    },
    [
      /^- The Vault address 'ftp:\/\/x'/m,
      /^- Input 'authMount' is 'a b'/m,
      /^- Input 'role' is '-x'/m,
      /^- Input 'retries' is 'many'/m,
      /^- Input 'concurrency' is '0'/m,
      /^- The 'secrets' input has 1 problem\(s\):\n {2}secrets line 2: "secret\/ci\/production\/api \."/m,
    ],
  ],
  // aws and gcp: found before the AWS SDK, the metadata server or Vault is asked anything
  [
    'aws with an STS region that is no region',
    { inputs: { authMethod: 'aws', awsStsRegion: 'EU West' } },
    [
      /^Input 'awsStsRegion' is 'EU West', which is not an AWS region: leave it empty for the global endpoint sts\.amazonaws\.com, or name a region such as us-east-1/,
    ],
  ],
  [
    'aws with a server ID that is no header value',
    { inputs: { authMethod: 'aws', awsServerIdHeader: 'vault\u00e9.example.com' } },
    [/^Input 'awsServerIdHeader' is 'vault\u00e9\.example\.com', which is not a header value: use visible ASCII characters/],
  ],
  [
    'gcp with a service account that is neither default nor an email',
    { inputs: { authMethod: 'gcp', gcpServiceAccount: 'ci agent' } },
    [/^Input 'gcpServiceAccount' is 'ci agent', which is not a service account: leave it empty \(or 'default'\)/],
  ],
];

describe('e2e: bad inputs fail with the input, the value and the fix, publishing nothing', function () {
  this.timeout(120_000);
  let world: World;

  before(async () => {
    world = await startWorld();
  });
  after(async () => world?.stop());

  const base = { vaultAddress: VAULT_ADDRESS, authMount: AUTH_MOUNT, role: ROLE, secrets: GOOD_LINE, retries: '0' };

  /** Requests each service has seen so far. */
  const counts = () => ({
    vault: world.vault.requests.length,
    entra: world.entra.requests.length,
    azdo: world.azdo.requests.length,
    imds: world.imds.requests.length,
  });

  /** The failed run's error text, after the checks every bad-input run must pass. */
  function failedErrors(run: TaskRun): string {
    const { errorList } = checkRun(world, run, false);
    assert.deepEqual(
      vsoCommands(run.stdout)
        .filter((c) => c.command === 'task.setvariable')
        .map((c) => c.properties.variable),
      [],
      'no variable published',
    );
    assert.equal(errorList.length, 1, 'one error, listing every problem');
    assert.doesNotMatch(errorList[0], /undefined|\[object Object\]|%[sd]|NaN/, 'no unfilled or unrendered value');
    return errorList[0];
  }

  it(`covers at least 30 bad inputs (${cases.length})`, () => {
    assert.ok(cases.length >= 30);
  });

  for (const [title, override, expected, expect = {}] of cases) {
    it(title, async () => {
      const o = typeof override === 'function' ? override(world) : override;
      const before = counts();
      const run = await world.runTask({
        connection: world.ids.wif,
        inputs: { ...base, ...o.inputs },
        variables: o.variables,
        endpoints: o.endpoints,
      });
      const errors = failedErrors(run);
      for (const p of expected) assert.match(errors, p);
      const shown = run.stdout
        .split('\n')
        .filter((l) => !l.startsWith('##vso[task.debug]'))
        .join('\n');
      for (const p of expect.absent ?? []) assert.doesNotMatch(shown, p);
      const after = counts();
      if (expect.afterLogin) {
        assert.ok(after.vault > before.vault, 'the run reached Vault');
      } else {
        assert.deepEqual(after, before, 'no request reached Vault, Entra, Azure DevOps or IMDS');
      }
    });
  }

  it('a secrets input of only comments is no error when exportToken is on (the fix the message gives)', async () => {
    const run = await world.runTask({ connection: world.ids.wif, inputs: { ...base, exportToken: 'true', secrets: '# nothing yet\n' } });
    const complete = vsoCommands(run.stdout).filter((c) => c.command === 'task.complete');
    assert.deepEqual(
      complete.map((c) => c.properties.result),
      ['Succeeded'],
      run.stdout + run.stderr,
    );
  });
});
