import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GuildhallError } from "@guildhall/core";
import { describe, expect, it } from "vitest";
import { resolveHostCommandConfig, type HostCommandFlags } from "./host-config.js";

const base = { GUILDHALL_AGENT_MODULES: "/srv/agents" };

function refusal(flags: HostCommandFlags, env: Record<string, string>): string {
  try {
    resolveHostCommandConfig(flags, env);
  } catch (error) {
    expect(error).toBeInstanceOf(GuildhallError);
    return (error as GuildhallError).message;
  }
  throw new Error("expected the configuration to be refused");
}

describe("resolveHostCommandConfig", () => {
  it("reads the environment of DESIGN section 6", () => {
    const config = resolveHostCommandConfig(
      {},
      {
        GUILDHALL_REDIS_URL: "redis://registry:6379",
        GUILDHALL_BUS_URL: "redis://bus:6379",
        GUILDHALL_PORT: "6000",
        GUILDHALL_METRICS_PORT: "0",
        GUILDHALL_MAX_AGENTS: "7",
        GUILDHALL_MAX_PROCESSES: "5",
        GUILDHALL_HIBERNATE_AFTER_MS: "30000",
        GUILDHALL_MAX_LEN_PER_TOPIC: "50000",
        GUILDHALL_MAX_QUEUED_PER_SUBSCRIPTION: "200",
        GUILDHALL_HEARTBEAT_MS: "1000",
        GUILDHALL_LEASE_MS: "4000",
        GUILDHALL_WARM_POOL_SIZE: "0",
        GUILDHALL_DRAIN_TIMEOUT_MS: "45000",
        GUILDHALL_ADVERTISE_ADDRESS: "10.0.0.7:6000",
        GUILDHALL_AGENT_MODULES: "@acme/agents, /srv/agents ,",
        GUILDHALL_TOKEN: "t0k3n",
        LOG_LEVEL: "WARN",
      },
    );
    expect(config.backend).toEqual({
      kind: "redis",
      registryUrl: "redis://registry:6379",
      busUrl: "redis://bus:6379",
      prefix: undefined,
      bus: { maxLenPerTopic: 50_000, maxQueuedPerSubscription: 200 },
    });
    expect(config.logLevel).toBe("warn");
    expect(config.host).toEqual({
      host: "0.0.0.0",
      port: 6000,
      metricsPort: 0,
      maxAgents: 7,
      maxProcesses: 5,
      hibernateAfterMs: 30_000,
      heartbeatMs: 1000,
      leaseMs: 4000,
      warmPoolSize: 0,
      drainTimeoutMs: 45_000,
      advertiseAddress: "10.0.0.7:6000",
      agentModules: ["@acme/agents", "/srv/agents"],
      token: "t0k3n",
      logLevel: "warn",
    });
  });

  it("prefers flags over the environment, and REDIS_URL when GUILDHALL_REDIS_URL is unset", () => {
    const config = resolveHostCommandConfig(
      { port: "7000", metrics: false, agentModules: "/x" },
      { ...base, REDIS_URL: "redis://fallback:6379", GUILDHALL_PORT: "6000" },
    );
    expect(config.host.port).toBe(7000);
    expect(config.host.metricsPort).toBe(false);
    expect(config.host.agentModules).toEqual(["/x"]);
    expect(config.backend).toMatchObject({
      registryUrl: "redis://fallback:6379",
      busUrl: "redis://fallback:6379",
    });
  });

  it("runs in memory with --memory only", () => {
    expect(resolveHostCommandConfig({ memory: true }, base).backend).toEqual({ kind: "memory" });
    expect(refusal({ memory: true }, { ...base, REDIS_URL: "redis://r:6379" })).toContain(
      "drop one of them",
    );
    expect(refusal({}, base)).toContain("set GUILDHALL_REDIS_URL (or REDIS_URL, or --redis-url)");
    expect(refusal({ memory: true, maxLenPerTopic: "5" }, base)).toContain(
      "set limits of the Redis bus; a --memory host has none",
    );
  });

  it("refuses what cannot work, naming the flag and the variable", () => {
    const env = { ...base, REDIS_URL: "redis://r:6379" };
    expect(refusal({}, { REDIS_URL: "redis://r:6379" })).toContain("GUILDHALL_AGENT_MODULES");
    expect(refusal({}, { ...env, GUILDHALL_PORT: "http" })).toContain("--port (or GUILDHALL_PORT)");
    expect(refusal({ maxAgents: "0" }, env)).toContain(
      "--max-agents (or GUILDHALL_MAX_AGENTS) must be a whole number >= 1",
    );
    expect(refusal({}, { ...env, GUILDHALL_WARM_POOL_SIZE: "-1" })).toContain(
      "--warm-pool-size (or GUILDHALL_WARM_POOL_SIZE) must be a whole number >= 0",
    );
    expect(refusal({ drainTimeoutMs: "soon" }, env)).toContain(
      "--drain-timeout-ms (or GUILDHALL_DRAIN_TIMEOUT_MS) must be a whole number >= 0",
    );
    expect(refusal({}, { ...env, LOG_LEVEL: "loud" })).toContain("LOG_LEVEL");
    expect(refusal({ tlsCert: "/nonexistent/cert.pem" }, env)).toContain("cannot read --tls-cert");
  });

  it("reads TLS files", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "guildhall-cli-"));
    try {
      for (const name of ["cert", "key", "ca"]) writeFileSync(path.join(dir, name), `${name} pem`);
      const env = { ...base, REDIS_URL: "redis://r:6379" };
      const config = resolveHostCommandConfig(
        {},
        {
          ...env,
          GUILDHALL_TLS_CERT: path.join(dir, "cert"),
          GUILDHALL_TLS_KEY: path.join(dir, "key"),
          GUILDHALL_TLS_CA: path.join(dir, "ca"),
        },
      );
      expect(config.host.tls?.cert.toString()).toBe("cert pem");
      expect(config.host.tls?.ca?.toString()).toBe("ca pem");
      expect(refusal({}, { ...env, GUILDHALL_TLS_CERT: path.join(dir, "cert") })).toContain(
        "needs both a certificate and its key",
      );
      expect(refusal({}, { ...env, GUILDHALL_TLS_CA: path.join(dir, "ca") })).toContain(
        "mutual TLS",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
