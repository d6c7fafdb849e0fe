// Launching a guild's agents for `dev` and `run`, one progress line per agent as it becomes ready
// (or, declared lazily, as it is recorded asleep). If any agent fails, those this launch started
// are stopped again and the error names each failure; agents that were running before are left
// alone.
import { errorMessage } from "@guildhall/core";
import type { Guild } from "@guildhall/engine";
import type { LocationRegistry } from "@guildhall/registry";
import { CliError, ExitCode, exitCodeOf } from "./exit-codes.js";
import type { Progress } from "./progress.js";

/**
 * The exit status when an agent failed to start. The guild file was valid, so a host refusing an
 * argument (a module it cannot load, say) is a failed launch, not bad usage of the command.
 */
function launchExitCode(error: unknown): ExitCode {
  const code = exitCodeOf(error);
  return code === ExitCode.usage ? ExitCode.failure : code;
}

/** Where each launched agent runs, by agent id. */
export type Placements = Map<string, string>;

/** How {@link launchGuild} launches. */
export interface LaunchOptions {
  /** Ends the launch early (a stop signal): what it started is stopped again. */
  readonly signal: AbortSignal;
  /** How long each agent may take to become ready; the engine's default when absent. */
  readonly timeoutMs?: number;
  /**
   * Declares the agents without starting them (`runAgent`'s `lazy`): each starts on its first
   * message or timer. Default false.
   */
  readonly lazy?: boolean;
}

/**
 * Starts every agent of `guild` (all at once; the engine spreads them over the hosts) and resolves
 * with the host of each once all are ready, or all are declared when `lazy`.
 *
 * @throws CliError naming every agent that failed and why, with the first failure's exit status
 */
export async function launchGuild(
  guild: Guild,
  registry: LocationRegistry,
  progress: Progress,
  options: LaunchOptions,
): Promise<Placements> {
  const { signal, timeoutMs, lazy = false } = options;
  const agents = guild.spec.agents;
  const placements: Placements = new Map();
  const [verb, done] = lazy ? ["declaring", "declared"] : ["starting", "ready"];
  progress.step(`${verb} ${agents.length} agents of guild ${guild.id}`);
  const results = await Promise.allSettled(
    agents.map(async (agent) => {
      await guild.launchAgent(agent, {
        signal,
        ...(timeoutMs !== undefined && { timeoutMs }),
        lazy,
      });
      const host = (await registry.getLocation(guild.id, agent.id))?.hostAddress ?? "?";
      placements.set(agent.id, host);
      progress.done(
        `agent ${agent.id} ${done} on ${host}${lazy ? ", asleep" : ""} (${placements.size}/${agents.length})`,
      );
      if (placements.size < agents.length) {
        progress.step(`${verb} agents (${placements.size}/${agents.length} ${done})`);
      }
    }),
  );
  const failures = results.flatMap((result, index) =>
    result.status === "rejected"
      ? [{ id: agents[index]?.id ?? "?", error: result.reason as unknown }]
      : [],
  );
  const first = failures[0];
  if (first === undefined) return placements;
  progress.fail(`${failures.length} of ${agents.length} agents did not start`);
  const undone = await Promise.allSettled(
    [...placements.keys()].map((id) => guild.removeAgent(id)),
  );
  const left = [...placements.keys()].filter((_, index) => undone[index]?.status === "rejected");
  const lines = failures.map(({ id, error }) => `${id}: ${errorMessage(error)}`);
  throw new CliError(
    `guild ${guild.id} did not start (${
      left.length === 0
        ? "agents this launch started were stopped again"
        : `stopping ${left.join(", ")} failed, they may still run`
    }):\n  ${lines.join("\n  ")}`,
    signal.aborted ? ExitCode.ok : launchExitCode(first.error),
  );
}
