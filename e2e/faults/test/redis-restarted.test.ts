// Scenario 5: Redis is killed and comes back empty. Every host registers itself and its agents
// again under the epochs it holds; nothing is re-placed or restarted (same processes), and
// messaging works again.
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { launchEchoGuild } from "./support/echo-guild.js";
import { pidsByAgent } from "./support/invariants.js";

const AGENTS = 9;
const DEADLINE_MS = 30_000;

let cluster: FaultCluster;

beforeAll(async () => {
  cluster = await startFaultCluster({
    label: "redis-restart",
    hosts: 3,
    host: { heartbeatMs: 250, leaseMs: 2_500 },
  });
});

afterAll(async () => {
  await cluster?.close();
});

it("lets hosts restore an emptied Redis without re-placing or restarting an agent", async () => {
  const engine = cluster.engine({ reconcile: { intervalMs: 250 } });
  const { guild, ids, invariants, pings } = await launchEchoGuild(cluster, engine, {
    agents: AGENTS,
    fault: "Redis died",
  });
  try {
    const pids = pidsByAgent(guild.id);
    const locations = new Map(
      (await cluster.registry.listGuildAgents(guild.id)).map((a) => [a.agentId, a]),
    );

    const killedAt = Date.now();
    await cluster.redis.kill();
    await cluster.redis.start();
    const backAt = Date.now();
    await waitFor(
      async () => (await cluster.registry.listGuildAgents(guild.id)).length === AGENTS,
      { description: "every agent to be registered again", timeoutMs: DEADLINE_MS, intervalMs: 50 },
    );
    const restoredAt = Date.now();
    await pings.pingAll(ids, DEADLINE_MS);
    const answeredAt = Date.now();
    cluster.report(
      `Redis SIGKILLed and restarted empty (down ${backAt - killedAt} ms): every agent registered ` +
        `again ${restoredAt - backAt} ms after it was back, all answering after ${answeredAt - backAt} ms`,
    );

    for (const agent of await cluster.registry.listGuildAgents(guild.id)) {
      const was = locations.get(agent.agentId)!;
      expect(agent.hostAddress, `${agent.agentId} stays on its host`).toBe(was.hostAddress);
      expect(agent.epoch, `${agent.agentId} keeps its placement`).toBe(was.epoch);
      expect(agent.spec).toEqual(was.spec);
    }
    await invariants.check("after Redis came back");
    expect(pidsByAgent(guild.id), "the very same agent processes").toEqual(pids);
    expect(pings.duplicates()).toEqual([]);
    await guild.shutdown();
    await invariants.check("after the guild's shutdown");
  } finally {
    await pings.close();
  }
}, 90_000);
