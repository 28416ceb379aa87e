// The AWS libraries the aws method uses, in one module that it loads only when it runs: the SDK's
// standard credential chain, the SigV4 signer and its SHA-256. Runs of other methods never load
// them (the build bundles this module as a file of its own).
//
// The credential providers keep the SDK's own HTTP client, the one outside request path that does
// not go through ../net/http: what they speak is the SDK's to keep right, and would otherwise be
// written again here — IMDSv2 (a PUT for a session token with its TTL header, then the role and its
// credentials, IMDSv1 where the token is refused, the endpoint and mode settings), ECS and EKS
// container credentials (the endpoint variables, the authorization token or its file), and STS's
// AssumeRoleWithWebIdentity for a web identity token file, each answer parsed as AWS words it. Its
// bounds: the SDK's own (1 s per metadata request, a non-2xx answer is an error, no proxy from the
// environment), and ours around it: each attempt of the whole proof, the chain included, ends after
// timeoutSeconds (run.ts, withDeadline), explained as AwsCredentialsTimeout. The signed
// GetCallerIdentity is not sent from here: Vault sends it to STS.
export { fromInstanceMetadata, fromNodeProviderChain } from '@aws-sdk/credential-providers';
export { SignatureV4 } from '@smithy/signature-v4';
export { Sha256 } from '@aws-crypto/sha256-js';
