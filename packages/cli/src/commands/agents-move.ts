// `guildhall agents move <agent>`: moves a running agent to another host through an engine, which
// stops it where it runs keeping its durable state, then starts it on the other host from that
// state. The engine does not reconcile: it lives only for this command.
import type { Command } from "commander";
import { action } from "../action.js";
import { addClusterOptions, type ClusterFlags } from "../cluster.js";
import { printJson } from "../output.js";
import { guildOfAgent } from "./agents.js";
import { withOneShotEngine } from "./one-shot-engine.js";

/** The flags of `guildhall agents move`. */
export interface AgentsMoveFlags extends ClusterFlags {
  readonly to?: string;
  readonly guild?: string;
  readonly json?: boolean;
}

async function agentsMove(agentId: string, flags: AgentsMoveFlags): Promise<void> {
  // Every live host of the registry is a place the agent may go, as for `guildhall run`.
  await withOneShotEngine(flags, {}, async (engine, cluster) => {
    const guildId = await guildOfAgent(cluster.registry, agentId, flags.guild);
    const { from, to } = await engine.moveAgent(
      guildId,
      agentId,
      flags.to === undefined ? {} : { toHost: flags.to },
    );
    if (flags.json === true) printJson({ guildId, agentId, from, to });
    else process.stdout.write(`moved ${guildId}/${agentId} from ${from} to ${to}\n`);
  });
}

/** Adds `agents move` to the `agents` command. */
export function registerAgentsMoveCommand(agents: Command): Command {
  const command = agents
    .command("move")
    .description(
      "Move a running agent to another host: it finishes the message in hand there, then starts on the new host from its committed state and read positions.",
    )
    .argument("<agent-id>", "the agent to move");
  addClusterOptions(command);
  return command
    .option(
      "--to <host>",
      "the host to move it to, as `status` lists it (default: placement picks another)",
    )
    .option("--guild <id>", "the agent's guild (default: the one guild that has the agent)")
    .option("--json", "print { guildId, agentId, from, to } as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall agents move responder --redis redis://localhost:6379
  $ guildhall agents move worker-1 --to 10.0.0.8:50051 --guild pipeline

Exit status: 0 moved; 1 refused (the target is full, no other host) or failed after the stop (the
message says where the agent runs now); 2 bad usage, or --to names the host the agent runs on; 4
Redis or the agent's host cannot be reached, or the target is draining; 5 no such agent or host.`,
    )
    .action(action("agents move", agentsMove));
}
