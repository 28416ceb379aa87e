// The VSIX that `npm run package` writes, unpacked and read as the Marketplace and an agent read
// it: identity and listing, every contribution's files, the service connection type the task
// reads, the dev variant that installs beside the public one, and the size limit.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Contribution, Manifest, packaged, packagingScript, readJson, REPO, Unpacked } from './vsix';

interface TaskInput {
  name: string;
  type: string;
}
interface TaskJson {
  id: string;
  name: string;
  friendlyName: string;
  version: { Major: number; Minor: number; Patch: number };
  inputs: TaskInput[];
  execution?: Record<string, { target: string }>;
  prejobexecution?: Record<string, { target: string }>;
  postjobexecution?: Record<string, { target: string }>;
  [key: string]: unknown;
}

const TASK = 'ms.vss-distributed-task.task';
const ENDPOINT_TYPE = 'ms.vss-endpoint.service-endpoint-type';
/** Endpoint types Azure DevOps itself defines, which tasks may name without contributing them. */
const BUILT_IN_ENDPOINT_TYPES = ['AzureRM'];
/**
 * What the built task holds: task.json, its entry files, the task's work they load (step.js) and
 * the modules loaded on demand (msal.js, armRest.js, azureDevOpsApi.js, awsSdk.js), and the
 * resources the bundles read.
 */
const TASK_FILES = [
  'task.json',
  'main.js',
  'prejob.js',
  'post.js',
  'step.js',
  'msal.js',
  'armRest.js',
  'azureDevOpsApi.js',
  'awsSdk.js',
  'lib.json',
  'module.json',
  'icon.png',
];
const CONTENT_TYPES = '[Content_Types].xml';

const pkg = readJson<{ version: string; publisher: string }>(join(REPO, 'package.json'));

