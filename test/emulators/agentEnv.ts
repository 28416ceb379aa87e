// Builds the environment the Azure Pipelines agent gives a task process: pipeline variables,
// the job's System.AccessToken connection, AzureRM service connections (ENDPOINT_*), task inputs
// (INPUT_*), and the test CA, so a child process runs the real task code against the emulators.

export type AzureRmAuth =
  | { scheme: 'WorkloadIdentityFederation'; tenantId: string; clientId: string; issuer?: string; subject?: string }
  | { scheme: 'ServicePrincipal'; authenticationType?: 'spnKey'; tenantId: string; clientId: string; secret: string }
  | { scheme: 'ServicePrincipal'; authenticationType: 'spnCertificate'; tenantId: string; clientId: string; certificatePem: string }
  | { scheme: 'ManagedServiceIdentity'; tenantId: string };

export interface AzureRmConnection {
  /** Service connection id (what the task's connectedServiceName input holds). */
  id: string;
  name?: string;
  auth: AzureRmAuth;
  /** ENDPOINT_URL; default https://management.azure.com/ */
  url?: string;
  /** Default AzureCloud. */
  environment?: string;
  subscriptionId?: string;
  subscriptionName?: string;
  /** Extra or overriding endpoint data (key as the agent spells it, e.g. environmentAuthorityUrl). */
  data?: Record<string, string>;
}

/**
 * A service connection of another type (e.g. the extension's `hashicorpvault`): the agent passes
 * its URL, its scheme's name (e.g. UsernamePassword for the built-in basic scheme), each field of
 * the scheme and each other field (azure-pipelines-agent: ENDPOINT_URL_, ENDPOINT_AUTH_SCHEME_,
 * ENDPOINT_AUTH_PARAMETER_<id>_<KEY>, ENDPOINT_DATA_<id>_<KEY>, keys upper-cased).
 */
export interface ServiceEndpoint {
  id: string;
  url: string;
  scheme: string;
  parameters?: Record<string, string>;
  data?: Record<string, string>;
}

export interface AgentEnvOptions {
  /** System.CollectionUri, with trailing slash (e.g. the Azure DevOps emulator's url). */
  collectionUri: string;
  projectId: string;
  projectName: string;
  planId: string;
  jobId: string;
  /** System.HostType; default build. */
  hostType?: string;
  /** System.AccessToken of the job. */
  systemAccessToken: string;
  /** Agent.TempDirectory (arm-rest writes here). */
  tempDir: string;
  /** System.DefaultWorkingDirectory, which the agent also makes the task's working directory. */
  workingDirectory: string;
  /** Test CA certificate path, exported as NODE_EXTRA_CA_CERTS. */
  caCertPath?: string;
  connections: AzureRmConnection[];
  /** Service connections of other types the step references. */
  endpoints?: ServiceEndpoint[];
  /**
   * The task's inputs as task.json declares them: the agent passes every one, with its default
   * (or '') unless `inputs` sets it.
   */
  taskInputs?: ReadonlyArray<{ name: string; defaultValue?: string | boolean }>;
  /** Task inputs by name (INPUT_<NAME>), as the step sets them. */
  inputs?: Record<string, string>;
  /** Pipeline variables by name (`a.b` → A_B), e.g. { USE_MSAL: 'true', 'System.Debug': 'true' }. */
  variables?: Record<string, string>;
  /** Secret pipeline variables by name (`a.b` → SECRET_A_B), e.g. { 'Agent.ProxyPassword': '…' }. */
  secretVariables?: Record<string, string>;
  /** Variables of the process environment kept for the child (default: PATH, HOME, LANG, TMPDIR, VAL_NETNS). */
  inherit?: string[];
}

const DEFAULT_INHERIT = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'VAL_NETNS', 'SystemRoot'];

/** Endpoint data the agent passes for an AzureCloud AzureRM connection. */
export const AZURE_CLOUD_ENDPOINT_DATA: Readonly<Record<string, string>> = {
  environment: 'AzureCloud',
  scopeLevel: 'Subscription',
  environmentUrl: 'https://management.azure.com/',
  managementPortalUrl: 'https://manage.windowsazure.com/',
  serviceManagementUrl: 'https://management.core.windows.net/',
  activeDirectoryServiceEndpointResourceId: 'https://management.core.windows.net/',
  galleryUrl: 'https://gallery.azure.com/',
  activeDirectoryAuthority: 'https://login.microsoftonline.com/',
  environmentAuthorityUrl: 'https://login.windows.net/',
  graphUrl: 'https://graph.windows.net/',
  microsoftGraphUrl: 'https://graph.microsoft.com/',
  armManagementPortalUrl: 'https://portal.azure.com/',
  resourceManagerUrl: 'https://management.azure.com/',
  sqlDatabaseDnsSuffix: '.database.windows.net',
  AzureKeyVaultDnsSuffix: 'vault.azure.net',
  AzureKeyVaultServiceEndpointResourceId: 'https://vault.azure.net',
  StorageDiscoveryUrl: 'https://management.azure.com/',
  EnableAdfsAuthentication: 'false',
};

/** Env name of a pipeline variable: `.` and spaces → `_`, upper-cased. */
export function variableEnvName(name: string): string {
  return name.replace(/[. ]/g, '_').toUpperCase();
}

