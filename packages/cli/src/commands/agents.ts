// `guildhall agents ls|move|stop|logs`: the agents of a running cluster. Each subcommand lives in
// its own file; this one groups them and holds what they share: finding an agent's guild.
import type { LocationRegistry } from "@guildhall/registry";
import type { Command } from "commander";
import { CliError, ExitCode } from "../exit-codes.js";
import { registerAgentsLogsCommand } from "./agents-logs.js";
import { registerAgentsLsCommand } from "./agents-ls.js";
import { registerAgentsMoveCommand } from "./agents-move.js";
import { registerAgentsStopCommand } from "./agents-stop.js";

/**
 * The guild of agent `agentId`: `guildId` when given, else the one guild that wants or runs an
 * agent of that id.
 *
 * @throws CliError not found when no guild has the agent; usage when several have one
 */
export async function guildOfAgent(
  registry: LocationRegistry,
  agentId: string,
  guildId: string | undefined,
): Promise<string> {
  if (guildId !== undefined) return guildId;
  const guilds = new Set(
    (await registry.listAllDesiredAgents())
      .filter((desired) => desired.spec.id === agentId)
      .map((desired) => desired.guild.id),
  );
  const [only, ...others] = guilds;
  if (only === undefined) {
    throw new CliError(
      `no guild has an agent "${agentId}"; list them with \`guildhall agents ls\`, or pass --guild`,
      ExitCode.notFound,
    );
  }
  if (others.length > 0) {
    throw new CliError(
      `agent "${agentId}" exists in guilds ${[...guilds].join(", ")}: pass --guild to say which`,
      ExitCode.usage,
    );
  }
  return only;
}

/** Adds `guildhall agents` and its subcommands to `program`. */
export function registerAgentsCommand(program: Command): Command {
  const agents = program
    .command("agents")
    .description("List, move, stop and read the logs of the agents of a cluster.");
  registerAgentsLsCommand(agents);
  registerAgentsMoveCommand(agents);
  registerAgentsStopCommand(agents);
  registerAgentsLogsCommand(agents);
  return agents;
}
