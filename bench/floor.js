// biome-ignore lint/suspicious/noRedundantUseStrict: CommonJS, not a module: the directive is what makes this file strict
'use strict';
// Run by `npm run bench -- --timeline` with BENCH_FLOOR=1 in the task's place, never shipped: the
// task's job done by the barest client Node has, as a floor for what any client can reach. Node's
// own modules only (no library, no input checks, no retries, no masking): from the agent's
// environment, the three TCP connections opened at once, before Node's TLS and HTTP modules load,
// then TLS on each (checked as Node checks it by default); then
// the federated assertion at System.OidcRequestUri, Entra ID's token for it, Vault's login, the
// mount's lookup and the reads (HTTP/2, `concurrency` at a time), each answer read as the task
// reads it, and one `##vso[task.setvariable …;issecret=true]` line per secret. A path as `kv get`
// takes it is read after its mount's lookup; an API path (second part `data`) beside it. One mount
// per run, the one of the first path (the bench's). Vault over TLS only.
const net = require('node:net');

const env = process.env;
const input = (name) => (env[`INPUT_${name.toUpperCase()}`] ?? '').trim();
const fail = (why) => {
  process.stderr.write(`floor: ${why}\n`);
  process.exit(1);
};

const connection = input('azureSubscription');
const authority = env[`ENDPOINT_DATA_${connection}_ACTIVEDIRECTORYAUTHORITY`];
const tenant = env[`ENDPOINT_AUTH_PARAMETER_${connection}_TENANTID`];
const clientId = env[`ENDPOINT_AUTH_PARAMETER_${connection}_SERVICEPRINCIPALID`];
const oidcUri = new URL(env.SYSTEM_OIDCREQUESTURI);
oidcUri.search = `api-version=7.1-preview.1&serviceConnectionId=${encodeURIComponent(connection)}`;
const tokenUri = new URL(`${tenant}/oauth2/v2.0/token`, authority);
const vault = new URL(input('vaultAddress'));
const concurrency = Number(input('concurrency')) || 64;
const secrets = input('secrets')
  .split('\n')
  .map((line) => {
    const [left, variable] = line.split('|').map((s) => s.trim());
    const [path, key] = left.split(/\s+/);
    return { path, key, variable };
  });

// Every TCP connection first; once their names have resolved (the answers start them, on the main
// thread), Node's TLS, HTTPS and HTTP/2 modules load while they connect.
const tcp = [oidcUri, tokenUri, vault].map((url) => net.connect({ host: url.hostname, port: Number(url.port || 443) }));
for (const s of tcp) s.on('error', (err) => fail(err.message));
let https;
let azdo;
let entra;
let session;
const connected = Promise.all(tcp.map((s) => new Promise((resolve) => s.once('lookup', resolve)))).then(() => {
  const tls = require('node:tls');
  https = require('node:https');
  const http2 = require('node:http2');
  const secure = (url, socket, alpn) => tls.connect({ socket, host: url.hostname, servername: url.hostname, ALPNProtocols: [alpn] });
  azdo = secure(oidcUri, tcp[0], 'http/1.1');
  entra = secure(tokenUri, tcp[1], 'http/1.1');
  session = http2.connect(vault.origin, { createConnection: () => secure(vault, tcp[2], 'h2') });
  for (const s of [azdo, entra, session]) s.on('error', (err) => fail(err.message));
});

/** An HTTP/1.1 request on `socket` (once it is connected); resolves with the parsed JSON answer. */
function post(socket, url, headers, body) {
  return new Promise((resolve) => {
    const req = https.request(
      { method: 'POST', host: url.hostname, path: url.pathname + url.search, headers, createConnection: () => socket },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : fail(`${url.host}: status ${res.statusCode}`)));
      },
    );
    req.on('error', (err) => fail(err.message));
    req.end(body);
  });
}

/** An HTTP/2 request to Vault; resolves with the parsed JSON answer. */
function vaultRequest(method, path, token, body) {
  return new Promise((resolve) => {
    const headers = { ':method': method, ':path': `/v1/${path}` };
    if (token) headers['x-vault-token'] = token;
    if (body) headers['content-type'] = 'application/json';
    const stream = session.request(headers);
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (status = h[':status']));
    stream.on('data', (c) => (text += c));
    stream.on('error', (err) => fail(`${path}: ${err.message}`));
    stream.on('end', () => (status === 200 ? resolve(JSON.parse(text)) : fail(`${path}: status ${status}`)));
    stream.end(body);
  });
}

async function main() {
  await connected;
  const azdoToken = env.ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN;
  const { oidcToken } = await post(
    azdo,
    oidcUri,
    { authorization: `Bearer ${azdoToken}`, 'x-tfs-fedauthredirect': 'Suppress', 'content-type': 'application/json' },
    '{}',
  );
  const form = new URLSearchParams({
    client_id: clientId,
    scope: `${input('resource')}/.default`,
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: oidcToken,
  }).toString();
  const { access_token: jwt } = await post(entra, tokenUri, { 'content-type': 'application/x-www-form-urlencoded' }, form);
  azdo.destroy();
  entra.destroy();
  const login = await vaultRequest('POST', `auth/${input('authMount')}/login`, undefined, JSON.stringify({ role: input('role'), jwt }));
  const token = login.auth.client_token;

  const first = secrets[0].path;
  const [head, second] = first.split('/');
  const apiPaths = second === 'data';
  const lookup = vaultRequest('GET', `sys/internal/ui/mounts/${first}`, token);
  const answers = new Array(secrets.length);
  let next = 0;
  const readAll = (toPath) =>
    Promise.all(
      Array.from({ length: Math.min(concurrency, secrets.length) }, async () => {
        while (next < secrets.length) {
          const i = next++;
          answers[i] = await vaultRequest('GET', toPath(secrets[i].path), token);
        }
      }),
    );
  let mount;
  if (apiPaths) {
    // Read as written, beside the lookup, which says how to read the answers.
    const reads = readAll((p) => p);
    mount = (await lookup).data;
    await reads;
  } else {
    mount = (await lookup).data;
    if (mount.path !== `${head}/`) fail(`${first}: a mount other than ${head}/`);
    if (mount.type !== 'kv' || mount.options?.version !== '2') fail(`${first}: not KV version 2`);
    await readAll((p) => `${mount.path}data/${p.slice(mount.path.length)}`);
  }
  const v2 = mount.type === 'kv' && mount.options?.version === '2';
  const values = answers.map((a, i) => (v2 ? a.data.data : a.data)[secrets[i].key]);
  session.close();
  let out = '';
  for (let i = 0; i < secrets.length; i++) out += `##vso[task.setvariable variable=${secrets[i].variable};issecret=true]${values[i]}\n`;
  process.stdout.write(out);
}

main().catch((err) => fail(err?.message ?? String(err)));
