// Scenarios 2 and 3 share their story: one host drops out of the cluster for longer than its
// lease while its processes live on (paused, or cut off the network), its agents are re-placed
// elsewhere, and then it comes back. Its stale claims must be refused by the registry (fencing by
// epoch), it must stop its copies of the agents it no longer owns, and no agent may ever answer
// one message twice.
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { waitFor } from "@guildhall/testing";
import { childPids } from "../../../../tools/test-support/processes.js";
import { type ClusterHost, type FaultCluster } from "./fault-cluster.js";
import { launchEchoGuild } from "./echo-guild.js";
import { agentProcesses, pidsByAgent } from "./invariants.js";

/** Short enough that a scenario takes seconds, long enough that a busy machine keeps its leases. */
export const STALE_HOST_SETTINGS = { heartbeatMs: 250, leaseMs: 2_500 } as const;
const RECONCILE_MS = 250;
const AGENTS = 9;
const DEADLINE_MS = 30_000;

/** How a host drops out and comes back. */
export interface HostFault {
  /** Says what happened, for the printed line. */
  readonly name: string;
  apply(host: ClusterHost): Promise<void>;
  undo(host: ClusterHost): Promise<void>;
}

function agentsOfHost(host: ClusterHost, guildId: string): number[] {
  const children = new Set(childPids(host.pid));
  return agentProcesses([guildId])
    .filter((p) => children.has(p.pid))
    .map((p) => p.pid);
}

/** Runs the story with `fault` on the first of the cluster's hosts. */
export async function runStaleHostScenario(cluster: FaultCluster, fault: HostFault): Promise<void> {
  const engine = cluster.engine({ reconcile: { intervalMs: RECONCILE_MS } });
  const { guild, ids, invariants, pings } = await launchEchoGuild(cluster, engine, {
    agents: AGENTS,
    fault: "the fault",
  });
  try {
    const before = pidsByAgent(guild.id);
    const victim = cluster.hosts[0]!;
    const others = new Set(cluster.hosts.slice(1).map((h) => h.address));
    const lost = (await cluster.registry.listGuildAgents(guild.id))
      .filter((a) => a.hostAddress === victim.address)
      .map((a) => a.agentId);
    expect(lost.length, "agents on the host to fault").toBeGreaterThan(0);

    pings.startPinging(200);
    const faultAt = Date.now();
    await fault.apply(victim);
    await waitFor(
      async () => {
        const agents = await cluster.registry.listGuildAgents(guild.id);
        return agents.length === AGENTS && agents.every((a) => others.has(a.hostAddress));
      },
      {
        description: `the agents of the ${fault.name} host to run elsewhere`,
        timeoutMs: DEADLINE_MS,
        intervalMs: 50,
      },
    );
    const replacedAt = Date.now();
    // The stale copies still live on the faulted host: the host cannot know yet.
    expect(agentsOfHost(victim, guild.id).length).toBe(lost.length);

    await fault.undo(victim);
    const backAt = Date.now();
    await waitFor(() => agentsOfHost(victim, guild.id).length === 0, {
      description: "the returning host to stop its stale copies",
      timeoutMs: DEADLINE_MS,
      intervalMs: 20,
    });
    const fencedAt = Date.now();
    await waitFor(async () => (await cluster.registry.getHost(victim.address)) !== undefined, {
      description: "the returning host to be live in the registry again",
      timeoutMs: DEADLINE_MS,
    });
    await pings.pingAll(ids);
    pings.stopPinging();
    // A pong to a later ping proves every earlier pong of that agent is out.
    await pings.pingAll(ids);
    cluster.report(
      `${fault.name} of a host with ${lost.length} of ${AGENTS} agents (lease ${STALE_HOST_SETTINGS.leaseMs} ms): ` +
        `re-placed after ${replacedAt - faultAt} ms; host back after ${backAt - faultAt} ms stopped ` +
        `its stale copies ${fencedAt - backAt} ms later`,
    );

    expect(pings.duplicates(), "agents that answered one ping twice").toEqual([]);
    // The host learnt that newer placements own its agents: from the registry's answer to its
    // heartbeat, or from the bus refusing a copy's commit (a handler that was in flight when the
    // host stopped commits once it runs again, under its stale epoch).
    const relinquished = new Set(
      readFileSync(victim.logFile, "utf8")
        .split("\n")
        .filter(
          (line) =>
            line.includes("agent is placed on another host now") ||
            line.includes("a newer placement owns this agent"),
        )
        .map((line) => (JSON.parse(line) as { agent_id: string }).agent_id),
    );
    expect([...relinquished].sort()).toEqual([...lost].sort());
    await invariants.check("after the host came back");
    const after = pidsByAgent(guild.id);
    for (const id of ids) {
      if (lost.includes(id)) expect(after.get(id)).not.toBe(before.get(id));
      else expect(after.get(id), `${id} was not on the faulted host`).toBe(before.get(id));
    }
    await guild.shutdown();
    await invariants.check("after the guild's shutdown");
  } finally {
    await pings.close();
  }
}
