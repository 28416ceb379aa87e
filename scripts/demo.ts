// npm run demo: the bundled task, run as the agent runs it, through the whole chain against the
// loopback emulators (Azure DevOps OIDC → Entra ID → Vault over TLS), its log shown as a pipeline
// shows it. Then the same step with one common misconfiguration, to show what the log says.
import { renderPipelineLog } from '../test/helpers/pipelineLog';
import { publishedSecrets, taskVariablesFrom } from '../test/helpers/output';
import { startWorld, VAULT_ADDRESS, World } from '../test/emulators/world';

const yaml = `- task: VaultAzureLogin@1
  inputs:
    azureSubscription: sc-vault-prod        # AzureRM connection, workload identity federation
    vaultAddress: ${VAULT_ADDRESS}
    authMount: ado
    role: azure-devops-production
    secrets: |
      secret/ci/production/db password | DB_PASSWORD
      secret/ci/production/api *       | API_`;

function show(name: string, stdout: string): void {
  console.log(`Starting: ${name}`);
  console.log('==============================================================================');
  const { lines, result } = renderPipelineLog(stdout);
  for (const line of lines) console.log(line);
  console.log(`Finishing: ${name} (${result})`);
}

async function step(world: World, title: string, inputs: Record<string, string>): Promise<void> {
  console.log(`\n${title}`);
  const run = await world.runTask({ connection: world.ids.wif, inputs });
  show('VaultAzureLogin', run.stdout + run.stderr);
  const vars = publishedSecrets(run.stdout);
  if (vars.size) {
    console.log('\nSecret variables available to later steps (map them with env:):');
    for (const [name, value] of vars) console.log(`  ${name.padEnd(14)} = *** (${value.length} characters)`);
  }
  // When the job ends the agent runs the post-job step, with the task variables the step set.
  const post = await world.runTask({
    connection: world.ids.wif,
    inputs,
    entry: 'post.js',
    tempDir: run.tempDir,
    variables: taskVariablesFrom(run.stdout),
  });
  console.log('');
  show('Post-job: VaultAzureLogin', post.stdout + post.stderr);
}

async function main(): Promise<void> {
  const world = await startWorld();
  try {
    console.log('Pipeline step (azure-pipelines.yml):\n');
    console.log(yaml);
    const inputs = {
      vaultAddress: VAULT_ADDRESS,
      authMount: 'ado',
      role: 'azure-devops-production',
      secrets: 'secret/ci/production/db password | DB_PASSWORD\nsecret/ci/production/api *       | API_',
    };
    await step(world, 'Run 1: as configured', inputs);
    await step(world, "Run 2: the 'resource' input lacks the trailing slash of the mount's resource", {
      ...inputs,
      resource: 'https://management.azure.com',
    });
  } finally {
    await world.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