function authParameters(auth: AzureRmAuth): Record<string, string> {
  switch (auth.scheme) {
    case 'WorkloadIdentityFederation':
      return {
        serviceprincipalid: auth.clientId,
        tenantid: auth.tenantId,
        ...(auth.issuer ? { workloadIdentityFederationIssuer: auth.issuer } : {}),
        ...(auth.subject ? { workloadIdentityFederationSubject: auth.subject } : {}),
      };
    case 'ManagedServiceIdentity':
      return { tenantid: auth.tenantId };
    case 'ServicePrincipal':
      return auth.authenticationType === 'spnCertificate'
        ? {
            serviceprincipalid: auth.clientId,
            tenantid: auth.tenantId,
            authenticationType: 'spnCertificate',
            servicePrincipalCertificate: auth.certificatePem,
          }
        : { serviceprincipalid: auth.clientId, tenantid: auth.tenantId, authenticationType: 'spnKey', serviceprincipalkey: auth.secret };
  }
}

/**
 * The environment of a task process, built from scratch (only `inherit` comes from process.env),
 * as the agent builds it (azure-pipelines-agent Handler.cs, TaskRunner.cs): every variable of the
 * job by its env name, their names listed in VSTS_PUBLIC_VARIABLES; secret variables as
 * SECRET_<NAME>, listed in VSTS_SECRET_VARIABLES; every task.json input, trimmed, with its default
 * when the step does not set it; the endpoints the step references and the job's own.
 */
export function agentEnv(options: AgentEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of options.inherit ?? DEFAULT_INHERIT) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env.TF_BUILD = 'True';
  const variables: Record<string, string> = {
    'Agent.OS': 'Linux',
    'Agent.Version': '4.255.0',
    'Agent.TempDirectory': options.tempDir,
    'Agent.WorkFolder': options.tempDir,
    'System.CollectionUri': options.collectionUri,
    'System.TeamFoundationCollectionUri': options.collectionUri,
    'System.TeamFoundationServerUri': options.collectionUri,
    'System.TeamProject': options.projectName,
    'System.TeamProjectId': options.projectId,
    'System.HostType': options.hostType ?? 'build',
    'System.PlanId': options.planId,
    'System.JobId': options.jobId,
    // Where a task asks for the job's OIDC tokens (Azure DevOps Services sets it for every job).
    'System.OidcRequestUri': `${options.collectionUri}${options.projectId}/_apis/distributedtask/hubs/${options.hostType ?? 'build'}/plans/${options.planId}/jobs/${options.jobId}/oidctoken`,
    'System.ServerType': 'Hosted',
    'System.DefaultWorkingDirectory': options.workingDirectory,
    ...options.variables,
  };
  for (const [name, value] of Object.entries(variables)) env[variableEnvName(name)] = value;
  env.VSTS_PUBLIC_VARIABLES = JSON.stringify(Object.keys(variables));
  const secrets = options.secretVariables ?? {};
  for (const [name, value] of Object.entries(secrets)) env[`SECRET_${variableEnvName(name)}`] = value;
  if (Object.keys(secrets).length > 0) env.VSTS_SECRET_VARIABLES = JSON.stringify(Object.keys(secrets));
  Object.assign(env, {
    ENDPOINT_URL_SYSTEMVSSCONNECTION: options.collectionUri,
    ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION: 'OAuth',
    ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN: options.systemAccessToken,
    ENDPOINT_AUTH_SYSTEMVSSCONNECTION: JSON.stringify({ parameters: { AccessToken: options.systemAccessToken }, scheme: 'OAuth' }),
  });
  if (options.caCertPath) env.NODE_EXTRA_CA_CERTS = options.caCertPath;

  for (const c of options.connections) {
    const id = c.id;
    const parameters = authParameters(c.auth);
    env[`ENDPOINT_URL_${id}`] = c.url ?? 'https://management.azure.com/';
    env[`ENDPOINT_AUTH_SCHEME_${id}`] = c.auth.scheme;
    env[`ENDPOINT_AUTH_${id}`] = JSON.stringify({ parameters, scheme: c.auth.scheme });
    for (const [key, value] of Object.entries(parameters)) env[`ENDPOINT_AUTH_PARAMETER_${id}_${key.toUpperCase()}`] = value;
    const data: Record<string, string> = {
      ...(c.environment === undefined || c.environment === 'AzureCloud' ? AZURE_CLOUD_ENDPOINT_DATA : { environment: c.environment }),
      subscriptionId: c.subscriptionId ?? '00000000-0000-0000-0000-000000000000',
      subscriptionName: c.subscriptionName ?? 'Test Subscription',
      ...c.data,
    };
    for (const [key, value] of Object.entries(data)) env[`ENDPOINT_DATA_${id}_${key.toUpperCase()}`] = value;
  }
  for (const e of options.endpoints ?? []) {
    const parameters = e.parameters ?? {};
    env[`ENDPOINT_URL_${e.id}`] = e.url;
    env[`ENDPOINT_AUTH_SCHEME_${e.id}`] = e.scheme;
    env[`ENDPOINT_AUTH_${e.id}`] = JSON.stringify({ parameters, scheme: e.scheme });
    for (const [key, value] of Object.entries(parameters)) env[`ENDPOINT_AUTH_PARAMETER_${e.id}_${key.toUpperCase()}`] = value;
    for (const [key, value] of Object.entries(e.data ?? {})) env[`ENDPOINT_DATA_${e.id}_${key.toUpperCase()}`] = value;
  }
  const inputs: Record<string, string> = {};
  for (const input of options.taskInputs ?? []) inputs[input.name] = String(input.defaultValue ?? '').trim();
  for (const [name, value] of Object.entries(options.inputs ?? {})) inputs[name] = value.trim();
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  return env;
}