/** Attributes of the first `<tag .../>` in the XML, or undefined. */
function xmlAttributes(xml: string, tag: string): Record<string, string> | undefined {
  const m = new RegExp(`<${tag}\\b([^>]*)>`).exec(xml);
  if (!m) return undefined;
  return Object.fromEntries([...m[1].matchAll(/([\w:]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
}
const xmlText = (xml: string, tag: string): string | undefined => new RegExp(`<${tag}\\b[^>]*>([^<]*)</${tag}>`).exec(xml)?.[1];
const xmlAll = (xml: string, tag: string): Array<Record<string, string>> =>
  [...xml.matchAll(new RegExp(`<${tag}\\b([^>]*)/?>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1].matchAll(/([\w:]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
  );

/**
 * [Content_Types].xml as a reader takes it: its <Default> and <Override> entries, sorted, and the
 * document around them. tfx-cli lists the entries in the order its `file --mime-type` probes
 * finish, so two packages of the same files may list the same entries in another order.
 */
function contentTypes(u: Unpacked): { document: string; entries: string[] } {
  const xml = readFileSync(join(u.dir, CONTENT_TYPES), 'utf8');
  const entry = /<(?:Default|Override)\b[^>]*\/>/g;
  return { document: xml.replace(entry, ''), entries: (xml.match(entry) ?? []).sort() };
}

const tasksOf = (m: { contributions: Contribution[] }) => m.contributions.filter((c) => c.type === TASK);
const endpointTypesOf = (m: { contributions: Contribution[] }) => m.contributions.filter((c) => c.type === ENDPOINT_TYPE);
const taskJsonOf = (u: Unpacked, c: Contribution) => readJson<TaskJson>(join(u.dir, c.properties.name, 'task.json'));

/** PNG width and height from the IHDR chunk. */
function pngSize(path: string): { width: number; height: number } {
  const b = readFileSync(path);
  assert.equal(b.subarray(1, 4).toString('latin1'), 'PNG', `${path} is a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** The data fields the task's sources read from the HashiCorp Vault connection (the AzureRM connection's are not ours to declare). */
function endpointDataKeysReadBySource(): string[] {
  const srcDir = join(REPO, 'tasks', 'VaultAzureLoginV1', 'src');
  const keys = new Set<string>();
  for (const file of readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    // `endpoint` is the input port's view of the Vault connection (port.endpoint(connectionId)).
    for (const m of readFileSync(join(srcDir, file), 'utf8').matchAll(
      /(?:\bendpoint\??\.data\(|getEndpointDataParameter\((?:vaultConnection|connectionId)[^,]*,)\s*'([^']+)'/g,
    ))
      keys.add(m[1]);
  }
  return [...keys].sort();
}

/** The authorization parameters the task's sources read from the Vault connection (endpointAuthField(id, 'key')). */
function endpointAuthKeysReadBySource(): string[] {
  const srcDir = join(REPO, 'tasks', 'VaultAzureLoginV1', 'src');
  const keys = new Set<string>();
  // The login methods read the Vault connection through the input port (`endpoint` is
  // port.endpoint(vaultConnection) in auth/approle.ts and auth/cert.ts); the pipeline edge directly.
  const reads =
    /(?:\bendpoint\??\.auth\(|(?:getEndpointAuthorizationParameter|endpointAuthField)\((?:vaultConnection|connectionId)[^,]*,)\s*'([^']+)'/g;
  for (const dir of ['auth', 'pipeline']) {
    for (const file of readdirSync(join(srcDir, dir)).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(srcDir, dir, file), 'utf8').matchAll(reads)) keys.add(m[1]);
    }
  }
  return [...keys].sort();
}

describe('package: the VSIX', function () {
  this.timeout(180_000);
  let pub: Unpacked;
  let dev: Unpacked;

  before(async () => {
    pub = await packaged('public');
    dev = await packaged('dev');
  });

  it('tfx-cli packs both variants without a warning', () => {
    assert.deepEqual(pub.warnings, []);
    assert.deepEqual(dev.warnings, []);
  });

  it('identity: id vault-azure-login, the publisher and version of package.json', () => {
    assert.equal(pub.manifest.id, 'vault-azure-login');
    assert.deepEqual(xmlAttributes(pub.vsixManifest, 'Identity'), {
      Language: 'en-US',
      Id: 'vault-azure-login',
      Publisher: pkg.publisher,
      Version: pkg.version,
    });
    assert.ok(pub.vsix.endsWith(`${pkg.publisher}.vault-azure-login-${pkg.version}.vsix`), pub.vsix);
    // The publisher and the version are written only by the packaging script.
    const source = readJson<Record<string, unknown>>(join(REPO, 'vss-extension.json'));
    assert.equal(source.publisher, undefined, 'vss-extension.json has no publisher of its own: package.json "publisher" is the one place');
    assert.equal(source.version, undefined, 'vss-extension.json has no version of its own: package.json "version" is the one place');
  });

  it('listing: Azure Pipelines, Azure DevOps Services and Server, icon, details page, tags and links', () => {
    const xml = pub.vsixManifest;
    assert.equal(xmlText(xml, 'DisplayName'), 'Vault Azure Login');
    assert.equal(xmlText(xml, 'Categories'), 'Azure Pipelines');
    assert.ok((xmlText(xml, 'Tags') ?? '').split(',').includes('vault'));
    assert.equal(xmlText(xml, 'GalleryFlags'), 'Public');
    assert.deepEqual(
      xmlAll(xml, 'InstallationTarget').map((t) => t.Id),
      ['Microsoft.VisualStudio.Services', 'Microsoft.TeamFoundation.Server'],
    );
    assert.equal(xmlText(xml, 'Icon'), 'images/icon.png');
    assert.deepEqual(pngSize(join(pub.dir, 'images', 'icon.png')), { width: 128, height: 128 });
    const assets = xmlAll(xml, 'Asset');
    const details = assets.find((a) => a.Type === 'Microsoft.VisualStudio.Services.Content.Details');
    assert.equal(details?.Path, 'overview.md');
    assert.equal(readFileSync(join(pub.dir, 'overview.md'), 'utf8'), readFileSync(join(REPO, 'overview.md'), 'utf8'));
    for (const a of assets) assert.ok(existsSync(join(pub.dir, a.Path)), `asset ${a.Type} → ${a.Path} is in the VSIX`);
    const links = Object.fromEntries(xmlAll(xml, 'Property').map((p) => [p.Id, p.Value]));
    for (const id of [
      'Microsoft.VisualStudio.Services.Links.GitHub',
      'Microsoft.VisualStudio.Services.Links.Support',
      'Microsoft.VisualStudio.Services.Links.Getstarted',
    ]) {
      assert.match(links[id] ?? '', /^https:\/\//, `${id} is a link`);
    }
  });

  it('every task contribution is a folder with task.json, its entry files and the resources the bundle reads', () => {
    const contributions = tasksOf(pub.vsoManifest);
    assert.ok(contributions.length > 0);
    for (const c of contributions) {
      assert.deepEqual(c.targets, ['ms.vss-distributed-task.tasks']);
      for (const f of TASK_FILES) assert.ok(pub.files.includes(`${c.properties.name}/${f}`), `${c.properties.name}/${f} is in the VSIX`);
      const task = taskJsonOf(pub, c);
      for (const section of [task.prejobexecution, task.execution, task.postjobexecution]) {
        for (const [handler, { target }] of Object.entries(section ?? {})) {
          assert.ok(pub.files.includes(`${c.properties.name}/${target}`), `${handler} target ${target} is in the VSIX`);
        }
      }
      assert.equal(
        `${task.version.Major}.${task.version.Minor}.${task.version.Patch}`,
        pkg.version,
        'the packaged task has the version of package.json',
      );
      assert.ok(!pub.files.some((f) => f.split('/').includes('node_modules')), 'no node_modules in the VSIX');
      // Nothing compiled or cached: the agent's own Node compiles the bundles (a V8 code cache made
      // by another Node build crashed the task). Only the task's files and the bundles' licence texts.
      const inFolder = pub.files.filter((f) => f.startsWith(`${c.properties.name}/`)).map((f) => f.slice(c.properties.name.length + 1));
      assert.deepEqual(
        inFolder.filter((f) => !TASK_FILES.includes(f) && !/^\w+\.js\.LEGAL\.txt$/.test(f)),
        [],
        'no other file in the task folder',
      );
    }
  });

  it('the hashicorpvault service connection type: server URL, namespace and CA certificate; no authentication, AppRole or a client certificate', () => {
    const [type, ...more] = endpointTypesOf(pub.vsoManifest);
    assert.equal(more.length, 0);
    assert.deepEqual(type.targets, ['ms.vss-endpoint.endpoint-types']);
    const p = type.properties as {
      name: string;
      displayName: string;
      icon?: string;
      url: { displayName: string; helpText: string; isVisible: string };
      inputDescriptors: Array<{
        id: string;
        name: string;
        inputMode: string;
        isConfidential: boolean;
        validation: { isRequired: boolean; dataType: string };
      }>;
      authenticationSchemes: Array<{ type: string; inputDescriptors?: Array<{ id: string; inputMode: string; isConfidential: boolean }> }>;
    };
    assert.equal(p.name, 'hashicorpvault');
    assert.equal(p.displayName, 'HashiCorp Vault');
    assert.ok(p.url.displayName && p.url.helpText);
    assert.equal(p.url.isVisible, 'true', 'the user enters the server URL');
    // Built-in scheme types only (Azure DevOps accepts no other for an extension's endpoint type:
    // EndpointContributionValidator.ValidAuthSchemes). The agent passes the scheme's name (None,
    // UsernamePassword, Certificate) as ENDPOINT_AUTH_SCHEME_<id> and each field as
    // ENDPOINT_AUTH_PARAMETER_<id>_<FIELD>: the fields keep the built-in ids, only their labels change.
    assert.deepEqual(
      p.authenticationSchemes.map((s) => [s.type, (s.inputDescriptors ?? []).map((d) => d.id)]),
      [
        ['ms.vss-endpoint.endpoint-auth-scheme-none', []],
        ['ms.vss-endpoint.endpoint-auth-scheme-basic', ['username', 'password']],
        ['ms.vss-endpoint.endpoint-auth-scheme-cert', ['certificate']],
      ],
    );
    const fields = new Map(p.authenticationSchemes.flatMap((s) => s.inputDescriptors ?? []).map((d) => [d.id, d]));
    assert.deepEqual([...fields.keys()].sort(), endpointAuthKeysReadBySource(), 'the task reads exactly these fields');
    assert.equal(fields.get('username')?.isConfidential, false, 'a role_id names the role');
    assert.equal(fields.get('password')?.isConfidential, true, 'the secret_id stays secret');
    assert.equal(fields.get('certificate')?.isConfidential, true, 'the private key stays secret');
    assert.equal(fields.get('certificate')?.inputMode, 'textarea', 'a PEM needs several lines');
    // The agent passes each field as ENDPOINT_DATA_<id>_<FIELD>; the task reads exactly these.
    assert.deepEqual(p.inputDescriptors.map((d) => d.id).sort(), endpointDataKeysReadBySource());
    for (const d of p.inputDescriptors) {
      assert.equal(d.validation.isRequired, false, `${d.id} is optional`);
      assert.equal(d.isConfidential, false, `${d.id} holds no secret`);
    }
    assert.equal(p.inputDescriptors.find((d) => d.id === 'caCertificate')?.inputMode, 'textarea', 'a PEM needs several lines');
    if (p.icon) assert.ok(pub.files.includes(p.icon), `endpoint icon ${p.icon} is in the VSIX`);
  });

  it('every connectedService input names this extension’s endpoint type or a built-in one', () => {
    for (const u of [pub, dev]) {
      const own = endpointTypesOf(u.vsoManifest).map((c) => c.properties.name);
      for (const c of tasksOf(u.vsoManifest)) {
        for (const input of taskJsonOf(u, c).inputs) {
          const m = /^connectedService:(.+)$/.exec(input.type);
          if (m)
            assert.ok(
              [...own, ...BUILT_IN_ENDPOINT_TYPES].includes(m[1]),
              `${u.manifest.id}: input ${input.name} names endpoint type ${m[1]}`,
            );
        }
      }
    }
  });

  it('the dev variant is another extension, task and connection type, and otherwise the same package', async () => {
    const { DEV_VARIANT } = await packagingScript();
    assert.notEqual(dev.manifest.id, pub.manifest.id);
    assert.equal(dev.manifest.id, 'vault-azure-login-dev');
    assert.equal(xmlAttributes(dev.vsixManifest, 'Identity')?.Version, pkg.version);
    assert.equal(xmlText(dev.vsixManifest, 'GalleryFlags') ?? '', '', 'the dev variant is private');

    const pubTasks = tasksOf(pub.vsoManifest);
    const devTasks = tasksOf(dev.vsoManifest);
    assert.deepEqual(
      devTasks.map((c) => c.properties.name),
      pubTasks.map((c) => c.properties.name),
    );
    const typeRename = new Map(
      endpointTypesOf(dev.vsoManifest).map((c, i) => [c.properties.name, endpointTypesOf(pub.vsoManifest)[i].properties.name]),
    );
    for (const [i, c] of devTasks.entries()) {
      const a = taskJsonOf(pub, pubTasks[i]);
      const b = taskJsonOf(dev, c);
      assert.notEqual(b.id, a.id, 'task id');
      assert.equal(b.id, DEV_VARIANT.taskIds[c.properties.name.split('/').pop()!], 'a fixed dev task id');
      assert.notEqual(b.name, a.name, 'task name');
      assert.equal(b.name, 'VaultAzureLoginDev');
      assert.equal(b.friendlyName, `${a.friendlyName} (dev)`);
      assert.ok(b.friendlyName.length <= 40, `dev friendlyName '${b.friendlyName}' is at most 40 characters`);
      const inputs = b.inputs.map((input) => {
        const m = /^connectedService:(.+)$/.exec(input.type);
        return m && typeRename.has(m[1]) ? { ...input, type: `connectedService:${typeRename.get(m[1])}` } : input;
      });
      assert.deepEqual({ ...b, id: a.id, name: a.name, friendlyName: a.friendlyName, inputs }, a, 'the task is otherwise the same');
    }
    for (const [devName, pubName] of typeRename) assert.notEqual(devName, pubName, 'endpoint type names are unique across the Marketplace');

    // Manifests: the same but for the names that tell the two apart.
    const blank = (m: Manifest): unknown => ({
      ...m,
      id: '',
      name: '',
      public: undefined,
      contributions: m.contributions.map((c) =>
        c.type === ENDPOINT_TYPE ? { ...c, properties: { ...c.properties, name: '', displayName: '' } } : c,
      ),
    });
    assert.deepEqual(blank(dev.manifest), blank(pub.manifest));

    // Every other file is byte for byte the same, and both declare the same content types.
    assert.deepEqual(dev.files, pub.files);
    const differ = new Set([
      ...pubTasks.map((c) => `${c.properties.name}/task.json`),
      'extension.vsixmanifest',
      'extension.vsomanifest',
      CONTENT_TYPES,
    ]);
    const hash = (u: Unpacked, f: string) =>
      createHash('sha256')
        .update(readFileSync(join(u.dir, f)))
        .digest('hex');
    for (const f of pub.files.filter((f) => !differ.has(f))) assert.equal(hash(dev, f), hash(pub, f), `${f} is the same in both variants`);
    assert.deepEqual(contentTypes(dev), contentTypes(pub), `${CONTENT_TYPES} has the same entries in both variants`);
  });

  it('each VSIX is at most 2 MB', async () => {
    const { MAX_VSIX_BYTES } = await packagingScript();
    assert.equal(MAX_VSIX_BYTES, 2 * 1024 * 1024);
    for (const u of [pub, dev]) {
      assert.equal(statSync(u.vsix).size, u.size);
      assert.ok(u.size <= MAX_VSIX_BYTES, `${u.vsix} is ${u.size} bytes`);
    }
  });
});
