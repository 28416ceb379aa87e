// Where a failure is explained: each message the task can fail with has an entry in the
// troubleshooting page, at an anchor named after its key, and the log links the entries of the
// messages a failure is made of, so the reader lands on the cause and the fix at once.

/** The troubleshooting page as published beside the Marketplace page. */
export const TROUBLESHOOTING_URL = 'https://github.com/vault-azure-login/vault-azure-login/blob/main/docs/troubleshooting.md';

/**
 * Messages with no troubleshooting entry: progress lines of a run that works, and fragments that
 * only ever appear inside another message (which has the entry).
 */
export const NO_ENTRY: ReadonlySet<string> = new Set([
  'SeeTroubleshooting', // the line that links the entries of a failure
  // progress lines of the main step
  'TokenRequested',
  'TokenClaims',
  'LoggingIn',
  'LoggingInNoRole',
  'LoggedIn',
  'ReadingSecrets',
  'ReadSummary',
  'Published',
  'PublishedPlain',
  'PublishedSetting',
  'PublishedCount',
  // progress lines of the post-job step
  'LeaseRevoked',
  'TokenRevoked',
  'FileRemoved',
  // fragments of other messages
  'AsOutput', // "Published N variable(s) as output variables"
  'AtVersion', // inside ReadNotFound
  'InNamespace', // inside LoggingIn, LoginRoleMissing, LoginMountMissing
  'FromVaultConnection', // inside the VaultAddress* messages
  'InputNamed', // who names a refused file, inside InputFileNotRegular and InputFileTooLarge
  'AgentSettingNamed',
  'ConnectionHint', // inside InputRequired
  'RoleHint', // inside InputRequired
  'SecretsOrExport', // inside SecretsInvalid
  'EntraTokenRequest', // inside Retrying
  'TokenEmpty', // inside TokenFailed
  'SpecLineProblem', // "secrets line N: "…": <problem>", inside SecretsInvalid
  'SpecLine', // "secrets line N: "…"", inside SpecDuplicate and SpecDuplicateCase
  'CredentialLineProblem', // "certificates line N: "…": <problem>", inside CredentialsInvalid
  'CredentialLeasesRevokedLater', // inside CredentialsFailed
  'SshAnyPrincipal', // inside SshCertificateSigned
  'IssuingCredentials', // progress: how many certificates are asked for
  'CertificateIssued', // progress: serial and expiry of a certificate issued
  'CertificateIssuedLease',
  'SshCertificateSigned', // progress: key id, principals, serial and validity of an SSH certificate
  'SpecNameInvalid', // inside DerivedNameInvalid
  'SpecNameEmpty', // the reasons a variable name is refused, inside SpecNameInvalid,
  'SpecNameBadChars', //   SpecTargetInvalid, SpecPrefixInvalid and SpecDerivedNameInvalid
  'SpecNameReserved',
  'SpecNameSpace', // "a space", inside SpecNameBadChars
  'TokenDescribedEntra', // how a jwt refusal names the token sent, inside the Jwt* messages
  'AzureVmTokenRequested', // progress: the azure method's managed identity token from IMDS
  'AzureVmValues', // progress: the VM's values the login sends
  'AzureVmIdentityDefault', // inside AzureVmTokenRequested
  'AzureVmIdentityUser',
  'AzureVmFromConnection',
  'AzureImdsRequest', // inside Retrying
  'AzureImdsToken', // inside AzureImdsRefused
  'AzureImdsInstance',
  'AzureImdsIdentityHint',
  'AzureGroupsSeen', // inside AzureGroupsNotBound
  'AzureGroupsNone',
  'JwtClaimAbsent', // "absent from the token", inside JwtClaimMismatch
  // approle and cert: progress lines, and fragments of their messages
  'ApproleDescribe',
  'ApproleUnwrapped',
  'CertDescribe',
  'ApproleWrappedNote', // inside ApproleDescribe
  'ApproleNoLimit', // inside ApproleUnwrapped
  'ApproleUnwrapStep', // inside Retrying
  'ApproleNotWrapped', // progress: a token-shaped value Vault knows no wrapping token of, used as the secret_id
  'ApproleLoginLost', // inside LoginMayHaveIssued
  'LoginMayHaveIssued', // inside LoginAnswerLost and VaultLoginReset
  'CertStep', // inside Retrying
  'FromInput', // "input 'approleSecretId'", where a value came from
  'VaultConnectionScheme', // inside ApproleMissing and CertMissing
  'CertPartKey', // inside CertConnectionIncomplete
  'CertPartCertificate',
  'KubernetesTokenReading', // progress: where the kubernetes method reads the token
  'KubernetesClaims', // progress: the token's non-secret claims
  'KubernetesTokenRequest', // inside Retrying
  'JwtTokenRequestedPipeline', // progress: where the jwt method asks for the token
  'JwtTokenRequestedConnection',
  'JwtTokenClaims', // progress: the OIDC token's non-secret claims
  'JwtOidcRequest', // inside Retrying
  'JwtOidcNotJwt', // inside JwtOidcNoToken
  'JwtAudienceFixed', // hints after JwtAudience
  'JwtAudienceResource',
  'JwtConnectionHint', // inside InputRequired
  'TokenDescribedPipeline', // how a jwt refusal names the token sent, inside the Jwt* messages
  'TokenDescribedConnection',
  'AwsSigning', // progress: what the aws method signs, for which STS endpoint
  'AwsSigned', // progress: where the credentials came from
  'AwsWithServerId', // inside AwsSigning
  'AwsWithoutServerId',
  'AwsNoExpiry', // inside AwsSigned
  'AwsSessionNoExpiry',
  'AwsCredentialsRequest', // inside Retrying
  'AwsSourceTried', // the lines of AwsNoCredentials: each source the chain tried, by name
  'AwsSourceNothing',
  'AwsNoCredentialsFix',
  'AwsSourceEnv',
  'AwsSourceSso',
  'AwsSourceIni',
  'AwsSourceProcess',
  'AwsSourceWebIdentity',
  'AwsSourceContainer',
  'AwsSourceImds',
  'AwsStsRegionHint', // hints inside AwsStsRefused
  'AwsStsCredentialsHint',
  'AwsStsSecretKeyHint',
  'GcpTokenRequested', // progress: which service account's token the gcp method asks for
  'GcpTokenClaims', // progress: the token's non-secret claims
  'GcpTokenRequest', // inside Retrying
  'GcpServiceAccountHint', // inside GcpMetadataRefused
]);

/** The anchor of a message's entry: `#msg-<key in lower case>`. */
export const troubleshootingLink = (key: string): string => `${TROUBLESHOOTING_URL}#msg-${key.toLowerCase()}`;

/** A message as it was printed: its key and its whole text. */
export interface Printed {
  key: string;
  text: string;
}

/**
 * The messages a failure is made of, in the order they appear in it, at most `most`: those among
 * `printed` whose text the failure holds and that have an entry, leaving out one found only inside
 * another (its entry is the outer message's).
 */
export function failureKeys(failure: string, printed: Iterable<Printed>, most = 3): string[] {
  const found = new Map<string, { key: string; at: number }>();
  for (const { key, text } of printed) {
    if (NO_ENTRY.has(key) || text.length === 0 || found.has(text)) continue;
    const at = failure.indexOf(text);
    if (at >= 0) found.set(text, { key, at });
  }
  const outer = [...found].filter(([text]) => ![...found.keys()].some((other) => other !== text && other.includes(text)));
  const keys = outer.sort((a, b) => a[1].at - b[1].at).map(([, f]) => f.key);
  return [...new Set(keys)].slice(0, most);
}
