// How long a draining host waits for its agents to be moved away (DESIGN section 14). No engine
// here: the reconciler lease is taken and released by hand on the host's registry, and StopAgent
// keeping the agent's state stands in for an engine's move.
import { describe, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { createRequest, fixtureSpec, isRunning, type TestHost, useTestHosts } from "./helpers.js";

const LONG_MS = 60_000;

const startHost = useTestHosts();

/** A host running the Echo agents `ids` in guild g1; resolves with their pids. */
async function hostWith(ids: string[], drainTimeoutMs: number) {
  const t = await startHost({ drainTimeoutMs });
  const pids: number[] = [];
  for (const id of ids) {
    const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec(id, "Echo")));
    pids.push(agent?.pid ?? 0);
  }
  return { t, pids };
}

/** How often the host asked the registry whether a reconciler is active, from its metrics. */
async function reconcilerChecks(t: TestHost): Promise<number> {
  const line =
    /^guildhall_host_registry_op_duration_seconds_count\{[^}]*op="reconciler_active"[^}]*\} (\d+)/m;
  return Number(line.exec(await t.host.metrics())?.[1] ?? 0);
}

/** What a move does on the agent's old host. */
async function moveAway(t: TestHost, agentId: string): Promise<void> {
  await t.client.stopAgent({ guildId: "g1", agentId, keepState: true });
}

describe("a draining host", () => {
  it("stops its agents at once when no reconciler is active, as DrainHost always did", async () => {
    const { t, pids } = await hostWith(["a", "b"], LONG_MS);
    const startedAt = performance.now();
    const result = await t.client.drainHost({ stopAgents: true, timeoutMs: 1_000 });
    // Far below the drain timeout: nothing was waited for.
    expect(performance.now() - startedAt).toBeLessThan(LONG_MS / 4);
    expect(result).toMatchObject({ agentsRemaining: 0, agentsMoved: 0, agentsStopped: 2 });
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
    expect(await t.registry.listGuildAgents("g1")).toEqual([]);
    expect(t.host.state).toBe("draining");
  });

  it("runs its agents while a reconciler is active, and finishes once they are all moved away", async () => {
    const { t, pids } = await hostWith(["a", "b"], LONG_MS);
    await t.registry.acquireReconcilerLease(LONG_MS);
    let settled = false;
    const draining = t.client.drainHost({ stopAgents: true }).finally(() => {
      settled = true;
    });
    await waitFor(async () => (await t.registry.getHost(t.host.address))?.draining === true, {
      description: "the host to be marked draining",
    });
    expect(settled).toBe(false);
    for (const pid of pids) expect(isRunning(pid)).toBe(true);

    await moveAway(t, "a");
    expect(settled).toBe(false);
    expect(isRunning(pids[1]!)).toBe(true);
    await moveAway(t, "b");
    expect(await draining).toMatchObject({ agentsRemaining: 0, agentsMoved: 2, agentsStopped: 0 });
  });

  it("stops the agents left at its drain timeout, counting those moved before", async () => {
    // Time enough to move one agent first, even on a busy machine.
    const { t, pids } = await hostWith(["a", "b"], 3_000);
    await t.registry.acquireReconcilerLease(LONG_MS);
    const draining = t.host.drain({ stopAgents: true });
    await moveAway(t, "a");
    expect(await draining).toEqual({ agentsRemaining: 0, agentsMoved: 1, agentsStopped: 1 });
    expect(isRunning(pids[1]!)).toBe(false);
  });

  it("stops waiting once nobody holds the reconciler lease any more", async () => {
    const { t } = await hostWith(["a", "b"], LONG_MS);
    const lease = await t.registry.acquireReconcilerLease(LONG_MS);
    const draining = t.host.drain({ stopAgents: true });
    // Released only once the host found the reconciler active and began to wait.
    await waitFor(async () => (await reconcilerChecks(t)) > 0, {
      description: "the host to ask whether a reconciler is active",
    });
    if (lease !== undefined) await t.registry.releaseReconcilerLease(lease);
    expect(await draining).toEqual({ agentsRemaining: 0, agentsMoved: 0, agentsStopped: 2 });
  });

  it("without stopAgents leaves what was not moved running; close() ends a drain that waits", async () => {
    const { t, pids } = await hostWith(["a"], LONG_MS);
    expect(await t.host.drain()).toEqual({
      agentsRemaining: 1,
      agentsMoved: 0,
      agentsStopped: 0,
    });
    expect(isRunning(pids[0]!)).toBe(true);

    await t.registry.acquireReconcilerLease(LONG_MS);
    const waiting = t.host.drain({ stopAgents: true });
    await t.host.close();
    // The drain left the agent to close(), which stopped it.
    expect(await waiting).toMatchObject({ agentsMoved: 0, agentsStopped: 0 });
    expect(isRunning(pids[0]!)).toBe(false);
  });
});
