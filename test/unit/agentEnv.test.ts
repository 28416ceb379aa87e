// The emulated agent environment gives a task what a real agent gives it (azure-pipelines-agent
// Handler.cs and TaskRunner.cs): every task.json input with its default, trimmed; variables by
// env name with their names in VSTS_PUBLIC_VARIABLES; secret variables only as SECRET_<NAME>,
// named in VSTS_SECRET_VARIABLES; System.DefaultWorkingDirectory.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentEnv, AgentEnvOptions } from '../emulators/agentEnv';

const taskJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'tasks', 'VaultAzureLoginV1', 'task.json'), 'utf8')) as {
  inputs: Array<{ name: string; defaultValue?: string | boolean }>;
};
const base: AgentEnvOptions = {
  collectionUri: 'https://dev.azure.com/contoso/',
  projectId: 'p-id',
  projectName: 'Platform',
  planId: 'plan',
  jobId: 'job',
  systemAccessToken: 'job-token',
  tempDir: '/agent/_temp',
  workingDirectory: '/agent/_work/1/s',
  connections: [],
  inherit: [],
};

describe('emulated agent environment', () => {
  it('passes every task.json input, the default where the step sets none, trimmed as the agent does', () => {
    const env = agentEnv({ ...base, taskInputs: taskJson.inputs, inputs: { role: '  ci-role \n', secrets: 'secret/a k | A\n' } });
    for (const input of taskJson.inputs) {
      const name = `INPUT_${input.name.toUpperCase()}`;
      assert.ok(name in env, `${name} is passed`);
      if (input.name !== 'role' && input.name !== 'secrets') assert.equal(env[name], String(input.defaultValue ?? '').trim(), name);
    }
    assert.equal(env.INPUT_ROLE, 'ci-role');
    assert.equal(env.INPUT_SECRETS, 'secret/a k | A');
    assert.equal(env.INPUT_CONCURRENCY, String(taskJson.inputs.find((i) => i.name === 'concurrency')!.defaultValue));
  });

  it('passes variables by env name and lists their names; secret ones only as SECRET_<NAME>, listed apart', () => {
    const env = agentEnv({
      ...base,
      variables: { 'Agent.ProxyUrl': 'http://proxy:3128', 'my var': 'x' },
      secretVariables: { 'Agent.ProxyPassword': 'p@ss' },
    });
    assert.equal(env.AGENT_PROXYURL, 'http://proxy:3128');
    assert.equal(env.MY_VAR, 'x');
    assert.equal(env.SECRET_AGENT_PROXYPASSWORD, 'p@ss');
    assert.equal(env.AGENT_PROXYPASSWORD, undefined, 'a secret variable has no plain env name');
    const publicNames = JSON.parse(env.VSTS_PUBLIC_VARIABLES) as string[];
    assert.ok(['Agent.ProxyUrl', 'my var', 'Agent.TempDirectory', 'System.DefaultWorkingDirectory'].every((n) => publicNames.includes(n)));
    assert.ok(!publicNames.includes('Agent.ProxyPassword'));
    assert.deepEqual(JSON.parse(env.VSTS_SECRET_VARIABLES), ['Agent.ProxyPassword']);
    assert.equal(env.SYSTEM_DEFAULTWORKINGDIRECTORY, '/agent/_work/1/s');
    assert.equal(env.AGENT_TEMPDIRECTORY, '/agent/_temp');
  });
});
