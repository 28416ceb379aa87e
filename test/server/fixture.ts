// The real-server tests' world: the emulated Azure DevOps and Entra ID of test/emulators/world.ts
// (the job's OIDC token and the Entra access token of a workload identity federation connection),
// and real OpenBao at its own listeners, seeded by ./seed.ts. Runs the bundled task as the
// agent does, and checks every run as the e2e tests do, with OpenBao's secrets added to the leak scan.
import { checkRun, Checked, CheckOptions } from '../helpers/checkRun';
import { vsoCommands } from '../helpers/output';
import { RunOptions, startWorld, TaskRun, World } from '../emulators/world';
import { namespacedOpenBao, OPENBAO_ADDRESS, OpenBao, OpenBaoOptions, startOpenBao } from './openbao';
import { JWT_MOUNT, JWT_ROLE, ROTATED, seedOpenBao } from './seed';

export interface ServerWorld {
  world: World;
  bao: OpenBao;
  /** The inputs every run starts from: OpenBao's address, the jwt mount, the service-token role, no retries. */
  base: Record<string, string>;
  /** Runs the main step with the WIF connection the roles bind; inputs go on top of `base`. */
  run(inputs: Record<string, string>, more?: Partial<RunOptions>): Promise<TaskRun>;
  /** checkRun with OpenBao's root token, unseal key, the tokens it issued the task and the rotated values as secrets too. */
  check(run: TaskRun, ok: boolean | 'Skipped', opts?: CheckOptions): Checked;
  stop(): Promise<void>;
}

/** The Vault token the main step kept for its post-job step (a secret task variable). */
export function savedToken(run: TaskRun): string | undefined {
  return vsoCommands(run.stdout).find((c) => c.command === 'task.settaskvariable' && c.properties.variable === 'VaultAzureLogin.Token')
    ?.message;
}

export interface ServerWorldOptions extends OpenBaoOptions {
  /** A server of its own, for a client certificate that must reach OpenBao (a Vault front ends TLS). */
  ownServer?: boolean;
}

/**
 * The world and OpenBao, seeded: a namespace of the run's one OpenBao behind Vault fronts at its
 * usual ports (namespacedOpenBao, its audit log the shared one's entries there), or a server of its
 * own for `ownServer`.
 */
export async function startServerWorld(options: ServerWorldOptions = {}): Promise<ServerWorld> {
  const world = await startWorld();
  let bao: OpenBao | undefined;
  try {
    bao = options.ownServer ? await startOpenBao(world.ca, options) : await namespacedOpenBao(world.ca, options);
    await seedOpenBao(bao, world.ca, world.ids.wif.objectId);
  } catch (err) {
    await bao?.stop();
    await world.stop();
    throw err;
  }
  const server = bao;
  const tokens: string[] = [];
  const base = { vaultAddress: OPENBAO_ADDRESS, authMount: JWT_MOUNT, role: JWT_ROLE, retries: '0' };
  return {
    world,
    bao: server,
    base,
    async run(inputs, more = {}) {
      const run = await world.runTask({ connection: world.ids.wif, ...more, inputs: { ...base, ...inputs } });
      const token = savedToken(run);
      if (token) tokens.push(token);
      return run;
    },
    check(run, ok, opts = {}) {
      return checkRun(world, run, ok, {
        ...opts,
        extraSecrets: [
          { what: "OpenBao's root token", value: server.rootToken },
          { what: "OpenBao's unseal key", value: server.unsealKey },
          ...tokens.map((value) => ({ what: 'a token OpenBao issued', value })),
          ...Object.entries(ROTATED).map(([v, value]) => ({ what: `rotated ${v}`, value })),
          ...(opts.extraSecrets ?? []),
        ],
      });
    },
    async stop() {
      await server.stop();
      await world.stop();
    },
  };
}
