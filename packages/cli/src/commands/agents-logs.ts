// `guildhall agents logs <agent>`: an agent's captured stdout and stderr, read from its host over
// the host API (GetAgentLogs); `-f` keeps following until Ctrl-C.
import type { Command } from "commander";
import { action } from "../action.js";
import { addClusterOptions, connectCluster, type ClusterFlags } from "../cluster.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { hostCallError } from "../host-api.js";
import { LogStream } from "@guildhall/proto";
import { listenForStop } from "../signals.js";
import { guildOfAgent } from "./agents.js";

/** The flags of `guildhall agents logs`. */
export interface AgentsLogsFlags extends ClusterFlags {
  readonly guild?: string;
  readonly follow?: boolean;
  readonly tail?: string;
}

async function agentsLogs(agentId: string, flags: AgentsLogsFlags): Promise<void> {
  const tail = flags.tail === undefined ? 0 : Number(flags.tail);
  if (!Number.isSafeInteger(tail) || tail < 0) {
    throw new CliError(
      `--tail must be a whole number of lines, got ${JSON.stringify(flags.tail)}`,
      ExitCode.usage,
    );
  }
  const cluster = await connectCluster(flags);
  const stop = listenForStop();
  try {
    const guildId = await guildOfAgent(cluster.registry, agentId, flags.guild);
    const location = await cluster.registry.getLocation(guildId, agentId);
    if (location === undefined) {
      throw new CliError(
        `agent "${agentId}" is not running in guild "${guildId}"; list the agents with \`guildhall agents ls\``,
        ExitCode.notFound,
      );
    }
    const stream = cluster.hosts
      .get(location.hostAddress)
      .getAgentLogs(
        { guildId, agentId, follow: flags.follow === true, tailLines: tail },
        { signal: stop.signal },
      );
    try {
      for await (const entry of stream) {
        const out = entry.stream === LogStream.STDERR ? process.stderr : process.stdout;
        out.write(entry.text.endsWith("\n") ? entry.text : `${entry.text}\n`);
      }
    } catch (error) {
      // Ctrl-C ends a followed stream: that is how `-f` is meant to stop.
      if (!stop.signal.aborted) throw hostCallError(location.hostAddress, error);
    }
  } finally {
    stop.dispose();
    await cluster.close();
  }
}

/** Adds `agents logs` to the `agents` command. */
export function registerAgentsLogsCommand(agents: Command): Command {
  const command = agents
    .command("logs")
    .description("Print an agent's output (stdout and stderr), as its host captured it.")
    .argument("<agent-id>", "the agent");
  addClusterOptions(command);
  return command
    .option("--guild <id>", "the agent's guild (default: the one guild that has the agent)")
    .option("-f, --follow", "keep printing new lines until Ctrl-C")
    .option("--tail <lines>", "only the last this many lines (default: all the host keeps)")
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall agents logs responder --redis redis://localhost:6379
  $ guildhall agents logs worker-1 --guild pipeline -f --tail 20

Exit status: 0 printed (or Ctrl-C while following), 2 bad usage, 4 Redis or the host cannot be
reached, 5 no such agent.`,
    )
    .action(action("agents logs", agentsLogs));
}
