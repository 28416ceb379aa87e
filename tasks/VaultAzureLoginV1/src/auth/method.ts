// One login method behind one small interface: what it reads from the inputs (through a port the
// pipeline edge implements), what identity the job proves and how, the body of
// `POST auth/<mount>/login` it makes of it, and its own words for what went wrong. The flow
// (run.ts) calls these and knows no method; everything after the login is the same for all.
import type { VaultBody, VaultHttpError } from '../core/failures';
import type { ReadFile } from '../core/inputFile';
import type { Text } from '../core/text';
import type { AuthSources } from './tokenSource';

/** The values of the `authMethod` input; auth/index.ts holds one descriptor for each. */
export type AuthMethodName = 'azure' | 'jwt' | 'kubernetes' | 'approle' | 'cert' | 'aws' | 'gcp';

/** A service connection as an input reader sees it: '' for whatever it lacks. */
export interface Endpoint {
  /** Its URL; '' when the job has no connection of that id. */
  url: string;
  /** Its authorization scheme ('' when it has none). */
  scheme: string;
  /** A field of its data (not secret), trimmed. */
  data(key: string): string;
  /**
   * A field of its authorization (a secret_id, a certificate and key), the key matched without
   * regard to case as the agent stores it; read without a debug line, since it may be a secret.
   */
  auth(key: string): string;
}

/** What an input reader sees of the pipeline: task-lib behind pipeline/adapter.ts, a plain map in tests. */
export interface InputPort {
  /** A task input, trimmed; '' when not set. */
  input(name: string): string;
  /** A pipeline variable, trimmed; '' when not set. */
  variable(name: string): string;
  /** A service connection by its id. */
  endpoint(id: string): Endpoint;
}

/** What a method's input reader gets: the port, the messages, and the problems and warnings collected so far. */
export interface ReadContext {
  port: InputPort;
  loc: Text;
  /** One problem per bad input (each naming the input and the fix), one warning per doubtful one. */
  problems: string[];
  warnings: string[];
  /** The Vault address read already ('' when missing or invalid). */
  vaultAddress: string;
  /** The id of the Vault service connection ('' without one). */
  vaultConnection: string;
  /** The client certificate the TLS settings hold already (from the inputs or the agent), if any. */
  clientCertificate?: string;
  /** Makes every TLS connection present this pair instead (a certificate service connection's). */
  useClientPair(cert: string, key: string): void;
  /** The bounded reader of files an input names. */
  readFile: ReadFile;
}

/** Everything about one login method, in its own file: the one place to change it. */
export interface AuthMethodDescriptor<C extends { method: AuthMethodName }> {
  /** Whether the login names a role: cert's need not (Vault then tries every certificate role of the mount). */
  readonly needsRole: boolean;
  /** Reads and checks the method's inputs before any request, adding a problem per bad input. */
  readInputs(ctx: ReadContext): C;
  /** The method, ready to log in with what was read. */
  create(config: C, sources: AuthSources): AuthMethod;
}

/** What a method proved, ready to send. */
export interface Proof {
  /** The body of `POST auth/<mount>/login`. */
  body: Record<string, unknown>;
  /** Every secret value met on the way (tokens, secret ids): masked before any line is logged. */
  secrets: string[];
  /** Lines for the log about the identity proved (non-secret claims), already worded. */
  notes: string[];
  /**
   * The login may use up the credential it sends (an AppRole secret_id with secret_id_num_uses):
   * then it is not sent again even after Vault's own error answer, which may follow the spending.
   */
  spends?: boolean;
  /** Non-secret facts for explaining a refusal (claims of a token, the identity's name). */
  facts: Record<string, string | undefined>;
}

/** Requests a method may make to Vault before the login, with a token of its own (a wrapping token). */
export interface PreLoginVault {
  /**
   * `POST <path>` with `token` as the Vault token ('' for none), in the login namespace; `once` for
   * a request that spends something, never sent again after it may have reached Vault.
   */
  post(path: string, body: Record<string, unknown>, token: string, once?: boolean): Promise<VaultBody>;
}

export interface ProveContext {
  /** The auth mount (without auth/) and the role the login names. */
  mount: string;
  role: string;
  loc: Text;
  log(line: string): void;
  /** Registers a secret for masking: call it before logging anything that follows from the secret. */
  mask(value: string): void;
  vault: PreLoginVault;
  /** Each request the proof makes gets at most this long. */
  timeoutSeconds: number;
}

/** Where the login went, for explanations. */
export interface LoginTarget {
  address: string;
  mount: string;
  role: string;
  /** The namespace note for messages ('' or " in namespace X"). */
  nsNote: string;
}

export interface ProofFailureContext {
  timeoutSeconds: number;
  attempts: number;
}

export interface AuthMethod {
  readonly name: AuthMethodName;
  /** The log line before proving: which identity, from where. */
  describe(loc: Text): string;
  /** What one attempt at the proof is called in a retry line. */
  what(loc: Text): string;
  prove(ctx: ProveContext): Promise<Proof>;
  /** A failure of `prove` worth another attempt (a run-out deadline always is). */
  isTransient(err: unknown): boolean;
  /** The message for a failure of `prove` (a deadline run out included); undefined when it is not the method's own. */
  explainProofFailure(err: unknown, ctx: ProofFailureContext, loc: Text): string | undefined;
  /**
   * What a login that may have been performed, its answer lost, means for this method's credential
   * (a sentence to add, starting with a space); undefined when nothing beyond the token it issued.
   */
  lostLoginNote?(target: LoginTarget, loc: Text): string;
  /** Vault's refusal of the login in this method's terms; undefined leaves it to the shared explanation. */
  explainRefusal(err: VaultHttpError, proof: Proof, target: LoginTarget, loc: Text): string | undefined;
}
