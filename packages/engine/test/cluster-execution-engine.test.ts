// The engine's own rules, with a real MemoryLocationRegistry and no host that answers: validation,
// desired state, duplicate ids, idempotent stops, unreachable hosts, aborts and shutdown. The
// flows through real hosts are tested in @guildhall/local, where hosts are available.
import {
  GuildhallError,
  MemoryBus,
  type AgentLogger,
  type AgentSpec,
  type GuildSpec,
} from "@guildhall/core";
import { StaticDiscovery } from "@guildhall/placement";
import { MemoryLocationRegistry } from "@guildhall/registry";
import { afterEach, describe, expect, it } from "vitest";
import { ClusterExecutionEngine, Guild, K8sExecutionEngine } from "../src/index.js";

// Loopback port 9 (discard) has no listener here: connecting is refused at once.
const DEAD = "127.0.0.1:9";
const guild: GuildSpec = { id: "g", name: "G", agents: [] };
const spec: AgentSpec = { id: "a", name: "A", className: "/srv/agents.js#A" };
const quiet: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const engines: ClusterExecutionEngine[] = [];

function engine(
  registry: MemoryLocationRegistry,
  hosts: string[] = [],
  bus?: MemoryBus,
): ClusterExecutionEngine {
  const e = new ClusterExecutionEngine({
    registry,
    ...(bus !== undefined && { bus }),
    discovery: new StaticDiscovery(hosts),
    reconcile: false,
    retry: { initialBackoffMs: 1, maxBackoffMs: 5 },
    logger: quiet,
  });
  engines.push(e);
  return e;
}

async function failure(promise: Promise<unknown>): Promise<GuildhallError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GuildhallError);
  return error as GuildhallError;
}

afterEach(async () => {
  for (const e of engines.splice(0)) await e.shutdown();
});

