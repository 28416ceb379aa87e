'use strict';
// The bench's floor for a Node process doing this task's job: the requests a run with a workload
// identity federation connection makes, made with Node alone (no task-lib, arm-rest, MSAL or
// node-vault, no input checks, no retries). Azure DevOps: the distributedtask location and the
// OIDC token over one kept-alive connection; Entra ID: the token for the resource; Vault over one
// HTTP/2 connection: the azure login, one mount lookup (the bench's paths share a mount), then
// every path of `secrets` (`path key | NAME` lines), `concurrency` (default 64) at a time. Each
// value is printed as a secret variable. Run by `npm run bench` as the task is, with the agent's
// environment; not part of the task.
const https = require('node:https');
const http2 = require('node:http2');

const env = process.env;
const input = (name) => env[`INPUT_${name.toUpperCase()}`] ?? '';

function send(url, { method = 'GET', headers = {}, body, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode >= 300) reject(new Error(`${method} ${url.pathname}: HTTP ${res.statusCode}`));
        else resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function sendH2(session, path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': method, ':path': path, ...headers }, { endStream: body === undefined });
    const chunks = [];
    let status = 0;
    stream.on('response', (h) => (status = h[':status']));
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => {
      if (status >= 300) reject(new Error(`${method} ${path}: HTTP ${status}`));
      else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    });
    if (body !== undefined) stream.end(body);
  });
}

async function main() {
  const connection = input('azureSubscription');
  const id = connection;
  const collection = env.SYSTEM_COLLECTIONURI;
  const azdo = { authorization: `Bearer ${env.ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN}`, accept: 'application/json' };
  const agent = new https.Agent({ keepAlive: true });
  await send(new URL('_apis/distributedtask', collection), { method: 'OPTIONS', headers: azdo, agent });
  const jobPath = `${env.SYSTEM_TEAMPROJECTID}/_apis/distributedtask/hubs/${env.SYSTEM_HOSTTYPE}/plans/${env.SYSTEM_PLANID}/jobs/${env.SYSTEM_JOBID}`;
  const { oidcToken } = await send(new URL(`${jobPath}/oidctoken?serviceConnectionId=${connection}&api-version=7.1`, collection), {
    method: 'POST',
    headers: { ...azdo, 'content-type': 'application/json' },
    body: '{}',
    agent,
  });

  const authority = env[`ENDPOINT_DATA_${id}_ACTIVEDIRECTORYAUTHORITY`];
  const form = new URLSearchParams({
    client_id: env[`ENDPOINT_AUTH_PARAMETER_${id}_SERVICEPRINCIPALID`],
    scope: `${input('resource') || 'https://management.azure.com/'}/.default`,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: oidcToken,
    grant_type: 'client_credentials',
  }).toString();
  const tokenUrl = new URL(`${env[`ENDPOINT_AUTH_PARAMETER_${id}_TENANTID`]}/oauth2/v2.0/token`, authority);
  const { access_token: jwt } = await send(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  console.log(`##vso[task.setsecret]${jwt}`);

  const session = http2.connect(input('vaultAddress'));
  try {
    const login = await sendH2(session, `/v1/auth/${input('authMount')}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: input('role'), jwt }),
    });
    const token = login.auth.client_token;
    console.log(`##vso[task.setsecret]${token}`);
    const specs = input('secrets')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const [path, key, name] = l.trim().split(/\s*\|\s*|\s+/);
        return { path, key, name };
      });
    const headers = { 'x-vault-token': token };
    const mount = await sendH2(session, `/v1/sys/internal/ui/mounts/${specs[0].path}`, { headers });
    const prefix = mount.data.path;
    const v2 = mount.data.options?.version === '2';
    const values = new Array(specs.length);
    let next = 0;
    const worker = async () => {
      while (next < specs.length) {
        const i = next++;
        const { path, key } = specs[i];
        const read = await sendH2(session, `/v1/${prefix}${v2 ? 'data/' : ''}${path.slice(prefix.length)}`, { headers });
        values[i] = v2 ? read.data.data[key] : read.data[key];
      }
    };
    // One worker starts per event-loop turn, as in the task: Node sends an HTTP/2 session's
    // frames at the end of a turn, so requests made in one turn all wait for the last of them.
    const workers = [];
    for (let w = 0; w < Math.min(Number(input('concurrency')) || 64, specs.length); w++) {
      if (w) await new Promise((resolve) => setImmediate(resolve));
      workers.push(worker());
    }
    await Promise.all(workers);
    let out = '';
    for (const [i, { name }] of specs.entries()) out += `##vso[task.setsecret]${values[i]}\n##vso[task.setvariable variable=${name};issecret=true;]${values[i]}\n`;
    process.stdout.write(out);
  } finally {
    session.close();
  }
}

main().catch((err) => {
  console.log(`##vso[task.complete result=Failed;]${err.message}`);
  process.exitCode = 1;
});
