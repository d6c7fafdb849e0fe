import type { HostStatus } from "@guildhall/registry";
import { describe, expect, it } from "vitest";
import { pickRebalanceMoves, type PlacedAgent } from "./rebalance-moves.js";

function host(address: string, load: number, maxAgents = 10, draining = false): HostStatus {
  return {
    address,
    load,
    maxAgents,
    draining,
    leaseMs: 3_000,
    agentTtlMs: 3_000,
    leaseRemainingMs: 3_000,
  };
}

function on(hostAddress: string, ...ids: string[]): PlacedAgent[] {
  return ids.map((agentId) => ({ guildId: "g", agentId, host: hostAddress }));
}

const moved = (moves: ReturnType<typeof pickRebalanceMoves>) =>
  moves.map((m) => `${m.agent.agentId}→${m.to}`);

describe("pickRebalanceMoves", () => {
  it("moves from the fullest host to the emptiest until they are within the threshold", () => {
    const hosts = [host("a", 6), host("b", 0), host("c", 2)];
    const placed = [...on("a", "a1", "a2", "a3", "a4", "a5", "a6"), ...on("c", "c1", "c2")];
    // Shares 0.6 / 0 / 0.2: a gives to b until a is 0.4 and b 0.2 (a difference of 0.2).
    expect(moved(pickRebalanceMoves(hosts, placed, 0.2, 10))).toEqual(["a1→b", "a2→b"]);
  });

  it("stops at the limit, and never moves an agent only to make the other host the fuller one", () => {
    const placed = on("a", "a1", "a2", "a3", "a4");
    expect(moved(pickRebalanceMoves([host("a", 4), host("b", 0)], placed, 0.01, 1))).toEqual([
      "a1→b",
    ]);
    // 1 of 2 against 0 of 2 is 0.5 apart, but a move would only make b the fuller one.
    expect(pickRebalanceMoves([host("a", 1, 2), host("b", 0, 2)], on("a", "a1"), 0.1, 5)).toEqual(
      [],
    );
  });

  it("compares shares of capacity, and leaves out draining hosts", () => {
    // 5 of 50 is emptier than 2 of 10: the small host gives to the big one.
    const hosts = [host("big", 5, 50), host("small", 4, 10), host("draining", 0, 10, true)];
    const placed = [...on("big", "b1"), ...on("small", "s1", "s2", "s3", "s4")];
    expect(moved(pickRebalanceMoves(hosts, placed, 0.1, 10))).toEqual(["s1→big", "s2→big"]);
  });

  it("moves only agents the engine knows, and nothing once the fleet is even enough", () => {
    // The fullest host's load is agents created on it directly: nothing of it is movable.
    expect(pickRebalanceMoves([host("a", 8), host("b", 0)], [], 0.2, 4)).toEqual([]);
    const even = [host("a", 3), host("b", 2)];
    expect(pickRebalanceMoves(even, on("a", "a1", "a2", "a3"), 0.2, 4)).toEqual([]);
  });
});
