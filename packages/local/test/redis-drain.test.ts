// A draining host hands its agents over (DESIGN section 14): agent hosts on a real redis-server
// (a RedisLocationRegistry and a RedisBus each, as `guildhall host` runs), a reconciling
// ClusterExecutionEngine, and durable counting agents that all start on one host. That host
// drains while messages keep arriving: every agent ends up on another host, started once more
// from its committed state, and every message is counted exactly once. Then the same as a rolling
// update does it: SIGTERM to a `guildhall host` process.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisBus } from "@guildhall/bus-redis";
import { connectGuildClient, type GuildClient } from "@guildhall/core";
import { ClusterExecutionEngine } from "@guildhall/engine";
import { createAgentHost, type AgentHost } from "@guildhall/host-server";
import { StaticDiscovery } from "@guildhall/placement";
import { RedisLocationRegistry } from "@guildhall/registry";
import {
  probeAgentsModule,
  probeClassName,
  recordMessages,
  testRedisUrl,
  waitFor,
  type MessageRecorder,
} from "@guildhall/testing";
import { afterEach, describe, expect, it } from "vitest";
import { expectNoLeakedProcesses, newGuild, startHostProcess } from "./helpers.js";

const AGENTS = 6;
/** Long enough that a drain ending before it ended because its agents were moved. */
const DRAIN_TIMEOUT_MS = 30_000;

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await expectNoLeakedProcesses();
});

/** A key prefix of the test's own on the test Redis, and the registry and bus it reads there. */
function openRedis() {
  const url = testRedisUrl();
  const prefix = `drain-${randomUUID().slice(0, 8)}:`;
  const registry = new RedisLocationRegistry({ url, prefix });
  const bus = new RedisBus({ url, prefix });
  cleanups.push(
    () => registry.close(),
    () => bus.close(),
  );
  return { url, prefix, registry, bus };
}

/** Three hosts on one Redis under a prefix of their own, and the registry and bus the test reads. */
async function startCluster() {
  const { url, prefix, registry, bus } = openRedis();
  const hosts: AgentHost[] = [];
  for (let i = 0; i < 3; i++) {
    const hostRegistry = new RedisLocationRegistry({ url, prefix });
    const hostBus = new RedisBus({ url, prefix });
    const host = createAgentHost({
      port: 0,
      host: "127.0.0.1",
      registry: hostRegistry,
      bus: hostBus,
      agentModules: [probeAgentsModule],
      metricsPort: false,
      processMetrics: false,
      logLevel: "silent",
      stopTimeoutMs: 5_000,
      drainTimeoutMs: DRAIN_TIMEOUT_MS,
    });
    cleanups.push(
      () => hostRegistry.close(),
      () => hostBus.close(),
    );
    cleanups.push(() => host.close());
    await host.start();
    hosts.push(host);
  }
  return { registry, bus, hosts };
}

/** Runs `ids` as CounterAgents in `guild`, all on `address`: the placing engine knows no other host. */
async function runAllOn(
  registry: RedisLocationRegistry,
  bus: RedisBus,
  address: string,
  guild: ReturnType<typeof newGuild>,
  ids: readonly string[],
): Promise<void> {
  const placer = new ClusterExecutionEngine({
    registry,
    bus,
    discovery: new StaticDiscovery([address]),
    reconcile: false,
  });
  try {
    for (const id of ids) {
      await placer.runAgent(guild, { id, name: id, className: probeClassName("CounterAgent") });
    }
  } finally {
    await placer.shutdown();
  }
}

/** A reconciling engine over `addresses`, resolved once its reconciler holds the lease. */
async function reconcilingEngine(
  registry: RedisLocationRegistry,
  bus: RedisBus,
  addresses: string[],
): Promise<ClusterExecutionEngine> {
  const engine = new ClusterExecutionEngine({
    registry,
    bus,
    discovery: new StaticDiscovery(addresses),
  });
  cleanups.push(() => engine.shutdown());
  await waitFor(() => registry.reconcilerActive(), {
    description: "the engine's reconciler to take its lease",
  });
  return engine;
}

/** Asks a CounterAgent for its state; it answers after every message published before. */
async function counterState(
  app: GuildClient,
  seen: MessageRecorder,
  agentId: string,
): Promise<{ count: number; starts: number }> {
  const since = seen.messages.length;
  await app.publish(seen.topic, { op: "get" });
  const answer = await seen.waitFor(
    (m) => m.sender.id === agentId && (m.payload as { count?: number }).count !== undefined,
    { since, description: `the state of "${agentId}"`, timeoutMs: 30_000 },
  );
  return answer.payload as { count: number; starts: number };
}

