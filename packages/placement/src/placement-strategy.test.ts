import type { HostStatus } from "@guildhall/registry";
import { describe, expect, it } from "vitest";
import { eligibleHosts } from "./eligible-hosts.js";
import { leastLoaded, roundRobin, type PlacementCandidate } from "./placement-strategy.js";

const request = { guildId: "g", agentId: "a" };

function host(address: string, load: number, maxAgents = 10, draining = false): HostStatus {
  return {
    address,
    load,
    maxAgents,
    draining,
    leaseMs: 10_000,
    agentTtlMs: 10_000,
    leaseRemainingMs: 10_000,
  };
}

describe("eligibleHosts", () => {
  const registered = [
    host("10.0.0.1:50051", 3),
    host("10.0.0.2:50051", 10),
    host("10.0.0.3:50051", 0, 10, true),
    host("[fd00::4]:50051", 9),
    host("10.0.0.9:50051", 0),
  ];
  const discovered = [
    "10.0.0.1:50051",
    "10.0.0.2:50051",
    "10.0.0.3:50051",
    "[fd00::4]:50051",
    "10.0.0.5:50051",
  ];

  it("keeps discovered, registered hosts that are neither draining nor full", () => {
    expect(eligibleHosts(discovered, registered).map((c) => c.address)).toEqual([
      "10.0.0.1:50051",
      "[fd00::4]:50051",
    ]);
  });

  it("skips excluded hosts and counts in-flight placements toward capacity", () => {
    const candidates = eligibleHosts(discovered, registered, {
      exclude: new Set(["10.0.0.1:50051"]),
      inFlight: new Map([["[fd00::4]:50051", 1]]),
    });
    expect(candidates).toEqual([]);
    const withLoad = eligibleHosts(discovered, registered, {
      inFlight: new Map([["10.0.0.1:50051", 2]]),
    });
    expect(withLoad.find((c) => c.address === "10.0.0.1:50051")?.load).toBe(5);
  });
});

describe("roundRobin", () => {
  it("takes each host in turn and survives hosts leaving and joining", () => {
    const strategy = roundRobin();
    const c = (...addresses: string[]): PlacementCandidate[] =>
      addresses.map((address) => ({ address, load: 0, maxAgents: 10 }));
    const picks = [1, 2, 3, 4].map(() => strategy.choose(c("a:1", "b:1", "c:1"), request));
    expect(picks).toEqual(["a:1", "b:1", "c:1", "a:1"]);
    expect(strategy.choose(c("a:1", "c:1"), request)).toBe("c:1");
    expect(strategy.choose(c("a:1", "b:1", "c:1", "d:1"), request)).toBe("d:1");
    expect(strategy.choose(c("a:1", "b:1", "c:1", "d:1"), request)).toBe("a:1");
  });
});

describe("leastLoaded", () => {
  it("picks the host with the lowest fill, rotating among ties", () => {
    const strategy = leastLoaded();
    const candidates: PlacementCandidate[] = [
      { address: "a:1", load: 5, maxAgents: 10 },
      { address: "b:1", load: 5, maxAgents: 20 },
      { address: "c:1", load: 10, maxAgents: 40 },
    ];
    expect(strategy.choose(candidates, request)).toBe("b:1");
    const tied: PlacementCandidate[] = [
      { address: "a:1", load: 1, maxAgents: 10 },
      { address: "b:1", load: 1, maxAgents: 10 },
    ];
    expect([strategy.choose(tied, request), strategy.choose(tied, request)].sort()).toEqual([
      "a:1",
      "b:1",
    ]);
  });
});
