// The kubernetes method's input: the service account token file, checked before any request (there,
// readable, a regular file of at most 64 KiB, not empty, a JWT, not expired). Only its path goes on:
// the login reads it again.
import { DEFAULT_TOKEN_FILE, KubernetesAuthConfig, readTokenFile } from '../auth/kubernetes';
import { loc } from './adapter';
import { input } from './inputFields';
import { readInputFile } from './inputFile';

/** The reader of authInputs.ts's table: the problems it adds to are those of every input. */
export function readKubernetesInputs({ problems }: { problems: string[] }): KubernetesAuthConfig {
  const tokenFile = input('kubernetesTokenFile') || DEFAULT_TOKEN_FILE;
  const read = readTokenFile(tokenFile, loc, Date.now(), readInputFile);
  if ('problem' in read) problems.push(read.problem);
  return { method: 'kubernetes', tokenFile };
}
