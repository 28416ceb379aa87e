// The login methods, chosen by the `authMethod` input: the one place that knows them all. Each is
// one descriptor in its own file (auth/<method>.ts); task.json's options are tested against these.
import { approle } from './approle';
import { aws } from './aws';
import { azure } from './azure';
import { cert } from './cert';
import { gcp } from './gcp';
import { jwt } from './jwt';
import { kubernetes } from './kubernetes';
import type { AuthMethod, AuthMethodDescriptor, AuthMethodName, ReadContext } from './method';
import type { AuthSources } from './tokenSource';

export type { AuthMethod, AuthMethodName, Endpoint, InputPort, Proof, ReadContext } from './method';
export type { AuthSources } from './tokenSource';

/** Every method by its name, in the order a message lists them: leaving one out does not compile. */
export const AUTH_METHODS = { azure, approle, cert, aws, gcp, kubernetes, jwt } satisfies {
  [N in AuthMethodName]: AuthMethodDescriptor<{ method: N }>;
};

/** Each method's settings, told apart by `method`. */
export type AuthConfig = ReturnType<(typeof AUTH_METHODS)[AuthMethodName]['readInputs']>;

const isMethodName = (name: string): name is AuthMethodName => Object.hasOwn(AUTH_METHODS, name);

/** The method `authMethod` names (azure when empty) and its settings; undefined when the name is unknown. */
export function readAuthInputs(ctx: ReadContext): AuthConfig | undefined {
  const raw = ctx.port.input('authMethod') || 'azure';
  const name = raw.toLowerCase();
  if (!isMethodName(name)) {
    ctx.problems.push(ctx.loc('AuthMethodInvalid', raw, Object.keys(AUTH_METHODS).join(', ')));
    return undefined;
  }
  return AUTH_METHODS[name].readInputs(ctx);
}

/** Whether the method's login names a role (an empty `role` is then a problem). */
export function needsRole(method: AuthMethodName): boolean {
  return AUTH_METHODS[method].needsRole;
}

export function createAuthMethod(config: AuthConfig, sources: AuthSources): AuthMethod {
  return (AUTH_METHODS[config.method] as AuthMethodDescriptor<AuthConfig>).create(config, sources);
}
