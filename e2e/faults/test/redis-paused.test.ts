// Scenario 6: Redis hangs (SIGSTOP) for 30 s, at default settings. Running agents keep running
// and messaging resumes afterwards; a placement tried meanwhile fails fast with UNAVAILABLE and
// leaves nothing behind.
import { afterAll, beforeAll, expect, it } from "vitest";
import { GuildhallError } from "@guildhall/core";
import { waitFor } from "@guildhall/testing";
import { echoSpec, startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { launchEchoGuild } from "./support/echo-guild.js";
import { agentProcesses, pidsByAgent } from "./support/invariants.js";
import { holdUntil } from "./support/hold.js";

const AGENTS = 6;
const OUTAGE_MS = 30_000;
// Failure bounds: a placement must give up well within the outage, and the cluster must heal
// within a couple of default leases after it.
const PLACEMENT_DEADLINE_MS = 15_000;
const RECOVERY_DEADLINE_MS = 40_000;

let cluster: FaultCluster;

beforeAll(async () => {
  cluster = await startFaultCluster({ label: "redis-pause", hosts: 2 });
});

afterAll(async () => {
  await cluster?.close();
});

it("keeps agents running through a 30 s Redis outage and refuses new placements meanwhile", async () => {
  const engine = cluster.engine();
  const { spec, guild, ids, invariants, pings } = await launchEchoGuild(cluster, engine, {
    agents: AGENTS,
    fault: "the outage",
  });
  try {
    const pids = pidsByAgent(guild.id);

    const pausedAt = Date.now();
    cluster.redis.pause();
    const outageEnds = pausedAt + OUTAGE_MS;
    const refusal = await Promise.race([
      engine.runAgent(spec, echoSpec("late-agent")).then(
        () => "placed",
        (error: unknown) => error,
      ),
      new Promise((resolve) => setTimeout(resolve, PLACEMENT_DEADLINE_MS, "still waiting")),
    ]);
    const refusedAfter = Date.now() - pausedAt;
    expect(refusal).toBeInstanceOf(GuildhallError);
    expect((refusal as GuildhallError).code).toBe("unavailable");
    // Through the outage the agents run on, each in the process it had.
    await holdUntil(outageEnds, () => expect(pidsByAgent(guild.id)).toEqual(pids), 500);
    cluster.redis.resume();
    const resumedAt = Date.now();
    await pings.pingAll(ids, RECOVERY_DEADLINE_MS);
    const answeredAt = Date.now();
    await waitFor(
      async () => (await cluster.registry.listGuildAgents(guild.id)).length === AGENTS,
      {
        description: "every agent to be registered again",
        timeoutMs: RECOVERY_DEADLINE_MS,
        intervalMs: 100,
      },
    );
    const registeredAt = Date.now();
    cluster.report(
      `Redis paused ${resumedAt - pausedAt} ms (default settings): a placement meanwhile failed ` +
        `with UNAVAILABLE after ${refusedAfter} ms; after the resume all agents answered in ` +
        `${answeredAt - resumedAt} ms and were registered in ${registeredAt - resumedAt} ms`,
    );

    expect(pidsByAgent(guild.id), "the very same agent processes").toEqual(pids);
    expect(agentProcesses([guild.id]).some((p) => p.agentId === "late-agent")).toBe(false);
    expect(await cluster.registry.getLocation(guild.id, "late-agent")).toBeUndefined();
    expect(pings.duplicates()).toEqual([]);
    await invariants.check("after the outage");
    await guild.shutdown();
    await invariants.check("after the guild's shutdown");
  } finally {
    await pings.close();
  }
}, 120_000);
