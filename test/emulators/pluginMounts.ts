// What the front of OpenBao (test/server/vaultFront.ts) hands the login check of an auth plugin
// OpenBao does not ship (azure, aws, gcp), and the mounts of one such plugin per front: enabled,
// looked up by path and namespace, and found for a login.
import type { AzureRole } from './vaultAzure';

/** What the mounts belong to: a front of OpenBao. */
type Owner = object;

/** What vault.ts passes of a request (its RequestContext). */
export interface PluginRequest {
  op: string;
  rel: string;
  ns: { path: string };
  body: Record<string, unknown>;
}
export type PluginReply = { status: number; body?: unknown };
export type IssueToken = (mountPath: string, role: AzureRole, roleName: string, principal: string) => PluginReply | Promise<PluginReply>;

/** The request a plugin's login route makes of a mount, as Vault answers it. */
export type LoginTarget<M> = { mount: M; mountPath: string } | { reply: PluginReply };

export interface PluginMounts<M> {
  enable(vault: Owner, mount: string, value: M, ns?: string): void;
  /** The mount at auth/<mount> in namespace `ns`; throws when this plugin has none there. */
  get(vault: Owner, mount: string, ns?: string): M;
  /** The mount a request to auth/<mount>/login is for (405 for another operation); undefined when it is not one of these mounts' logins. */
  forLogin(vault: Owner, req: PluginRequest): LoginTarget<M> | undefined;
}

export function pluginMounts<M>(kind: string): PluginMounts<M> {
  const all = new WeakMap<Owner, Map<string, M>>();
  const key = (ns: string, mount: string) => `${ns}${mount.replace(/^\/+|\/+$/g, '')}/`;
  return {
    enable(vault, mount, value, ns = '') {
      if (!all.has(vault)) all.set(vault, new Map());
      all.get(vault)?.set(key(ns, mount), value);
    },
    get(vault, mount, ns = '') {
      const m = all.get(vault)?.get(key(ns, mount));
      if (!m) throw new Error(`no ${kind} auth mount at auth/${mount}`);
      return m;
    },
    forLogin(vault, req) {
      if (!req.rel.startsWith('auth/') || !req.rel.endsWith('/login')) return undefined;
      const mountPath = req.rel.slice('auth/'.length, -'login'.length);
      const mount = all.get(vault)?.get(`${req.ns.path}${mountPath}`);
      if (!mount) return undefined;
      if (req.op !== 'update') return { reply: { status: 405, body: { errors: ['1 error occurred:\n\t* unsupported operation\n\n'] } } };
      return { mount, mountPath };
    },
  };
}
