// The jwt method's inputs, checked before any request: which token (`jwtSource`), the AzureRM
// connection for `serviceConnection` (workload identity federation: no other scheme has an OIDC
// token), and what the agent must give for any OIDC token: System.OidcRequestUri and the job's
// access token. Each problem names the input or variable, the value seen and the fix.
import * as tl from 'azure-pipelines-task-lib/task';
import type { JwtAuthConfig, JwtSource } from '../auth/jwt';
import { loc } from './adapter';
import { input } from './inputFields';
import { jobAccessToken } from './oidcToken';

const SOURCES: readonly JwtSource[] = ['pipeline', 'serviceConnection'];

export function readJwtInputs(problems: string[]): JwtAuthConfig {
  const raw = input('jwtSource');
  let source: JwtSource = 'pipeline';
  if (raw) {
    const known = SOURCES.find((s) => s.toLowerCase() === raw.toLowerCase());
    if (known) source = known;
    else problems.push(loc('JwtSourceInvalid', raw));
  }

  let connection = '';
  if (source === 'serviceConnection') {
    connection = input('azureSubscription');
    if (!connection) problems.push(loc('InputRequired', 'azureSubscription', loc('JwtConnectionHint')));
    else if (!tl.getEndpointUrl(connection, true)) problems.push(loc('ConnectionNotFound', connection));
    else {
      const scheme = tl.getEndpointAuthorizationScheme(connection, true) || 'ServicePrincipal';
      if (scheme !== 'WorkloadIdentityFederation') problems.push(loc('JwtConnectionScheme', connection, scheme));
    }
  }

  const requestUri = (tl.getVariable('System.OidcRequestUri') ?? '').trim();
  if (!requestUri) problems.push(loc('JwtOidcUriMissing'));
  else if (!/^https?:\/\//i.test(requestUri) || !URL.canParse(requestUri)) problems.push(loc('JwtOidcUriInvalid', requestUri));
  if (!jobAccessToken()) problems.push(loc('JwtAccessTokenMissing'));

  return { method: 'jwt', source, requestUri, connection };
}
