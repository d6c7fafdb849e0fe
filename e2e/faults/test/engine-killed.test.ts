// Scenario 7: the engine dies by SIGKILL after it sent CreateAgent and before the host answered.
// A second engine's reconciler settles the agent: it runs exactly once, registered where it runs,
// and no process is left without an owner.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { echoSpec, startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { agentProcesses, ClusterInvariants } from "./support/invariants.js";
import { holdUntil } from "./support/hold.js";
import { GuildPings } from "./support/pings.js";

const ENGINE_CHILD = fileURLToPath(new URL("../fixtures/engine-child.mjs", import.meta.url));
const RECONCILE_MS = 250;
const PLACEMENT_GRACE_MS = 3_000;
const DEADLINE_MS = 30_000;

let cluster: FaultCluster;

beforeAll(async () => {
  cluster = await startFaultCluster({
    label: "engine-kill",
    hosts: 2,
    host: { heartbeatMs: 250, leaseMs: 2_500 },
  });
});

afterAll(async () => {
  await cluster?.close();
});

it("settles an agent whose engine died between CreateAgent and the answer", async () => {
  const invariants = new ClusterInvariants(cluster);
  const guild = cluster.guild();
  invariants.watchGuild(guild.id);
  // A slow onStart keeps the host from answering for a while after the process appears.
  const spec = echoSpec("orphan-candidate", { properties: { startDelayMs: 1_500 } });
  const child = spawn(
    process.execPath,
    [
      ENGINE_CHILD,
      JSON.stringify({
        redisUrl: cluster.redis.url,
        prefix: cluster.prefix,
        hosts: cluster.hosts.map((h) => h.address),
        guild,
        spec,
      }),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, "exit");
  const first = await waitFor(() => agentProcesses([guild.id])[0], {
    description: "the host to start the agent's process",
    timeoutMs: DEADLINE_MS,
    intervalMs: 10,
  });
  child.kill("SIGKILL");
  const killedAt = Date.now();
  await exited;
  expect(output, "the engine was killed before the host answered").not.toContain("placed");

  const engine = cluster.engine({
    reconcile: { intervalMs: RECONCILE_MS, placementGraceMs: PLACEMENT_GRACE_MS },
  });
  const pings = await GuildPings.open(cluster.bus, guild.id);
  try {
    // Every engine gets its chance to place the agent a second time (the grace of agents it never
    // saw running, and a few passes more); meanwhile no agent may ever have two processes.
    await holdUntil(
      killedAt + PLACEMENT_GRACE_MS + 4 * RECONCILE_MS,
      () => {
        const processes = agentProcesses([guild.id]);
        expect(processes.length, "live processes of the agent").toBeLessThanOrEqual(1);
      },
      20,
    );
    await waitFor(
      async () => {
        const located = await cluster.registry.getLocation(guild.id, spec.id);
        return located !== undefined && agentProcesses([guild.id]).length === 1;
      },
      {
        description: "the agent to run once, registered where it runs",
        timeoutMs: DEADLINE_MS,
        intervalMs: 50,
      },
    );
    await pings.pingAll([spec.id]);
    const settledAt = Date.now();
    await invariants.check("after the reconciler settled the agent");
    const now = agentProcesses([guild.id]);
    cluster.report(
      `engine SIGKILLed during CreateAgent: the agent answered from one registered process ` +
        `${settledAt - killedAt} ms after the kill, placement grace ${PLACEMENT_GRACE_MS} ms (${now[0]?.pid === first.pid ? "the host finished the started process" : "re-placed by the reconciler"})`,
    );
    expect(now.length).toBe(1);
    expect(await engine.isAgentRunning(guild.id, spec.id)).toBe(true);
    expect(pings.duplicates()).toEqual([]);
    await engine.stopAgent(guild.id, spec.id);
    await invariants.check("after the agent was stopped");
    expect(agentProcesses([guild.id])).toEqual([]);
  } finally {
    await pings.close();
  }
}, 90_000);