describe("ClusterExecutionEngine without a host to run on", () => {
  it("refuses an invalid spec before recording anything", async () => {
    const registry = new MemoryLocationRegistry();
    const e = engine(registry, [DEAD]);
    const error = await failure(e.runAgent(guild, { ...spec, id: "no spaces allowed" }));
    expect(error.code).toBe("invalid-argument");
    expect(error.message).toContain("runAgent: invalid agent spec");
    expect(error.message).toContain("id:");
    expect((await failure(e.runAgent({ ...guild, id: "" }, spec))).code).toBe("invalid-argument");
    expect((await failure(e.runAgent(guild, spec, { timeoutMs: -1 }))).code).toBe(
      "invalid-argument",
    );
    expect(await registry.listAllDesiredAgents()).toEqual([]);
  });

  it("says why no host can take the agent, and leaves no desired-state entry", async () => {
    const registry = new MemoryLocationRegistry();
    const none = await failure(engine(registry).runAgent(guild, spec));
    expect(none.code).toBe("unavailable");
    expect(none.message).toContain("discovery lists no agent hosts");

    const unregistered = await failure(engine(registry, [DEAD]).runAgent(guild, spec));
    expect(unregistered.code).toBe("unavailable");
    expect(unregistered.message).toContain("is live in the location registry");

    await registry.registerHost({ address: DEAD, maxAgents: 5 });
    const unreachable = await failure(engine(registry, [DEAD]).runAgent(guild, spec));
    expect(unreachable.code).toBe("unavailable");
    expect(unreachable.message).toContain(`tried hosts ${DEAD}`);

    await registry.setHostDraining(DEAD, true);
    const draining = await failure(engine(registry, [DEAD]).runAgent(guild, spec));
    expect(draining.message).toContain("draining");
    expect(await registry.listAllDesiredAgents()).toEqual([]);
  });

  it("refuses an agent that already runs and keeps its desired state", async () => {
    const registry = new MemoryLocationRegistry();
    await registry.registerHost({ address: DEAD, maxAgents: 5 });
    await registry.setDesiredAgent(guild, spec);
    await registry.registerAgent({ guildId: guild.id, spec, hostAddress: DEAD });
    const error = await failure(
      engine(registry, [DEAD]).runAgent(guild, { ...spec, name: "Other" }),
    );
    expect(error.code).toBe("already-exists");
    expect(error.message).toContain(DEAD);
    expect((await registry.listDesiredAgents(guild.id)).map((d) => d.spec.name)).toEqual(["A"]);
  });

  it("stops idempotently, forgetting the desired agent first and deregistering it when its host is unreachable", async () => {
    const registry = new MemoryLocationRegistry();
    const e = engine(registry, [DEAD]);
    await e.stopAgent("g", "never-ran");
    await registry.registerHost({ address: DEAD, maxAgents: 5 });
    await registry.setDesiredAgent(guild, spec);
    await registry.registerAgent({ guildId: guild.id, spec, hostAddress: DEAD });
    expect(await e.isAgentRunning(guild.id, "a")).toBe(true);
    expect([...(await e.getAgentsInGuild(guild.id)).values()]).toEqual([spec]);
    expect(await e.findAgentsByName(guild.id, "A")).toEqual([spec]);

    await Promise.all([e.stopAgent(guild.id, "a"), e.stopAgent(guild.id, "a")]);
    expect(await e.isAgentRunning(guild.id, "a")).toBe(false);
    expect(await registry.listDesiredAgents(guild.id)).toEqual([]);
    expect((await failure(e.stopAgent("bad guild!", "a"))).code).toBe("invalid-argument");
  });

  it("fences the copy on an unreachable host: its durable state is deleted, so it can never commit again", async () => {
    const registry = new MemoryLocationRegistry();
    const bus = new MemoryBus();
    const e = engine(registry, [DEAD], bus);
    await registry.registerHost({ address: DEAD, maxAgents: 5 });
    await registry.setDesiredAgent(guild, spec);
    const { epoch } = await registry.registerAgent({ guildId: guild.id, spec, hostAddress: DEAD });
    // What the copy on that host did before it was cut off.
    await bus.claimAgent(guild.id, "a", { epoch, topics: ["default_topic", "inbox:a"] });
    await bus.commitAgent(guild.id, "a", { epoch, sequence: 1, state: "1", messages: [] });

    await e.stopAgent(guild.id, "a");
    expect(await bus.readAgent(guild.id, "a")).toBeUndefined();
    expect(await bus.commitAgent(guild.id, "a", { epoch, sequence: 2, messages: [] })).toBe(
      "fenced",
    );
    await bus.close();
  });

  it("refuses a move it cannot make and leaves the agent where it was", async () => {
    const registry = new MemoryLocationRegistry();
    // Loopback port 10 has no listener either: a second host that cannot be reached.
    const other = "127.0.0.1:10";
    const e = engine(registry, [DEAD, other]);
    await registry.registerHost({ address: DEAD, maxAgents: 5 });
    await registry.registerHost({ address: other, maxAgents: 5 });
    await registry.setDesiredAgent(guild, spec);
    const { epoch } = await registry.registerAgent({ guildId: guild.id, spec, hostAddress: DEAD });
    const unchanged = async () => {
      expect(await registry.getLocation(guild.id, "a")).toMatchObject({ hostAddress: DEAD, epoch });
      expect((await registry.listDesiredAgents(guild.id)).map((d) => d.spec)).toEqual([spec]);
    };

    const unknown = await failure(e.moveAgent(guild.id, "nobody"));
    expect(unknown.code).toBe("not-found");
    expect(unknown.message).toContain('agent "nobody" is not running in guild "g"');
    expect((await failure(e.moveAgent("bad guild!", "a"))).code).toBe("invalid-argument");
    expect((await failure(e.moveAgent(guild.id, "a", { toHost: " " }))).code).toBe(
      "invalid-argument",
    );
    const same = await failure(e.moveAgent(guild.id, "a", { toHost: DEAD }));
    expect(same.code).toBe("invalid-argument");
    expect(same.message).toContain(`already runs on host ${DEAD}`);
    expect((await failure(e.moveAgent(guild.id, "a", { toHost: "127.0.0.1:11" }))).code).toBe(
      "not-found",
    );
    await unchanged();

    // Its host cannot be reached to stop it: the registry still places it there, so the move is
    // refused rather than starting a second copy.
    const unreachable = await failure(e.moveAgent(guild.id, "a", { toHost: other }));
    expect(unreachable.code).toBe("unavailable");
    expect(unreachable.message).toContain("it still runs there and nothing was moved");
    await unchanged();
  });

  it("gives up when the caller's signal aborts", async () => {
    const registry = new MemoryLocationRegistry();
    const e = engine(registry, [DEAD]);
    const error = await failure(e.runAgent(guild, spec, { signal: AbortSignal.abort() }));
    expect(error.code).toBe("aborted");
    expect(await registry.listAllDesiredAgents()).toEqual([]);
  });

  it("refuses work after shutdown, which is idempotent", async () => {
    const registry = new MemoryLocationRegistry();
    const e = new K8sExecutionEngine({
      registry,
      discovery: new StaticDiscovery([]),
      reconcile: { intervalMs: 50 },
    });
    expect(e).toBeInstanceOf(ClusterExecutionEngine);
    await e.shutdown();
    await e.shutdown({ stopAgents: true });
    for (const call of [
      e.runAgent(guild, spec),
      e.stopAgent("g", "a"),
      e.isAgentRunning("g", "a"),
      e.getAgentsInGuild("g"),
      e.findAgentsByName("g", "A"),
      e.moveAgent("g", "a"),
    ]) {
      expect((await failure(call)).code).toBe("unavailable");
    }
    // The reconciler gave its lease up.
    expect(await registry.acquireReconcilerLease(1_000)).toBeDefined();
  });
});

describe("Guild", () => {
  it("validates its spec and needs a bus for clients", async () => {
    const registry = new MemoryLocationRegistry();
    const e = engine(registry);
    expect(() => new Guild({ ...guild, agents: [spec, spec] }, e)).toThrow(/duplicate agent id/);
    const g = new Guild(guild, e);
    expect(() => g.client("app")).toThrow(/no bus/);
    await g.launch();
    await g.shutdown();
    await expect(g.launch()).rejects.toThrow(/shut down/);
  });
});
