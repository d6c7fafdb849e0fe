// The reconciler's decisions against a real MemoryLocationRegistry: hosts register and vanish,
// and the engine's side (placing, asking a host) is recorded.
import type { AgentLogger, AgentSpec } from "@guildhall/core";
import { MemoryLocationRegistry, type DesiredAgent } from "@guildhall/registry";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
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
}

function harness(
  options: {
    registry?: MemoryLocationRegistry;
    graceMs?: number;
    probe?: AgentOnHost;
    replace?: (d: DesiredAgent) => Promise<string | undefined>;
    busy?: ReconcilerDependencies["busy"];
  } = {},
): Harness {
  const registry = options.registry ?? new MemoryLocationRegistry();
  const placed: string[] = [];
  const probed: string[] = [];
  const reconciler = new Reconciler({
    registry,
    // Passes run only when the test asks: the interval is never reached.
    options: {
      intervalMs: 3_600_000,
      leaseMs: 7_200_000,
      concurrency: 4,
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
  });
  reconciler.start();
  reconcilers.push(reconciler);
  return { registry, reconciler, placed, probed };
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
