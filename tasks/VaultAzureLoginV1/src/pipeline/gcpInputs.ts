// The gcp method's input: which of the VM's service accounts proves the identity ('default' or an
// email), checked before any request. The metadata server is the one Google's libraries use.
import type { GcpAuthConfig } from '../auth/gcp';
import { METADATA_HOST } from '../auth/gcp';
import { loc } from './adapter';
import type { AuthInputs } from './authInputContext';
import { input } from './inputFields';

/** 'default', or a service account email (name@project.iam.gserviceaccount.com, PROJECT_NUMBER-compute@developer.gserviceaccount.com). */
export const serviceAccountPattern = /^(default|[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*[a-z0-9])$/i;

export function readGcpInputs({ problems }: AuthInputs): GcpAuthConfig {
  const serviceAccount = input('gcpServiceAccount') || 'default';
  if (!serviceAccountPattern.test(serviceAccount)) problems.push(loc('GcpServiceAccountInvalid', serviceAccount));
  // Google's client libraries let GCE_METADATA_HOST move the metadata server (an emulator, a proxy).
  const metadataHost = (process.env.GCE_METADATA_HOST ?? '').trim() || METADATA_HOST;
  return { method: 'gcp', serviceAccount, metadataHost };
}
