// `guildhall status`: what the registry knows about a cluster: its live hosts (address, agents
// and capacity, lease, draining) and the guilds it should run (agents wanted and running).
import type { Command } from "commander";
import pc from "picocolors";
import { action } from "../action.js";
import { addClusterOptions, connectCluster, type ClusterFlags } from "../cluster.js";
import { formatMs, printJson, renderTable } from "../output.js";

/** The flags of `guildhall status`. */
export interface StatusFlags extends ClusterFlags {
  readonly json?: boolean;
}

async function status(flags: StatusFlags): Promise<void> {
  const cluster = await connectCluster(flags);
  try {
    const hosts = await cluster.registry.listHosts();
    const desired = await cluster.registry.listAllDesiredAgents();
    const names = new Map<string, string>();
    const wanted = new Map<string, number>();
    for (const { guild } of desired) {
      names.set(guild.id, guild.name);
      wanted.set(guild.id, (wanted.get(guild.id) ?? 0) + 1);
    }
    const guilds = await Promise.all(
      [...wanted].map(async ([id, count]) => ({
        id,
        name: names.get(id) ?? id,
        desiredAgents: count,
        runningAgents: (await cluster.registry.listGuildAgents(id)).length,
      })),
    );
    if (flags.json === true) {
      printJson({ hosts, guilds });
      return;
    }
    const out: string[] = [];
    out.push(pc.bold(`hosts (${hosts.length})`));
    out.push(
      hosts.length === 0
        ? "no agent host is registered: start hosts with `guildhall host` pointed at this Redis"
        : renderTable(
            ["address", "agents", "lease", "draining"],
            hosts.map((h) => [
              h.address,
              `${h.load}/${h.maxAgents}`,
              formatMs(h.leaseMs),
              h.draining ? pc.yellow("yes") : "no",
            ]),
          ),
    );
    out.push(pc.bold(`guilds (${guilds.length})`));
    out.push(
      guilds.length === 0
        ? "no guild is running: launch one with `guildhall run <guild.yaml>`"
        : renderTable(
            ["guild", "name", "agents running/wanted"],
            guilds.map((g) => {
              const count = `${g.runningAgents}/${g.desiredAgents}`;
              return [g.id, g.name, g.runningAgents < g.desiredAgents ? pc.yellow(count) : count];
            }),
          ),
    );
    process.stdout.write(`${out.join("\n")}\n`);
  } finally {
    await cluster.close();
  }
}

/** Adds `guildhall status` to `program`. */
export function registerStatusCommand(program: Command): Command {
  const command = program
    .command("status")
    .description("Show the cluster's live agent hosts and the guilds it runs.");
  addClusterOptions(command);
  return command
    .option("--json", "print { hosts, guilds } as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ guildhall status --redis redis://localhost:6379
  $ GUILDHALL_REDIS_URL=redis://redis:6379 guildhall status --json | jq '.hosts[].address'

Hosts are those whose lease is live; guilds are those an engine wants running (guildhall run).
Exit status: 0 shown, 2 bad usage, 4 Redis cannot be reached.`,
    )
    .action(action("status", status));
}
