// The AWS libraries the aws method uses, in one module that it loads only when it runs: the SDK's
// standard credential chain, the SigV4 signer and its SHA-256. Runs of other methods never load
// them (the build bundles this module as a file of its own).
export { fromInstanceMetadata, fromNodeProviderChain } from '@aws-sdk/credential-providers';
export { SignatureV4 } from '@smithy/signature-v4';
export { Sha256 } from '@aws-crypto/sha256-js';
