// The host and the registry: batched heartbeats, recovery after Redis lost its data, fencing of
// agents the cluster gave to another host, and agents that keep running while Redis is down.
import { MemoryLocationRegistry, RedisLocationRegistry } from "@guildhall/registry";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, waitFor, type RedisTestServer } from "@guildhall/testing";
import {
  createRequest,
  expectNoLeakedProcesses,
  fixtureSpec,
  isRunning,
  startTestHost,
  type TestHost,
} from "./helpers.js";

const HEARTBEAT_MS = 150;

let current: TestHost | undefined;
let redis: RedisTestServer | undefined;
let registry: RedisLocationRegistry | MemoryLocationRegistry | undefined;

afterEach(async () => {
  await current?.host.close();
  current = undefined;
  await registry?.close();
  registry = undefined;
  await expectNoLeakedProcesses(redis?.pid === undefined ? [] : [redis.pid]);
});

describe("with a private redis-server", () => {
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
    redis = undefined;
  });

  it("keeps agents running while Redis is down and registers them again, same epochs and pids, once it is back", async () => {
    const server = redis!;
    // Short reconnect delays so the test waits for the host, not for the client's backoff.
    const redisRegistry = new RedisLocationRegistry({
      url: server.url,
      prefix: "recovery:",
      maxReconnectDelayMs: 100,
      commandTimeoutMs: 1_000,
    });
    registry = redisRegistry;
    const t = (current = await startTestHost({
      registry: redisRegistry,
      heartbeatMs: HEARTBEAT_MS,
      leaseMs: 3_000,
    }));
    const before = [];
    for (const id of ["a", "b"]) {
      const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec(id, "Echo")));
      before.push({ id, pid: agent?.pid ?? 0, epoch: Number(agent?.epoch) });
    }

    await server.stop();
    await waitFor(
      async () => {
        const text = await t.host.metrics();
        const failures = /^guildhall_host_heartbeat_failures_total (\d+)/m.exec(text);
        return Number(failures?.[1] ?? 0) >= 2;
      },
      { description: "heartbeats to fail" },
    );
    for (const { pid } of before) expect(isRunning(pid)).toBe(true);

    await server.start(); // empty: no persistence
    for (const { id, epoch } of before) {
      const location = await waitFor(() => redisRegistry.getLocation("g1", id), {
        description: `agent ${id} to be registered again`,
      });
      expect(location).toEqual({ guildId: "g1", agentId: id, hostAddress: t.host.address, epoch });
    }
    expect((await redisRegistry.getHost(t.host.address))?.load).toBe(2);
    for (const { id, pid } of before) {
      const info = await t.client.getAgentInfo({ guildId: "g1", agentId: id });
      expect(info.agent?.pid).toBe(pid);
      expect(info.agent?.restarts).toBe(0);
    }
    // New placements keep counting from the restored epochs.
    const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec("c", "Echo")));
    expect(Number(agent?.epoch)).toBeGreaterThan(Math.max(...before.map((b) => b.epoch)));
  });

  it("starts only when the registry is reachable, leaving nothing running", async () => {
    const server = redis!;
    await server.stop();
    registry = new RedisLocationRegistry({
      url: server.url,
      prefix: "down:",
      commandTimeoutMs: 500,
    });
    const failure = await startTestHost({ registry }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(String(failure)).toContain("could not register this host");
    await server.start();
  });
});

describe("fencing", () => {
  it("stops the local copy of an agent placed on another host, without deregistering it", async () => {
    const shared = new MemoryLocationRegistry();
    registry = shared;
    const t = (current = await startTestHost({ registry: shared, heartbeatMs: HEARTBEAT_MS }));
    const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec("x", "Echo")));
    await shared.registerHost({ address: "other:1", maxAgents: 10 });
    const moved = await shared.registerAgent({
      guildId: "g1",
      spec: fixtureSpec("x", "Echo"),
      hostAddress: "other:1",
    });

    await waitFor(() => !isRunning(agent?.pid ?? 0), { description: "the local copy to stop" });
    await waitFor(
      () =>
        t.client.getAgentInfo({ guildId: "g1", agentId: "x" }).then(
          () => false,
          () => true,
        ),
      { description: "the host to forget the agent" },
    );
    expect(await shared.getLocation("g1", "x")).toEqual({
      guildId: "g1",
      agentId: "x",
      hostAddress: "other:1",
      epoch: moved.epoch,
    });
  });

  it("restores what it still owns after losing its lease, and stops what the cluster gave away", async () => {
    const shared = new MemoryLocationRegistry();
    registry = shared;
    const t = (current = await startTestHost({ registry: shared, heartbeatMs: HEARTBEAT_MS }));
    const kept = await t.client.createAgent(createRequest("g1", fixtureSpec("kept", "Echo")));
    const given = await t.client.createAgent(createRequest("g1", fixtureSpec("given", "Echo")));
    // The registry forgets the host (as when its lease lapses) and another host takes "given".
    await shared.deregisterHost(t.host.address);
    await shared.registerHost({ address: "other:1", maxAgents: 10 });
    await shared.registerAgent({
      guildId: "g1",
      spec: fixtureSpec("given", "Echo"),
      hostAddress: "other:1",
    });

    await waitFor(() => shared.getLocation("g1", "kept"), { description: "'kept' to be restored" });
    expect((await shared.getLocation("g1", "kept"))?.epoch).toBe(Number(kept.agent?.epoch));
    await waitFor(() => !isRunning(given.agent?.pid ?? 0), { description: "'given' to stop here" });
    expect((await shared.getLocation("g1", "given"))?.hostAddress).toBe("other:1");
    expect(isRunning(kept.agent?.pid ?? 0)).toBe(true);
    await waitFor(
      () =>
        t.client.getAgentInfo({ guildId: "g1", agentId: "given" }).then(
          () => false,
          (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound,
        ),
      { description: "the host to forget 'given'" },
    );
  });
});
