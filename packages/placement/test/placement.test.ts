// Placement over a real registry: discovery joined with live host records, strategies choosing,
// and the registry's load changing as agents register.
import { MemoryLocationRegistry, type LocationRegistry } from "@guildhall/registry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  StaticDiscovery,
  eligibleHosts,
  leastLoaded,
  roundRobin,
  type PlacementStrategy,
} from "../src/index.js";

const HOSTS = ["10.0.0.1:50051", "10.0.0.2:50051", "[fd00::3]:50051"];

function spec(id: string) {
  return { id, name: id, className: "@acme/agents#Probe" };
}

describe("placement over the registry", () => {
  let registry: LocationRegistry;
  const discovery = new StaticDiscovery([...HOSTS, "10.0.0.99:50051"]);

  beforeEach(async () => {
    registry = new MemoryLocationRegistry();
    for (const address of HOSTS) await registry.registerHost({ address, maxAgents: 150 });
  });
  afterEach(() => registry.close());

  async function place(strategy: PlacementStrategy, agentId: string): Promise<string | undefined> {
    const candidates = eligibleHosts(discovery.hosts(), await registry.listHosts());
    if (candidates.length === 0) return undefined;
    const address = strategy.choose(candidates, { guildId: "g", agentId });
    if (address !== undefined) {
      await registry.registerAgent({ guildId: "g", spec: spec(agentId), hostAddress: address });
    }
    return address;
  }

  async function loads(): Promise<Map<string, number>> {
    return new Map((await registry.listHosts()).map((h) => [h.address, h.load]));
  }

  it("least-loaded evens out 300 placements over 3 hosts to within ±1", async () => {
    // Start uneven, as after a host restart: least-loaded must fill the gap first.
    for (let i = 0; i < 40; i++) {
      await registry.registerAgent({
        guildId: "g",
        spec: spec(`old-${i}`),
        hostAddress: HOSTS[0]!,
      });
    }
    const strategy = leastLoaded();
    for (let i = 0; i < 300; i++) expect(await place(strategy, `a-${i}`)).toBeDefined();
    const counts = [...(await loads()).values()];
    expect(counts.reduce((a, b) => a + b, 0)).toBe(340);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it("never picks a draining, full or unregistered host", async () => {
    await registry.setHostDraining(HOSTS[1]!, true);
    for (let i = 0; i < 150; i++) {
      await registry.registerAgent({
        guildId: "g",
        spec: spec(`fill-${i}`),
        hostAddress: HOSTS[2]!,
      });
    }
    for (const strategy of [roundRobin(), leastLoaded()]) {
      for (let i = 0; i < 20; i++) {
        expect(await place(strategy, `${strategy.name}-${i}`)).toBe(HOSTS[0]);
      }
    }
    await registry.setHostDraining(HOSTS[0]!, true);
    expect(await place(roundRobin(), "nowhere")).toBeUndefined();
  });
});
