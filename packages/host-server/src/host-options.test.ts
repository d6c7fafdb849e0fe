import { GuildhallError } from "@guildhall/core";
import { describe, expect, it } from "vitest";
import { defaultAdvertiseAddress, resolveAgentHostOptions } from "./host-options.js";

function refusal(options: Parameters<typeof resolveAgentHostOptions>[0]): GuildhallError {
  try {
    resolveAgentHostOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(GuildhallError);
    return error as GuildhallError;
  }
  throw new Error("expected the options to be refused");
}

describe("resolveAgentHostOptions", () => {
  it("fills in the documented defaults", () => {
    const resolved = resolveAgentHostOptions({ logLevel: "info" });
    expect(resolved).toMatchObject({
      port: 50_051,
      host: "127.0.0.1",
      agentModules: [],
      maxAgents: 20_000,
      maxProcesses: 100,
      hibernateAfterMs: 0,
      heartbeatMs: 500,
      leaseMs: 3_000,
      stopTimeoutMs: 10_000,
      drainTimeoutMs: 30_000,
      closeGraceMs: 2_000,
      startTimeoutMs: 30_000,
      warmPoolSize: 2,
      maxRequestBytes: 4_194_304,
      metricsPort: 9_464,
      metricsHost: "127.0.0.1",
      processMetrics: true,
      logLevel: "info",
    });
    expect(resolved.token).toBeUndefined();
    expect(resolved.tls).toBeUndefined();
  });

  it("keeps the lease at three heartbeats when heartbeats are slow", () => {
    expect(resolveAgentHostOptions({ heartbeatMs: 10_000, logLevel: "info" }).leaseMs).toBe(30_000);
  });

  it("refuses bad values, naming the option and what it must be", () => {
    expect(refusal({ port: 70_000 }).message).toContain(
      "option port must be a whole number from 0 to 65535",
    );
    expect(refusal({ maxAgents: 0 }).message).toContain("option maxAgents");
    expect(refusal({ drainTimeoutMs: -1 }).message).toContain("option drainTimeoutMs");
    expect(refusal({ heartbeatMs: 1_000, leaseMs: 500 }).message).toContain(
      "leaseMs (500) must be longer than heartbeatMs (1000)",
    );
    expect(refusal({ agentModules: ["./agents"] }).message).toContain("relative path");
    expect(refusal({ token: "" }).message).toContain("option token must be a non-empty string");
    expect(refusal({ logLevel: "loud" as "info" }).message).toContain("log level");
    expect(refusal({ tls: { cert: "x", key: "y", requireClientCert: true } }).message).toContain(
      "tls.requireClientCert needs tls.ca",
    );
    expect(refusal({ defaultRestartPolicy: { mode: "sometimes" as "never" } }).message).toContain(
      "defaultRestartPolicy",
    );
    expect(refusal({ port: 70_000 }).code).toBe("invalid-argument");
  });

  it("accepts metricsPort false to disable metrics", () => {
    expect(resolveAgentHostOptions({ metricsPort: false, logLevel: "info" }).metricsPort).toBe(
      false,
    );
  });
});

describe("defaultAdvertiseAddress", () => {
  it("uses the bound interface, bracketing IPv6", () => {
    expect(defaultAdvertiseAddress("127.0.0.1", 5)).toBe("127.0.0.1:5");
    expect(defaultAdvertiseAddress("::1", 5)).toBe("[::1]:5");
  });

  it("picks a real address for a wildcard bind", () => {
    const address = defaultAdvertiseAddress("0.0.0.0", 50_051);
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+:50051$/);
    expect(address.startsWith("0.0.0.0")).toBe(false);
  });
});
