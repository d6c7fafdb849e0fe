// Scenario 1: a host's whole process group (the host and its agents) dies by SIGKILL. At the
// default lease, heartbeat and reconcile settings, every agent it ran runs again on the other
// hosts, once each, and nothing else moves.
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { launchEchoGuild } from "./support/echo-guild.js";
import { pidsByAgent } from "./support/invariants.js";

const AGENTS = 30;
// The test's failure bound, not a claim about speed: the measured time is printed.
const RECOVERY_DEADLINE_MS = 45_000;

let cluster: FaultCluster;

beforeAll(async () => {
  cluster = await startFaultCluster({ label: "kill9", hosts: 3 });
});

afterAll(async () => {
  await cluster?.close();
});

it("re-places every agent of a SIGKILLed host group on the others at default settings", async () => {
  const engine = cluster.engine();
  const { guild, ids, invariants, pings } = await launchEchoGuild(cluster, engine, {
    agents: AGENTS,
    concurrency: 6,
    fault: "the kill",
  });
  try {
    const before = pidsByAgent(guild.id);

    const victim = cluster.hosts[0]!;
    const lost = (await cluster.registry.listGuildAgents(guild.id))
      .filter((a) => a.hostAddress === victim.address)
      .map((a) => a.agentId);
    expect(lost.length).toBeGreaterThan(0);
    const survivors = new Set(cluster.hosts.slice(1).map((h) => h.address));

    const killedAt = Date.now();
    await victim.process.killGroup();
    await waitFor(
      async () => {
        const agents = await cluster.registry.listGuildAgents(guild.id);
        return agents.length === AGENTS && agents.every((a) => survivors.has(a.hostAddress));
      },
      {
        description: "every agent to run on a surviving host",
        timeoutMs: RECOVERY_DEADLINE_MS,
        intervalMs: 100,
      },
    );
    const registeredAt = Date.now();
    await pings.pingAll(ids);
    const answeredAt = Date.now();
    cluster.report(
      `SIGKILL of a host group with ${lost.length} of ${AGENTS} agents (default settings): ` +
        `all registered on other hosts after ${registeredAt - killedAt} ms, all answering after ` +
        `${answeredAt - killedAt} ms`,
    );

    await invariants.check("after the re-placement");
    const after = pidsByAgent(guild.id);
    for (const id of ids) {
      if (lost.includes(id)) expect(after.get(id)).not.toBe(before.get(id));
      else expect(after.get(id), `${id} was not on the killed host`).toBe(before.get(id));
    }
    expect(pings.duplicates()).toEqual([]);
    await guild.shutdown();
    await invariants.check("after the guild's shutdown");
    expect(pidsByAgent(guild.id).size).toBe(0);
  } finally {
    await pings.close();
  }
}, 120_000);
