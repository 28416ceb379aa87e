#!/usr/bin/env node
// Before `npm run bench` enters the private network namespace (which has no network): makes sure
// the Azure CLI is there for the bench's manual flow, installing Debian's azure-cli with apt-get
// when it is missing and this user may. Never fails: without az the bench marks the manual flow
// skipped and says why.
import { spawnSync } from 'node:child_process';

const present = () => !spawnSync('az', ['version'], { stdio: 'ignore' }).error;

if (!present()) {
  const aptGet = !spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error;
  if (!aptGet) console.log('azcli: az is not installed and there is no apt-get: the bench marks the manual flow skipped.');
  else if (process.getuid?.() !== 0)
    console.log('azcli: az is not installed (sudo apt-get install azure-cli); the bench marks the manual flow skipped.');
  else {
    console.log('azcli: installing Debian azure-cli for the bench (apt-get install azure-cli)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'azure-cli'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env,
    });
    if (r.status !== 0 || !present()) console.log('azcli: apt-get could not install azure-cli; the bench marks the manual flow skipped.');
  }
}