describe("a draining host on Redis", () => {
  it("hands every agent to the other hosts while messages arrive, and finishes before its timeout", async () => {
    const { registry, bus, hosts } = await startCluster();
    const [draining, ...others] = hosts as [AgentHost, AgentHost, AgentHost];
    const guild = newGuild("drain");
    const ids = Array.from({ length: AGENTS }, (_, i) => `counter-${i}`);
    await runAllOn(registry, bus, draining.address, guild, ids);
    expect(draining.agentCount).toBe(AGENTS);
    // The fleet's engine, which reconciles: it is what moves a draining host's agents.
    await reconcilingEngine(
      registry,
      bus,
      hosts.map((h) => h.address),
    );

    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    cleanups.push(() => app.close());
    const topic = "default_topic";
    const seen = await recordMessages(app, topic);
    let sent = 0;
    const add = async (): Promise<void> => {
      await app.publish(topic, { op: "add", n: 1 });
      sent++;
    };
    for (let i = 0; i < 10; i++) await add();

    const startedAt = performance.now();
    let drained = false;
    const drain = draining.drain({ stopAgents: true }).finally(() => {
      drained = true;
    });
    // Traffic throughout the drain, paced by the agents themselves: one add, then a ping that
    // one of them (in turn) must answer, wherever it runs by then.
    for (let round = 0; !drained; round++) {
      await add();
      const token = randomUUID();
      const since = seen.messages.length;
      const agentId = ids[round % AGENTS]!;
      await app.publish(topic, { probe: "ping", token });
      await seen.waitFor(
        (m) => m.sender.id === agentId && (m.payload as { token?: string }).token === token,
        { since, description: `the pong of "${agentId}"`, timeoutMs: 30_000 },
      );
    }
    const result = await drain;
    const tookMs = performance.now() - startedAt;
    for (let i = 0; i < 10; i++) await add();

    expect(result).toEqual({ agentsRemaining: 0, agentsMoved: AGENTS, agentsStopped: 0 });
    expect(tookMs).toBeLessThan(DRAIN_TIMEOUT_MS);
    expect(draining.state).toBe("draining");
    expect(draining.agentCount).toBe(0);
    const targets = new Set(others.map((h) => h.address));
    // The drain ends once the last agent stopped here; its start elsewhere may still be under way.
    await waitFor(
      async () => {
        const placed = await registry.listGuildAgents(guild.id);
        return placed.length === AGENTS && placed.every((a) => targets.has(a.hostAddress));
      },
      { description: "every agent to run on another host" },
    );
    expect(others.reduce((sum, h) => sum + h.agentCount, 0)).toBe(AGENTS);
    // Still wanted: nothing a move does forgets an agent.
    expect((await registry.listDesiredAgents(guild.id)).map((d) => d.spec.id).sort()).toEqual(ids);

    for (const id of ids) {
      const state = await counterState(app, seen, id);
      expect(state.count, `every add counted once by "${id}"`).toBe(sent);
      expect(state.starts, `"${id}" started on the draining host, then once where it moved`).toBe(
        2,
      );
    }
    console.log(
      `drained ${AGENTS} agents off a host in ${Math.round(tookMs)} ms with ${sent} adds sent`,
    );
  });

  it("on SIGTERM, as a rolling update sends it, moves a guildhall host's agents and exits", async () => {
    const { url, prefix, registry, bus } = openRedis();
    const logFile = join(mkdtempSync(join(tmpdir(), "guildhall-drain-")), "old-host.log");
    const hostOptions = { redisUrl: url, keyPrefix: prefix, agentModules: [probeAgentsModule] };
    const [old, next] = await Promise.all([
      startHostProcess({ ...hostOptions, logFile }),
      startHostProcess(hostOptions),
    ]);
    cleanups.push(
      () => old.kill("SIGKILL"),
      () => next.kill("SIGTERM"),
    );
    const guild = newGuild("rolling");
    const ids = ["counter-a", "counter-b", "counter-c"];
    await runAllOn(registry, bus, old.address, guild, ids);
    await reconcilingEngine(registry, bus, [old.address, next.address]);
    const app = connectGuildClient(bus, { guildId: guild.id, id: "app" });
    cleanups.push(() => app.close());
    const seen = await recordMessages(app, "default_topic");
    for (let i = 0; i < 5; i++) await app.publish(seen.topic, { op: "add", n: 1 });

    const startedAt = performance.now();
    const exited = old.kill("SIGTERM");
    // Published while the host drains: each waits on the bus for its agent's next copy.
    for (let i = 0; i < 5; i++) await app.publish(seen.topic, { op: "add", n: 1 });
    await exited;
    const tookMs = performance.now() - startedAt;

    expect(tookMs).toBeLessThan(DRAIN_TIMEOUT_MS);
    // The old host exits once its last agent stopped there; that agent's start on the new host
    // (the second half of its move) may still be under way.
    await waitFor(
      async () => {
        const placed = await registry.listGuildAgents(guild.id);
        return placed.length === ids.length && placed.every((a) => a.hostAddress === next.address);
      },
      { description: "every agent to run on the remaining host" },
    );
    const log = readFileSync(logFile, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(log.find((entry) => entry["msg"] === "host drained")).toMatchObject({
      why: "emptied",
      agents_moved: ids.length,
      agents_stopped: 0,
      agents_remaining: 0,
    });
    expect(log.some((entry) => entry["msg"] === "agent host closed")).toBe(true);
    for (const id of ids) {
      expect(await counterState(app, seen, id), `"${id}" lost nothing`).toEqual(
        expect.objectContaining({ count: 10, starts: 2 }),
      );
    }
  });
});
