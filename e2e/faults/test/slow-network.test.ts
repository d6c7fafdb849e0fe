// Scenario 4: one host reaches Redis over a slow network (the fault proxy adds latency to every
// chunk, both ways) at default lease, heartbeat and reconcile settings. Slow is not dead: nothing
// fails over, no agent restarts, and the slow host's agents keep answering.
import { afterAll, beforeAll, expect, it } from "vitest";
import { startFaultProxy, type FaultProxy } from "../../../tools/fault-proxy/fault-proxy.js";
import { startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { launchEchoGuild } from "./support/echo-guild.js";
import { holdUntil } from "./support/hold.js";
import { pidsByAgent } from "./support/invariants.js";

const LATENCY_MS = 300;
const AGENTS = 6;
// Long enough for several default leases to lapse, were the slow host's heartbeats not arriving.
const WATCH_MS = 15_000;

let cluster: FaultCluster;
let proxy: FaultProxy | undefined;

beforeAll(async () => {
  cluster = await startFaultCluster({ label: "slow-net", hosts: 1 });
  proxy = await startFaultProxy({
    targetHost: cluster.network.gatewayIp,
    targetPort: cluster.redis.port,
    listenHost: cluster.network.gatewayIp,
  });
  // The slow host starts on a fast network, so its start-up is not what is measured.
  await cluster.startHost({ redisUrl: `redis://${proxy.address}` });
});

afterAll(async () => {
  await cluster?.close();
  await proxy?.close();
});

it("does not fail over a host whose Redis round trips are slow, at default settings", async () => {
  const engine = cluster.engine();
  const { guild, ids, invariants, pings } = await launchEchoGuild(cluster, engine, {
    agents: AGENTS,
    fault: "the network slowed down",
  });
  const slow = cluster.hosts[1]!;
  try {
    const located = await cluster.registry.listGuildAgents(guild.id);
    const onSlowHost = located.filter((a) => a.hostAddress === slow.address).length;
    expect(onSlowHost, "agents on the host to slow down").toBeGreaterThan(0);
    const pids = pidsByAgent(guild.id);

    proxy!.setLatency("upstream", LATENCY_MS);
    proxy!.setLatency("downstream", LATENCY_MS);
    const slowedAt = Date.now();
    let minLeaseLeftMs = Number.POSITIVE_INFINITY;
    await holdUntil(slowedAt + WATCH_MS, async () => {
      const host = await cluster.registry.getHost(slow.address);
      expect(host, "the slow host stays live in the registry").toBeDefined();
      minLeaseLeftMs = Math.min(minLeaseLeftMs, host!.leaseRemainingMs);
      const now = await cluster.registry.listGuildAgents(guild.id);
      expect(
        now.map((a) => [a.agentId, a.hostAddress, a.epoch]),
        "no agent moved",
      ).toEqual(located.map((a) => [a.agentId, a.hostAddress, a.epoch]));
      expect(pidsByAgent(guild.id), "no agent restarted").toEqual(pids);
    });
    const roundTripMs = await pings.pingAll(ids);
    cluster.report(
      `${LATENCY_MS} ms added each way between a host (${onSlowHost} of ${AGENTS} agents) and Redis ` +
        `for ${Date.now() - slowedAt} ms (default settings): no failover, least lease left ` +
        `${minLeaseLeftMs} ms, a ping answered by all in ${roundTripMs} ms`,
    );
    expect(pings.duplicates()).toEqual([]);
    await invariants.check("after the slow stretch");
    proxy!.setLatency("upstream", 0);
    proxy!.setLatency("downstream", 0);
    await guild.shutdown();
    await invariants.check("after the guild's shutdown");
  } finally {
    await pings.close();
  }
}, 90_000);
