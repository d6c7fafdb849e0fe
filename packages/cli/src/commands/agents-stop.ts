// `guildhall agents stop <agent>`: stops an agent gracefully through an engine, which first
// removes it from the desired state so that nothing places it again, and deletes its durable
// state on the hosts' bus, which fences a copy left on a host that cannot be reached.
import type { Command } from "commander";
import { action } from "../action.js";
import { addClusterOptions, type ClusterFlags } from "../cluster.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { guildOfAgent } from "./agents.js";
import { withOneShotEngine } from "./one-shot-engine.js";

/** The flags of `guildhall agents stop`. */
export interface AgentsStopFlags extends ClusterFlags {
  readonly guild?: string;
}

async function agentsStop(agentIds: string[], flags: AgentsStopFlags): Promise<void> {
  await withOneShotEngine(flags, { bus: true }, async (engine, cluster) => {
    for (const agentId of agentIds) {
      const guildId = await guildOfAgent(cluster.registry, agentId, flags.guild);
      const running = await cluster.registry.getLocation(guildId, agentId);
      const wanted = (await cluster.registry.getDesiredAgent(guildId, agentId)) !== undefined;
      if (running === undefined && !wanted) {
        throw new CliError(
          `agent "${agentId}" is not running in guild "${guildId}"; list the agents with \`guildhall agents ls\``,
          ExitCode.notFound,
        );
      }
      await engine.stopAgent(guildId, agentId);
      process.stdout.write(`stopped ${guildId}/${agentId}\n`);
    }
  });
}

/** Adds `agents stop` to the `agents` command. */
export function registerAgentsStopCommand(agents: Command): Command {
  const command = agents
    .command("stop")
    .description(
      "Stop agents gracefully (their onStop runs) and forget them, so nothing restarts them.",
    )
    .argument("<agent-id...>", "the agents to stop");
  addClusterOptions(command);
  return command
    .option("--guild <id>", "the agents' guild (default: the one guild that has each agent)")
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall agents stop responder --redis redis://localhost:6379
  $ guildhall agents stop worker-1 worker-2 --guild pipeline

Exit status: 0 stopped, 2 bad usage, 4 Redis or the agent's host cannot be reached,
5 no such agent.`,
    )
    .action(action("agents stop", agentsStop));
}
