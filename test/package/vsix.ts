// The packaged extension for the package checks: each variant made once per test run by
// scripts/package.mjs into a temporary folder, and unpacked beside it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import JSZip from 'jszip';

export const REPO = resolve(__dirname, '..', '..');

export interface Contribution {
  id: string;
  type: string;
  targets: string[];
  description?: string;
  properties: Record<string, unknown> & { name: string };
}

/** vss-extension.json as the packaging script stages it (and extension.vsomanifest's contributions). */
export interface Manifest {
  id: string;
  publisher: string;
  version: string;
  name: string;
  public: boolean;
  contributions: Contribution[];
  [key: string]: unknown;
}

interface PackageResult {
  vsix: string;
  size: number;
  manifest: Manifest;
  stage: string;
  warnings: string[];
}

export interface PackageModule {
  packageExtension(opts: { dev?: boolean; outDir?: string }): Promise<PackageResult>;
  MAX_VSIX_BYTES: number;
  DEV_VARIANT: { taskIds: Record<string, string> };
}

export interface Unpacked extends PackageResult {
  /** Folder the VSIX was unpacked into. */
  dir: string;
  /** Every file in the VSIX, `/`-separated, sorted. */
  files: string[];
  /** extension.vsixmanifest (XML). */
  vsixManifest: string;
  /** extension.vsomanifest (JSON). */
  vsoManifest: { contributions: Contribution[] };
}

// The script is an ES module with top-level await; a CommonJS test loads it with a real import().
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<PackageModule>;
export const packagingScript = (): Promise<PackageModule> => importModule(pathToFileURL(join(REPO, 'scripts', 'package.mjs')).href);

let workDir: string | undefined;
const made = new Map<'public' | 'dev', Promise<Unpacked>>();

async function unzip(vsix: string, into: string): Promise<string[]> {
  const zip = await JSZip.loadAsync(readFileSync(vsix));
  const files: string[] = [];
  for (const entry of Object.values(zip.files)) {
    if (entry.dir) continue;
    const target = resolve(into, entry.name);
    if (!target.startsWith(into + sep)) throw new Error(`VSIX entry '${entry.name}' points outside the package`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, await entry.async('nodebuffer'));
    files.push(entry.name);
  }
  return files.sort();
}

async function make(variant: 'public' | 'dev'): Promise<Unpacked> {
  if (!workDir) {
    const dir = mkdtempSync(join(tmpdir(), 'val-package-'));
    workDir = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const { packageExtension } = await packagingScript();
  const result = await packageExtension({ dev: variant === 'dev', outDir: join(workDir, variant) });
  const dir = join(workDir, variant, 'unpacked');
  mkdirSync(dir, { recursive: true });
  const files = await unzip(result.vsix, dir);
  return {
    ...result,
    dir,
    files,
    vsixManifest: readFileSync(join(dir, 'extension.vsixmanifest'), 'utf8'),
    vsoManifest: JSON.parse(readFileSync(join(dir, 'extension.vsomanifest'), 'utf8')),
  };
}

/** The VSIX of one variant, packaged and unpacked once per run. */
export function packaged(variant: 'public' | 'dev'): Promise<Unpacked> {
  let p = made.get(variant);
  if (!p) {
    p = make(variant);
    made.set(variant, p);
  }
  return p;
}

export const readJson = <T = unknown>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
