import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { testRedisUrl } from "@guildhall/testing";
import { RedisLocationRegistry, type LocationRegistry } from "../src/index.js";
import { describeLocationRegistryContract } from "./contract.js";
import { agentSpec, deleteKeysUnder, keysUnder, randomPrefix } from "./helpers.js";

describeLocationRegistryContract("RedisLocationRegistry", () => {
  const url = testRedisUrl();
  const prefix = randomPrefix();
  const clients: LocationRegistry[] = [];
  return {
    open() {
      const client = new RedisLocationRegistry({ url, prefix });
      clients.push(client);
      return client;
    },
    async dispose() {
      await Promise.all(clients.map((c) => c.close()));
      await deleteKeysUnder(url, prefix);
    },
  };
});

describe("RedisLocationRegistry on Redis", () => {
  const url = testRedisUrl();
  let prefix = randomPrefix();
  let registry: RedisLocationRegistry | undefined;

  function open(): RedisLocationRegistry {
    prefix = randomPrefix();
    registry = new RedisLocationRegistry({ url, prefix });
    return registry;
  }

  afterEach(async () => {
    vi.restoreAllMocks();
    await registry?.close();
    registry = undefined;
    await deleteKeysUnder(url, prefix);
  });

  it("keeps every key under its prefix, in the documented layout", async () => {
    const r = open();
    expect(r.prefix).toBe(prefix);
    await r.registerHost({ address: "[::1]:50051", maxAgents: 5 });
    await r.registerHost({ address: "[::1]:50052", maxAgents: 5 });
    await r.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "[::1]:50051" });
    await r.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "[::1]:50052" });
    await r.setDesiredAgent({ id: "g1", name: "G" }, agentSpec("a"));
    const lease = await r.acquireReconcilerLease(60_000);

    expect(await keysUnder(url, prefix)).toEqual(
      [
        "agent:g1/a",
        "desired-guilds",
        "desired:g1",
        "epoch",
        "guild-agents:g1",
        "host-agents:[::1]:50052",
        "host-lost:[::1]:50051",
        "host:[::1]:50051",
        "host:[::1]:50052",
        "hosts",
        "reconciler-lease",
      ].map((k) => prefix + k),
    );

    // Taking everything down leaves only the epoch counter, which must survive to keep epochs
    // rising.
    await r.heartbeat("[::1]:50051");
    await r.deregisterHost("[::1]:50051");
    await r.deregisterHost("[::1]:50052");
    await r.removeDesiredGuild("g1");
    if (lease !== undefined) await r.releaseReconcilerLease(lease);
    expect(await keysUnder(url, prefix)).toEqual([`${prefix}epoch`]);
  });

  it("gives every key a TTL except the epoch counter, indexes and desired state", async () => {
    const r = open();
    await r.registerHost({ address: "h:1", maxAgents: 5, leaseMs: 10_000, agentTtlMs: 5_000 });
    await r.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "h:1" });
    const admin = new Redis(url);
    try {
      const ttl = async (key: string) => admin.pttl(prefix + key);
      expect(await ttl("host:h:1")).toBeGreaterThan(0);
      expect(await ttl("host:h:1")).toBeLessThanOrEqual(10_000);
      expect(await ttl("host-agents:h:1")).toBeGreaterThan(0);
      expect(await ttl("host-agents:h:1")).toBeLessThanOrEqual(10_000);
      expect(await ttl("agent:g1/a")).toBeGreaterThan(0);
      expect(await ttl("agent:g1/a")).toBeLessThanOrEqual(5_000);
      expect(await ttl("guild-agents:g1")).toBeGreaterThan(0);
      expect(await ttl("epoch")).toBe(-1);
      expect(await ttl("hosts")).toBe(-1);
    } finally {
      admin.disconnect();
    }
  });

  it("heartbeats a host in one round trip whatever its agent count", async () => {
    const r = open();
    await r.registerHost({ address: "h:1", maxAgents: 5_000 });
    const send = vi.spyOn(Redis.prototype, "sendCommand");
    const commandsFor = async (run: () => Promise<unknown>) => {
      send.mockClear();
      await run();
      // A script goes out as EVALSHA, or as EVAL the first time on a connection.
      return send.mock.calls.map(([command]) => command.name.replace(/^evalsha$/, "eval"));
    };

    expect(await commandsFor(() => r.heartbeat("h:1"))).toEqual(["eval"]);
    for (const count of [10, 2_000]) {
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          r.registerAgent({ guildId: "g1", spec: agentSpec(`n${count}-${i}`), hostAddress: "h:1" }),
        ),
      );
      const beat = await r.heartbeat("h:1");
      expect(beat.status === "ok" ? beat.renewed : -1).toBeGreaterThanOrEqual(count);
      expect(await commandsFor(() => r.heartbeat("h:1"))).toEqual(["eval"]);
    }
    // A lookup is a plain HMGET: a location key exists only while it is live.
    expect(await commandsFor(() => r.getLocation("g1", "n10-1"))).toEqual(["hmget"]);
    expect(await commandsFor(() => r.listGuildAgents("g1"))).toEqual(["eval"]);
  });

  it("never SCANs and never uses KEYS on any operation", async () => {
    const r = open();
    const send = vi.spyOn(Redis.prototype, "sendCommand");
    await r.registerHost({ address: "h:1", maxAgents: 5 });
    await r.registerAgent({ guildId: "g1", spec: agentSpec("a"), hostAddress: "h:1" });
    await r.listHosts();
    await r.listGuildAgents("g1");
    await r.findAgentsByName("g1", "x");
    await r.listAllDesiredAgents();
    const names = new Set(send.mock.calls.map(([command]) => command.name.toLowerCase()));
    expect(names.has("scan")).toBe(false);
    expect(names.has("keys")).toBe(false);
  });
});
