import { GuildhallError } from "@guildhall/core";
import { StaticDiscovery } from "@guildhall/placement";
import { MemoryLocationRegistry } from "@guildhall/registry";
import { describe, expect, it } from "vitest";
import {
  resolveClusterExecutionEngineOptions,
  type ClusterExecutionEngineOptions,
} from "./engine-options.js";

const registry = new MemoryLocationRegistry();
const discovery = new StaticDiscovery(["127.0.0.1:50051"]);

function refusal(options: unknown): string {
  try {
    resolveClusterExecutionEngineOptions(options as ClusterExecutionEngineOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(GuildhallError);
    expect((error as GuildhallError).code).toBe("invalid-argument");
    return (error as GuildhallError).message;
  }
  throw new Error("expected the options to be refused");
}

describe("resolveClusterExecutionEngineOptions", () => {
  it("fills in the documented defaults", () => {
    const o = resolveClusterExecutionEngineOptions({ registry, discovery });
    expect(o.rpcTimeoutMs).toBe(60_000);
    expect(o.placement.name).toBe("least-loaded");
    expect(o.reconcile).toEqual({
      intervalMs: 2_000,
      leaseMs: 6_000,
      concurrency: 8,
      drainMoveConcurrency: 4,
      rebalanceThreshold: undefined,
      placementGraceMs: 60_000,
    });
    expect(o.retry).toEqual({ maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 2_000 });
    expect(o.tls).toBeUndefined();
    expect(o.token).toBeUndefined();
    expect(o.bus).toBeUndefined();
  });

  it("derives reconcile defaults from what is given, and turns reconciling off with false", () => {
    const o = resolveClusterExecutionEngineOptions({
      registry,
      discovery,
      rpcTimeoutMs: 5_000,
      reconcile: { intervalMs: 100, rebalanceThreshold: 0.25 },
    });
    expect(o.reconcile).toEqual({
      intervalMs: 100,
      leaseMs: 5_000,
      concurrency: 8,
      drainMoveConcurrency: 4,
      rebalanceThreshold: 0.25,
      placementGraceMs: 5_000,
    });
    expect(
      resolveClusterExecutionEngineOptions({ registry, discovery, reconcile: false }).reconcile,
    ).toBe(false);
  });

  it("refuses bad options, naming the option and what it must be", () => {
    expect(refusal(undefined)).toContain("options must be an object");
    expect(refusal({ discovery })).toContain("option registry must be a LocationRegistry");
    expect(refusal({ registry })).toContain("option discovery must be a HostDiscovery");
    expect(refusal({ registry, discovery, rpcTimeoutMs: 0 })).toContain(
      "rpcTimeoutMs must be a whole number",
    );
    expect(refusal({ registry, discovery, token: "two words" })).toContain("token");
    expect(
      refusal({ registry, discovery, reconcile: { intervalMs: 1_000, leaseMs: 500 } }),
    ).toContain("must be longer than reconcile.intervalMs");
    expect(refusal({ registry, discovery, reconcile: { drainMoveConcurrency: 0 } })).toContain(
      "reconcile.drainMoveConcurrency",
    );
    for (const rebalanceThreshold of [0, 1.5, "0.2", Number.NaN]) {
      expect(refusal({ registry, discovery, reconcile: { rebalanceThreshold } })).toContain(
        "reconcile.rebalanceThreshold must be a number above 0 and at most 1",
      );
    }
    expect(refusal({ registry, discovery, reconcile: "yes" })).toContain(
      "option reconcile must be an object",
    );
    expect(refusal({ registry, discovery, retry: { maxAttempts: 0 } })).toContain(
      "retry.maxAttempts",
    );
    expect(
      refusal({ registry, discovery, retry: { initialBackoffMs: 500, maxBackoffMs: 100 } }),
    ).toContain("retry.maxBackoffMs");
    expect(refusal({ registry, discovery, tls: { cert: "PEM" } })).toContain("go together");
    expect(refusal({ registry, discovery, placement: {} })).toContain("PlacementStrategy");
  });
});
