// The reconciler's decisions against a real MemoryLocationRegistry: hosts register and vanish,
// and the engine's side (placing, asking a host) is recorded.
import { GuildhallError, type AgentLogger, type AgentSpec } from "@guildhall/core";
import { MemoryLocationRegistry, type DesiredAgent } from "@guildhall/registry";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { DRAIN_PASS_DELAY_MS } from "./engine-options.js";
import {
  LEASE_EXPIRY_MARGIN_MS,
  Reconciler,
  type AgentOnHost,
  type ReconcilerDependencies,
} from "./reconciler.js";

const guild = { id: "g", name: "G" };
const spec = (id: string): AgentSpec => ({ id, name: id, className: "/srv/a.js#A" });
const quiet: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const reconcilers: Reconciler[] = [];

afterEach(async () => {
  for (const r of reconcilers.splice(0)) await r.stop();
});

interface Harness {
  registry: MemoryLocationRegistry;
  reconciler: Reconciler;
  placed: string[];
  probed: string[];
  /** The agents moved off draining hosts, in the order their moves began. */
  moved: string[];
}

function harness(
  options: {
    registry?: MemoryLocationRegistry;
    graceMs?: number;
    probe?: AgentOnHost;
    replace?: (d: DesiredAgent) => Promise<string | undefined>;
    busy?: ReconcilerDependencies["busy"];
    drainMoveConcurrency?: number;
    rebalanceThreshold?: number;
    /** Instead of moving the agent to `toHost` (default `to:1`) in the registry. */
    moveAgent?: ReconcilerDependencies["moveAgent"];
  } = {},
): Harness {
  const registry = options.registry ?? new MemoryLocationRegistry();
  const placed: string[] = [];
  const probed: string[] = [];
  const moved: string[] = [];
  const reconciler = new Reconciler({
    registry,
    // Passes run only when the test asks: the interval is never reached.
    options: {
      intervalMs: 3_600_000,
      leaseMs: 7_200_000,
      concurrency: 4,
      drainMoveConcurrency: options.drainMoveConcurrency ?? 4,
      rebalanceThreshold: options.rebalanceThreshold,
      placementGraceMs: options.graceMs ?? 0,
    },
    logger: quiet,
    busy: options.busy ?? (() => false),
    replace:
      options.replace ??
      (async (d) => {
        placed.push(d.spec.id);
        return "elsewhere:1";
      }),
    probe: async (host, _guildId, agentId) => {
      probed.push(`${agentId}@${host}`);
      return options.probe ?? "unknown";
    },
    discoveredHosts: () => ["full:1", "new:1", "to:1", "serving:1", "a:1"],
    moveAgent: async (guildId, agentId, toHost = "to:1") => {
      moved.push(agentId);
      if (options.moveAgent !== undefined) return options.moveAgent(guildId, agentId, toHost);
      const from = (await registry.getLocation(guildId, agentId))?.hostAddress ?? "";
      // Registering it elsewhere takes it from its old host in the same step, as a move ends.
      await registry.registerAgent({ guildId, spec: spec(agentId), hostAddress: toHost });
      return { from, to: toHost };
    },
  });
  reconciler.start();
  reconcilers.push(reconciler);
  return { registry, reconciler, placed, probed, moved };
}

/** Host leases longer than the interval, so only a drain sets an early pass. */
const LONG_LEASE_MS = 7_200_000;

/** Runs `ids` on `host`, then marks the host draining. */
async function drainWith(registry: MemoryLocationRegistry, host: string, ids: string[]) {
  await registry.registerHost({ address: host, maxAgents: 10, leaseMs: LONG_LEASE_MS });
  for (const id of ids) {
    await registry.setDesiredAgent(guild, spec(id));
    await registry.registerAgent({ guildId: guild.id, spec: spec(id), hostAddress: host });
  }
  await registry.setHostDraining(host, true);
}

async function agentsOn(registry: MemoryLocationRegistry, host: string): Promise<string[]> {
  const agents = await registry.listGuildAgents(guild.id);
  return agents.filter((a) => a.hostAddress === host).map((a) => a.agentId);
}

