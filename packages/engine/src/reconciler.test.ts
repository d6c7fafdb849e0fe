// The reconciler's decisions against a real MemoryLocationRegistry: hosts register and vanish,
// and the engine's side (placing, asking a host) is recorded.
import type { AgentLogger, AgentSpec } from "@guildhall/core";
import { MemoryLocationRegistry, type DesiredAgent } from "@guildhall/registry";
import { afterEach, describe, expect, it } from "vitest";
import { Reconciler, type AgentOnHost, type ReconcilerDependencies } from "./reconciler.js";

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
