// `guildhall agents ls`: every agent of the cluster as its host reports it (state, process,
// restarts, memory), asking each live host of the registry over the host API.
import { errorMessage } from "@guildhall/core";
import type { Command } from "commander";
import { action } from "../action.js";
import { addClusterOptions, connectCluster, type ClusterFlags } from "../cluster.js";
import { ExitCode } from "../exit-codes.js";
import { HOST_CALL_TIMEOUT_MS, agentStateName, hostCallError } from "../host-api.js";
import { colorState, printJson, renderTable } from "../output.js";

/** The flags of `guildhall agents ls`. */
export interface AgentsLsFlags extends ClusterFlags {
  readonly guild?: string;
  readonly json?: boolean;
}

/** One agent as `agents ls` shows it. */
interface AgentRow {
  readonly guildId: string;
  readonly agentId: string;
  readonly name: string;
  readonly host: string;
  readonly state: string;
  readonly pid: number;
  readonly restarts: number;
  readonly memoryMb: number;
  readonly className: string;
  readonly lastError?: string;
}

async function agentsLs(flags: AgentsLsFlags): Promise<ExitCode> {
  const cluster = await connectCluster(flags);
  try {
    const hosts = await cluster.registry.listHosts();
    const unreachable: string[] = [];
    const perHost = await Promise.all(
      hosts.map(async ({ address }): Promise<AgentRow[]> => {
        try {
          const { agents } = await cluster.hosts
            .get(address)
            .listAgents({ guildId: flags.guild ?? "" }, { timeoutMs: HOST_CALL_TIMEOUT_MS });
          return agents.map((a) => ({
            guildId: a.guildId,
            agentId: a.agentId,
            name: a.agentName,
            host: address,
            state: agentStateName(a.state),
            pid: a.pid,
            restarts: a.restarts,
            memoryMb: Math.round(Number(a.memoryRssBytes) / 1_048_576),
            className: a.className,
            ...(a.lastError !== undefined && { lastError: a.lastError }),
          }));
        } catch (error) {
          unreachable.push(address);
          process.stderr.write(
            `guildhall agents ls: ${errorMessage(hostCallError(address, error))}; its agents are not listed\n`,
          );
          return [];
        }
      }),
    );
    const rows = perHost
      .flat()
      .sort((a, b) => a.guildId.localeCompare(b.guildId) || a.agentId.localeCompare(b.agentId));
    if (flags.json === true) {
      printJson(rows);
    } else if (rows.length === 0) {
      process.stdout.write(
        hosts.length === 0
          ? "no agent host is registered: start hosts with `guildhall host` pointed at this Redis\n"
          : "no agents\n",
      );
    } else {
      process.stdout.write(
        `${renderTable(
          ["guild", "agent", "name", "host", "state", "pid", "restarts", "memory"],
          rows.map((r) => [
            r.guildId,
            r.agentId,
            r.name,
            r.host,
            colorState(r.state),
            String(r.pid),
            String(r.restarts),
            `${r.memoryMb} MB`,
          ]),
        )}\n`,
      );
    }
    // A listing with a host missing is incomplete; scripts should not take it for the truth.
    return unreachable.length === 0 ? ExitCode.ok : ExitCode.unreachable;
  } finally {
    await cluster.close();
  }
}

/** Adds `agents ls` to the `agents` command. */
export function registerAgentsLsCommand(agents: Command): Command {
  const command = agents
    .command("ls")
    .description("List the agents of the cluster's hosts, with their state and process.");
  addClusterOptions(command);
  return command
    .option("--guild <id>", "only the agents of this guild")
    .option("--json", "print the agents as a JSON array")
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall agents ls --redis redis://localhost:6379
  $ guildhall agents ls --guild hello --json

Exit status: 0 listed, 2 bad usage, 4 Redis or a host cannot be reached (the list lacks its agents).`,
    )
    .action(action("agents ls", agentsLs));
}