async function runOn(registry: MemoryLocationRegistry, host: string, ids: string[]): Promise<void> {
  await registry.registerHost({ address: host, maxAgents: 10 });
  for (const id of ids) {
    await registry.setDesiredAgent(guild, spec(id));
    await registry.registerAgent({ guildId: guild.id, spec: spec(id), hostAddress: host });
  }
}

describe("Reconciler", () => {
  it("leaves live agents alone and re-places those whose host went away", async () => {
    const h = harness();
    await runOn(h.registry, "a:1", ["x", "y"]);
    await h.reconciler.runOnce();
    expect(h.placed).toEqual([]);
    await h.registry.deregisterHost("a:1");
    await h.reconciler.runOnce();
    expect(h.placed.sort()).toEqual(["x", "y"]);
    expect(h.probed).toEqual([]);
  });

  it("passes again as soon as the lease of a host with agents lapses, not an interval later", async () => {
    const registry = new MemoryLocationRegistry({ hostLeaseMs: 300 });
    const h = harness({ registry });
    expect(h.reconciler.nextPassDelayMs()).toBe(3_600_000);
    await registry.registerHost({ address: "idle:1", maxAgents: 10 });
    await runOn(registry, "a:1", ["x", "y"]);
    await h.reconciler.runOnce();
    expect(h.placed).toEqual([]);
    // A host without agents has nothing to heal; the one with agents sets the next pass.
    const delay = h.reconciler.nextPassDelayMs();
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(300 + LEASE_EXPIRY_MARGIN_MS);
    // Nobody heartbeats and nobody calls runOnce: the reconciler wakes up by itself.
    await waitFor(() => h.placed.length === 2, {
      description: "the lost agents to be re-placed",
      timeoutMs: 10_000,
    });
    expect(h.placed.sort()).toEqual(["x", "y"]);
    // Nothing left to watch: back to the interval.
    expect(h.reconciler.nextPassDelayMs()).toBe(3_600_000);
  });

  it("after the registry failed, leaves lost hosts' agents to them for a lease before re-placing", async () => {
    const memory = new MemoryLocationRegistry({ hostLeaseMs: 300 });
    let failing = false;
    // The same registry, failing on demand, as Redis does while it is down.
    const registry = new Proxy(memory, {
      get(target, name, receiver) {
        const value: unknown = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]): unknown => {
          if (failing) return Promise.reject(new Error("registry unreachable"));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const h = harness({ registry });
    await runOn(memory, "a:1", ["x"]);
    await h.reconciler.runOnce();
    failing = true;
    await h.reconciler.runOnce();
    failing = false;
    // The host's lease lapsed during the outage; a live host would now be restoring its agents.
    await memory.deregisterHost("a:1");
    await h.reconciler.runOnce();
    expect(h.placed).toEqual([]);
    expect(h.reconciler.nextPassDelayMs()).toBeLessThanOrEqual(300 + LEASE_EXPIRY_MARGIN_MS);
    // Nobody came back for it within a lease of a steady registry: it is re-placed, unprompted.
    await waitFor(() => h.placed.length === 1, {
      description: "the agent to be re-placed",
      timeoutMs: 10_000,
    });
    expect(h.placed).toEqual(["x"]);
  });

  it("asks a host that is still live what became of an agent it lost", async () => {
    for (const [answer, replaced] of [
      ["running", false],
      ["ended", false],
      ["unknown", true],
      ["unreachable", true],
    ] as const) {
      const h = harness({ probe: answer });
      await runOn(h.registry, "a:1", ["x"]);
      await h.reconciler.runOnce();
      await h.registry.deregisterAgent(guild.id, "x", 1);
      await h.reconciler.runOnce();
      expect(h.probed, answer).toEqual(["x@a:1"]);
      expect(h.placed, answer).toEqual(replaced ? ["x"] : []);
      await h.reconciler.stop();
    }
  });

  it("gives agents it never saw running a grace period, and skips busy ones", async () => {
    const registry = new MemoryLocationRegistry();
    await registry.setDesiredAgent(guild, spec("new"));
    const patient = harness({ registry, graceMs: 3_600_000 });
    await patient.reconciler.runOnce();
    expect(patient.placed).toEqual([]);
    await patient.reconciler.stop();

    const busy = harness({ registry, busy: () => true });
    await busy.reconciler.runOnce();
    expect(busy.placed).toEqual([]);
    await busy.reconciler.stop();

    const eager = harness({ registry, graceMs: 0 });
    await eager.reconciler.runOnce();
    expect(eager.placed).toEqual(["new"]);
  });

  it("backs off from an agent whose re-placement failed", async () => {
    let attempts = 0;
    const h = harness({
      replace: async () => {
        attempts++;
        throw new Error("no host");
      },
    });
    await h.registry.setDesiredAgent(guild, spec("x"));
    await h.reconciler.runOnce();
    await h.reconciler.runOnce();
    expect(attempts).toBe(1);
  });

  it("moves a draining host's agents a few per pass, passing again soon until none is left", async () => {
    const h = harness({ drainMoveConcurrency: 2 });
    await h.registry.registerHost({ address: "to:1", maxAgents: 10, leaseMs: LONG_LEASE_MS });
    // Agents wanted but created on a host directly are not the engine's to move.
    await h.registry.registerHost({ address: "serving:1", maxAgents: 10, leaseMs: LONG_LEASE_MS });
    await h.registry.registerAgent({
      guildId: guild.id,
      spec: spec("stay"),
      hostAddress: "serving:1",
    });
    await h.registry.setDesiredAgent(guild, spec("stay"));
    await drainWith(h.registry, "draining:1", ["a", "b", "c", "d", "e"]);
    await h.reconciler.runOnce();
    expect(h.moved).toHaveLength(2);
    expect(await agentsOn(h.registry, "draining:1")).toHaveLength(3);
    expect(h.reconciler.nextPassDelayMs()).toBeLessThanOrEqual(DRAIN_PASS_DELAY_MS);
    // Nobody calls runOnce: the reconciler passes again by itself until the host is empty.
    await waitFor(async () => (await agentsOn(h.registry, "draining:1")).length === 0, {
      description: "the draining host to be emptied",
    });
    expect(h.moved.sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect((await agentsOn(h.registry, "to:1")).sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(await agentsOn(h.registry, "serving:1")).toEqual(["stay"]);
    expect(h.placed).toEqual([]);
    await h.reconciler.runOnce();
    expect(h.reconciler.nextPassDelayMs()).toBe(3_600_000);
  });

  it("evens out the hosts when asked to, a few agents per pass, and leaves them be by default", async () => {
    const ids = ["a", "b", "c", "d", "e", "f"];
    const off = harness();
    await runOn(off.registry, "full:1", ids);
    await off.registry.registerHost({ address: "new:1", maxAgents: 10 });
    await off.reconciler.runOnce();
    expect(off.moved).toEqual([]);

    const h = harness({ rebalanceThreshold: 0.2, drainMoveConcurrency: 2 });
    await h.registry.registerHost({ address: "full:1", maxAgents: 10, leaseMs: LONG_LEASE_MS });
    for (const id of ids) {
      await h.registry.setDesiredAgent(guild, spec(id));
      await h.registry.registerAgent({ guildId: guild.id, spec: spec(id), hostAddress: "full:1" });
    }
    await h.registry.registerHost({ address: "new:1", maxAgents: 10, leaseMs: LONG_LEASE_MS });
    // Registered but not discovered: the engine cannot reach it, so nothing moves there.
    await h.registry.registerHost({ address: "unseen:1", maxAgents: 10, leaseMs: LONG_LEASE_MS });
    await h.reconciler.runOnce();
    expect(h.moved).toEqual(["a", "b"]);
    // A whole batch moved, so more may be due: the next pass comes soon.
    expect(h.reconciler.nextPassDelayMs()).toBeLessThanOrEqual(DRAIN_PASS_DELAY_MS);
    expect((await agentsOn(h.registry, "new:1")).sort()).toEqual(["a", "b"]);
    // 6 of 10 against 0 of 10 ended at 4 against 2: within 0.2 of each other, so it stays so.
    await h.reconciler.runOnce();
    expect(h.moved).toEqual(["a", "b"]);
    expect((await agentsOn(h.registry, "full:1")).sort()).toEqual(["c", "d", "e", "f"]);
    expect(h.reconciler.nextPassDelayMs()).toBe(3_600_000);
  });

  it("does not rebalance while a draining host still has agents to move", async () => {
    const h = harness({ rebalanceThreshold: 0.1 });
    await runOn(h.registry, "full:1", ["x1", "x2", "x3", "x4"]);
    await h.registry.registerHost({ address: "to:1", maxAgents: 10, leaseMs: LONG_LEASE_MS });
    await drainWith(h.registry, "draining:1", ["d1"]);
    await h.reconciler.runOnce();
    expect(h.moved).toEqual(["d1"]);
  });

  it("takes from each draining host in turn, and moves no more than the other hosts have room for", async () => {
    const h = harness({ drainMoveConcurrency: 10 });
    await h.registry.registerHost({ address: "to:1", maxAgents: 3, leaseMs: LONG_LEASE_MS });
    await drainWith(h.registry, "draining:1", ["a1", "a2", "a3"]);
    await drainWith(h.registry, "draining:2", ["b1", "b2", "b3"]);
    await h.reconciler.runOnce();
    expect(h.moved).toEqual(["a1", "b1", "a2"]);
    // The other host is full now: the rest wait for room, and the next pass is not hurried.
    expect(h.reconciler.nextPassDelayMs()).toBe(3_600_000);
    await h.reconciler.runOnce();
    expect(h.moved).toHaveLength(3);
  });

  it("leaves a draining host's agents where they are when no other host can take them", async () => {
    const h = harness();
    await drainWith(h.registry, "draining:1", ["a", "b"]);
    await h.reconciler.runOnce();
    expect(h.moved).toEqual([]);
    expect(h.placed).toEqual([]);
    expect((await agentsOn(h.registry, "draining:1")).sort()).toEqual(["a", "b"]);
    expect(h.reconciler.nextPassDelayMs()).toBe(3_600_000);
  });

  it("skips agents the engine is busy with, and waits an interval before moving one again after a refusal", async () => {
    const refusing = new Set(["a"]);
    const h = harness({
      busy: (_guildId, agentId) => agentId === "busy",
      moveAgent: async (guildId, agentId) => {
        if (refusing.has(agentId)) {
          throw new GuildhallError("resource-exhausted", "every other agent host is full");
        }
        await h.registry.registerAgent({ guildId, spec: spec(agentId), hostAddress: "to:1" });
        return { from: "draining:1", to: "to:1" };
      },
    });
    await h.registry.registerHost({ address: "to:1", maxAgents: 10, leaseMs: LONG_LEASE_MS });
    await drainWith(h.registry, "draining:1", ["a", "b", "busy"]);
    await h.reconciler.runOnce();
    expect(h.moved.sort()).toEqual(["a", "b"]);
    refusing.clear();
    await h.reconciler.runOnce();
    expect(h.moved.sort()).toEqual(["a", "b"]);
    expect((await agentsOn(h.registry, "draining:1")).sort()).toEqual(["a", "busy"]);
  });

  it("lets one reconciler per registry work at a time, and hands over when it stops", async () => {
    const registry = new MemoryLocationRegistry();
    const first = harness({ registry });
    const second = harness({ registry });
    await registry.setDesiredAgent(guild, spec("x"));
    await first.reconciler.runOnce();
    await second.reconciler.runOnce();
    expect([first.placed, second.placed]).toEqual([["x"], []]);
    await registry.setDesiredAgent(guild, spec("y"));
    await first.reconciler.stop();
    await second.reconciler.runOnce();
    expect(second.placed.sort()).toEqual(["x", "y"]);
  });
});
