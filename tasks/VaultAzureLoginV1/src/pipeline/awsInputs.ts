// The aws method's inputs: the X-Vault-AWS-IAM-Server-ID value and the STS region, checked before
// any request. The credentials are the agent's own (the AWS SDK's chain); no input carries one.
import type { AwsAuthConfig } from '../auth/aws';
import { loc } from './adapter';
import type { AuthInputs } from './authInputContext';
import { input } from './inputFields';

/** A region name as AWS writes them: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-5. */
export const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** An HTTP header value Vault compares as text: visible ASCII and inner spaces. */
export const headerValuePattern = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

export function readAwsInputs({ problems }: AuthInputs): AwsAuthConfig {
  const serverId = input('awsServerIdHeader');
  if (serverId && !headerValuePattern.test(serverId)) problems.push(loc('AwsServerIdInvalid', serverId));
  const raw = input('awsStsRegion');
  const stsRegion = raw.toLowerCase() === 'global' ? '' : raw;
  if (stsRegion && !regionPattern.test(stsRegion)) problems.push(loc('AwsRegionInvalid', raw));
  return { method: 'aws', serverId, stsRegion };
}
