// Scenario 8: an agent that crashes every time it starts. Its host restarts it with the policy's
// exponential backoff, stops after maxRestarts, and reports it crashed through GetAgentInfo; the
// registry no longer locates it and the engine's reconciler does not start the loop again.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AgentState } from "@guildhall/proto";
import { waitFor } from "@guildhall/testing";
import { FIXTURES, startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { hostClient } from "./support/host-client.js";
import { holdUntil } from "./support/hold.js";
import { agentProcesses, ClusterInvariants } from "./support/invariants.js";

const MAX_RESTARTS = 3;
const BACKOFF_MS = 300;
const CRASH_AFTER_MS = 100;
const RECONCILE_MS = 250;

let cluster: FaultCluster;

beforeAll(async () => {
  cluster = await startFaultCluster({
    label: "crashloop",
    hosts: 2,
    host: { heartbeatMs: 250, leaseMs: 2_500 },
  });
});

afterAll(async () => {
  await cluster?.close();
});

function starts(file: string): number[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => Number(line.split(" ")[0]));
}

it("restarts a crash-looping agent with backoff, caps the restarts and reports it crashed", async () => {
  const invariants = new ClusterInvariants(cluster);
  const engine = cluster.engine({ reconcile: { intervalMs: RECONCILE_MS } });
  const guild = cluster.guild();
  invariants.watchGuild(guild.id);
  const startsFile = join(cluster.logDir, "crash-loop-starts.txt");
  writeFileSync(startsFile, "");
  await engine.runAgent(guild, {
    id: "looper",
    name: "Looper",
    className: `${FIXTURES}/agents.mjs#CrashLoop`,
    properties: { startsFile, crashAfterMs: CRASH_AFTER_MS },
    restartPolicy: { mode: "on-failure", maxRestarts: MAX_RESTARTS, backoffMs: BACKOFF_MS },
  });
  const location = await cluster.registry.getLocation(guild.id, "looper");
  expect(location).toBeDefined();
  const client = hostClient(location!.hostAddress);

  const info = await waitFor(
    async () => {
      const { agent } = await client.getAgentInfo({ guildId: guild.id, agentId: "looper" });
      return agent?.state === AgentState.CRASHED ? agent : undefined;
    },
    { description: "the agent to be reported crashed", timeoutMs: 30_000, intervalMs: 50 },
  );
  const crashedAt = Date.now();
  expect(info.restarts).toBe(MAX_RESTARTS);
  expect(info.isAlive).toBe(false);
  expect(info.lastError ?? "").toMatch(/code 3/);

  const times = starts(startsFile);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  cluster.report(
    `crash loop (maxRestarts ${MAX_RESTARTS}, backoff ${BACKOFF_MS} ms doubling, crash ${CRASH_AFTER_MS} ms after start): ` +
      `${times.length} starts, gaps ${gaps.join(", ")} ms; reported crashed ${crashedAt - times[0]!} ms after the first start`,
  );
  expect(times.length).toBe(1 + MAX_RESTARTS);
  gaps.forEach((gap, i) => {
    // Restart i+1 waits backoff·2^i after the crash, which comes crashAfterMs after the start.
    expect(gap, `gap before restart ${i + 1}`).toBeGreaterThanOrEqual(
      CRASH_AFTER_MS + BACKOFF_MS * 2 ** i,
    );
  });

  // The registry drops it, and the reconciler does not start the loop again elsewhere.
  expect(await cluster.registry.getLocation(guild.id, "looper")).toBeUndefined();
  await holdUntil(crashedAt + 8 * RECONCILE_MS, async () => {
    expect(starts(startsFile).length).toBe(1 + MAX_RESTARTS);
    expect(agentProcesses([guild.id])).toEqual([]);
    expect(await engine.isAgentRunning(guild.id, "looper")).toBe(false);
  });
  await invariants.check("after the crash loop");
  await engine.stopAgent(guild.id, "looper");
  await invariants.check("after the agent was stopped");
}, 90_000);
