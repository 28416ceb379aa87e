// The task's inputs, variables and service connections as plain maps, in place of the agent: the
// input port the login methods read through, and the whole source the configuration is read from.
import type { InputPort } from '../../tasks/VaultAzureLoginV1/src/auth/method';
import type { FileRead, ReadFile } from '../../tasks/VaultAzureLoginV1/src/core/inputFile';
import type { AgentCertificates, ConfigSource } from '../../tasks/VaultAzureLoginV1/src/pipeline/inputs';
import type { ProxyConfig } from '../../tasks/VaultAzureLoginV1/src/vault/settings';
import { loc } from './messages';

export interface EndpointMap {
  url?: string;
  scheme?: string;
  data?: Record<string, string>;
  auth?: Record<string, string>;
}

export interface Pipeline {
  inputs?: Record<string, string>;
  variables?: Record<string, string>;
  endpoints?: Record<string, EndpointMap>;
  /** Files by path; any other path is missing. */
  files?: Record<string, string>;
  agentCertificates?: AgentCertificates;
  /** The agent's proxy, for every URL. */
  proxy?: ProxyConfig;
}

/** The port over plain maps, as the agent's would answer: trimmed, '' for what is not there. */
export function mapPort({ inputs = {}, variables = {}, endpoints = {} }: Pipeline): InputPort {
  return {
    input: (name) => (inputs[name] ?? '').trim(),
    variable: (name) => (variables[name] ?? '').trim(),
    endpoint: (id) => {
      const e = endpoints[id] ?? {};
      return {
        url: e.url ?? '',
        scheme: e.scheme ?? '',
        data: (key) => (e.data?.[key] ?? '').trim(),
        auth: (key) => Object.entries(e.auth ?? {}).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1] ?? '',
      };
    },
  };
}

export const mapFiles =
  (files: Record<string, string> = {}): ReadFile =>
  (path): FileRead =>
    path in files ? { text: files[path] } : { refused: 'missing', code: 'ENOENT' };

export function mapSource(pipeline: Pipeline): ConfigSource {
  return {
    port: mapPort(pipeline),
    loc,
    readFile: mapFiles(pipeline.files),
    rawInput: (name) => pipeline.inputs?.[name] ?? '',
    agentCertificates: () => pipeline.agentCertificates,
    proxyFor: () => pipeline.proxy,
  };
}
