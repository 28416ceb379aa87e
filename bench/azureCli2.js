// biome-ignore lint/suspicious/noRedundantUseStrict: CommonJS, not a module: the directive is what makes this file strict
'use strict';
// AzureCLI@2 as it runs an inline bash script with a workload identity federation connection, for
// the manual flow of `npm run bench`; never shipped. Run as the agent runs a task (a child process
// with the agent's environment), it makes the same calls in the same order as AzureCLI@2's
// azureclitask.ts: task-lib and the Azure DevOps client loaded from node_modules, `az --version`,
// AZURE_CONFIG_DIR set to a fresh `.azclitask` in Agent.TempDirectory, `az cloud set -n
// <environment>`, the connection's assertion from Azure DevOps (the client's location lookup, then
// the oidctoken request), `az login --service-principal … --federated-token`, `az account set
// --subscription` (skipped for the empty GUID, as AzureCLI@2 skips it), the inline script in a file
// run by bash, and `az account clear`. It writes how long each part took to the file
// BENCH_PARTS_FILE names.
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const tl = require('azure-pipelines-task-lib/task');
const { getHandlerFromToken, WebApi } = require('azure-devops-node-api');

const parts = [];
let mark = 0;
const part = (name) => {
  const now = performance.now();
  parts.push({ name, ms: Math.round((now - mark) * 10) / 10 });
  mark = now;
};

function az(args) {
  const r = tl.execSync('az', args);
  if (r.code !== 0) throw new Error(`az ${args.slice(0, 2).join(' ')} exited ${r.code}`);
}

async function assertion(connection) {
  const token = tl.getEndpointAuthorizationParameter('SYSTEMVSSCONNECTION', 'AccessToken', false);
  const api = await new WebApi(tl.getVariable('System.CollectionUri'), getHandlerFromToken(token), { keepAlive: true }).getTaskApi();
  const response = await api.createOidcToken(
    {},
    tl.getVariable('System.TeamProjectId'),
    tl.getVariable('System.HostType'),
    tl.getVariable('System.PlanId'),
    tl.getVariable('System.JobId'),
    connection,
  );
  if (!response?.oidcToken) throw new Error('Azure DevOps gave no assertion');
  return response.oidcToken;
}

async function main() {
  if (!tl.which('az', false)) throw new Error('az is not installed');
  const connection = tl.getInput('connectedServiceNameARM', true);
  const temp = tl.getVariable('Agent.TempDirectory');
  const script = path.join(temp, `azureclitaskscript${Date.now()}.sh`);
  fs.writeFileSync(script, tl.getInput('inlineScript', true));
  part('node and modules');
  az(['--version']);
  part('az --version');
  process.env.AZURE_CONFIG_DIR = path.join(temp, '.azclitask');
  az(['cloud', 'set', '-n', tl.getEndpointDataParameter(connection, 'environment', true)]);
  part('az cloud set');
  const federated = await assertion(connection);
  tl.setSecret(federated);
  part('assertion');
  // biome-ignore format: one command per line
  az(['login', '--service-principal', '-u', tl.getEndpointAuthorizationParameter(connection, 'serviceprincipalid', false), '--tenant', tl.getEndpointAuthorizationParameter(connection, 'tenantid', false), '--allow-no-subscriptions', '--federated-token', federated]);
  part('az login');
  const subscription = tl.getEndpointDataParameter(connection, 'SubscriptionID', true);
  if (subscription && subscription !== '00000000-0000-0000-0000-000000000000') az(['account', 'set', '--subscription', subscription]);
  part('az account set');
  const code = await tl.tool(tl.which('bash', true)).arg(script).exec({ failOnStdErr: false, ignoreReturnCode: true });
  part('script');
  fs.rmSync(script, { force: true });
  az(['account', 'clear']);
  part('az account clear');
  if (code !== 0) throw new Error(`the script exited ${code}`);
}

main()
  .then(
    () => tl.setResult(tl.TaskResult.Succeeded, 'Script returned code 0'),
    (err) => tl.setResult(tl.TaskResult.Failed, err instanceof Error ? err.message : String(err)),
  )
  .finally(() => {
    if (process.env.BENCH_PARTS_FILE) fs.writeFileSync(process.env.BENCH_PARTS_FILE, JSON.stringify(parts));
  });
