// startLocalCluster end to end: real agent hosts in this process, agents as child processes, the
// engine driving them over HTTP/2. Placement, refusals, retries on other hosts, healing after a
// host left, Guild, and a stop that leaves no process.
import { connectGuildClient, type Message } from "@guildhall/core";
import { ClusterExecutionEngine, Guild } from "@guildhall/engine";
import { StaticDiscovery } from "@guildhall/placement";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from "../src/index.js";
import {
  FIXTURES,
  childPids,
  expectNoLeakedProcesses,
  fixtureSpec,
  newGuild,
  rejection,
} from "./helpers.js";

const TOKEN = "local-cluster-test-token";

let cluster: LocalCluster | undefined;
const engines: ClusterExecutionEngine[] = [];

async function start(options: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> {
  cluster = await startLocalCluster({
    hosts: 2,
    agentModules: [FIXTURES],
    token: TOKEN,
    hostOptions: { logLevel: "silent", stopTimeoutMs: 5_000, warmPoolSize: 0 },
    ...options,
  });
  return cluster;
}

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.shutdown();
  await cluster?.stop();
  cluster = undefined;
  await expectNoLeakedProcesses();
});

/** Create-agent refusals of `code` a host counted, from its metrics. */
async function refusals(c: LocalCluster, index: number, code: string): Promise<number> {
  const text = await c.hosts[index]!.host.metrics();
  const line = new RegExp(
    `^guildhall_host_agent_create_errors_total\\{code="${code}"\\} (\\d+)`,
    "m",
  );
  return Number(line.exec(text)?.[1] ?? 0);
}

describe("startLocalCluster", () => {
  it("refuses bad options before starting anything", async () => {
    await expect(startLocalCluster({ hosts: 0, agentModules: [FIXTURES] })).rejects.toThrow(
      /hosts must be a whole number/,
    );
    await expect(startLocalCluster({ hosts: 1, agentModules: [] })).rejects.toThrow(/agentModules/);
    expect(childPids()).toEqual([]);
  });

  it("spreads agents over its hosts, carries their messages, and stops without leaving a process", async () => {
    const c = await start();
    expect(c.hosts.map((h) => h.address)).toHaveLength(2);
    const guild = newGuild("spread");
    await c.engine.runAgent(guild, fixtureSpec("a"));
    await c.engine.runAgent(guild, fixtureSpec("b"));
    const hosts = await Promise.all(
      ["a", "b"].map(async (id) => (await c.registry.getLocation(guild.id, id))?.hostAddress),
    );
    expect(new Set(hosts)).toEqual(new Set(c.hosts.map((h) => h.address)));
    expect(childPids()).toHaveLength(2);

    const client = connectGuildClient(c.bus, { guildId: guild.id, id: "app" });
    const seen: Message[] = [];
    await client.subscribe("default_topic", (m) => void seen.push(m));
    await client.publish("default_topic", { hello: 1 });
    await waitFor(() => new Set(seen.map((m) => m.sender.id)).size === 2, {
      description: "both echoes",
    });
    await client.close();

    await c.stop();
    expect(childPids()).toEqual([]);
    await expect(c.engine.isAgentRunning(guild.id, "a")).rejects.toMatchObject({
      code: "unavailable",
    });
  });

  it("refuses with resource-exhausted after asking each full host once, and records nothing", async () => {
    const c = await start({ maxAgentsPerHost: 1 });
    const guild = newGuild("full");
    await c.engine.runAgent(guild, fixtureSpec("a"));
    await c.engine.runAgent(guild, fixtureSpec("b"));

    const error = await rejection(c.engine.runAgent(guild, fixtureSpec("c")));
    expect(error.code).toBe("resource-exhausted");
    for (const host of c.hosts) expect(error.message).toContain(host.address);
    expect(error.message).toContain("GUILDHALL_MAX_AGENTS");
    expect((await c.registry.listDesiredAgents(guild.id)).map((d) => d.spec.id)).toEqual([
      "a",
      "b",
    ]);
    expect(await c.engine.isAgentRunning(guild.id, "c")).toBe(false);
    expect([
      await refusals(c, 0, "resource_exhausted"),
      await refusals(c, 1, "resource_exhausted"),
    ]).toEqual([1, 1]);

    // Room again: the same id runs.
    await c.engine.stopAgent(guild.id, "a");
    await c.engine.runAgent(guild, fixtureSpec("c"));
    expect(await c.engine.isAgentRunning(guild.id, "c")).toBe(true);
  });

  it("moves on from a draining host and an unreachable one", async () => {
    const c = await start({ reconcile: false });
    const [draining, serving] = c.hosts as [LocalCluster["hosts"][0], LocalCluster["hosts"][0]];
    await draining.host.drain();
    // A host that registered and then vanished: live in the registry, nothing listening.
    const dead = "127.0.0.1:9";
    await c.registry.registerHost({ address: dead, maxAgents: 10 });
    const engine = new ClusterExecutionEngine({
      registry: c.registry,
      discovery: new StaticDiscovery([dead, draining.address, serving.address]),
      token: TOKEN,
      reconcile: false,
      retry: { initialBackoffMs: 10, maxBackoffMs: 50 },
    });
    engines.push(engine);
    const guild = newGuild("moves-on");
    for (const id of ["a", "b", "c"]) {
      await engine.runAgent(guild, fixtureSpec(id));
      expect((await c.registry.getLocation(guild.id, id))?.hostAddress).toBe(serving.address);
    }

    // Nothing serves at all: unavailable, with each host's reason, and nothing recorded.
    await serving.host.drain();
    const error = await rejection(engine.runAgent(guild, fixtureSpec("d")));
    expect(error.code).toBe("unavailable");
    expect(error.message).toContain(dead);
    expect((await c.registry.listDesiredAgents(guild.id)).map((d) => d.spec.id).sort()).toEqual([
      "a",
      "b",
      "c",
    ]);
  });

  it("does not retry what every host would refuse, and leaves nothing behind", async () => {
    const c = await start();
    const guild = newGuild("refusals");
    const failing = await rejection(
      c.engine.runAgent(
        guild,
        fixtureSpec("f", "FailingStart", { restartPolicy: { mode: "never" } }),
      ),
    );
    expect(failing.message).toContain("FailingStart refuses to start");
    const denied = await rejection(
      c.engine.runAgent(guild, { id: "x", name: "X", className: "/elsewhere/agents.mjs#X" }),
    );
    expect(denied.code).toBe("permission-denied");
    const invalid = await rejection(
      c.engine.runAgent(guild, { id: "bad id", name: "X", className: "nope" }),
    );
    expect(invalid.code).toBe("invalid-argument");
    expect(invalid.message).toMatch(/id: must match/);
    expect(invalid.message).toMatch(/className/);
    // Each refusal reached one host only: no other host was asked.
    const asked =
      (await refusals(c, 0, "permission_denied")) + (await refusals(c, 1, "permission_denied"));
    expect(asked).toBe(1);
    expect(await c.registry.listDesiredAgents(guild.id)).toEqual([]);
    expect(await c.registry.listGuildAgents(guild.id)).toEqual([]);
    expect(childPids()).toEqual([]);
  });

  it("re-places the agents of a host that went away", async () => {
    const c = await start({ reconcile: { intervalMs: 100 } });
    const guild = newGuild("heal");
    const ids = ["a", "b", "c", "d"];
    for (const id of ids) await c.engine.runAgent(guild, fixtureSpec(id));
    const [gone, staying] = c.hosts as [LocalCluster["hosts"][0], LocalCluster["hosts"][0]];
    await gone.host.close();
    await waitFor(
      async () => {
        const agents = await c.registry.listGuildAgents(guild.id);
        return agents.length === 4 && agents.every((a) => a.hostAddress === staying.address);
      },
      { description: "every agent to run on the remaining host" },
    );
    expect(childPids()).toHaveLength(4);
  });
});

describe("Guild on a local cluster", () => {
  it("launches every agent, talks to them, removes one and shuts down", async () => {
    const c = await start();
    const guild = new Guild(
      {
        ...newGuild("guild"),
        agents: [fixtureSpec("one"), fixtureSpec("two"), fixtureSpec("three")],
      },
      c.engine,
    );
    await guild.launch({ concurrency: 2 });
    expect([...(await guild.agents()).keys()].sort()).toEqual(["one", "three", "two"]);

    const app = guild.client("app", "App");
    const seen: Message[] = [];
    await app.subscribe("default_topic", (m) => void seen.push(m));
    await app.publish("default_topic", { ping: true });
    await waitFor(() => new Set(seen.map((m) => m.sender.id)).size === 3, {
      description: "three echoes",
    });

    await guild.removeAgent("two");
    await guild.removeAgent("two");
    expect(await c.engine.isAgentRunning(guild.id, "two")).toBe(false);
    await guild.launchAgent(fixtureSpec("four"));
    await guild.shutdown();
    expect((await c.engine.getAgentsInGuild(guild.id)).size).toBe(0);
    expect(await c.registry.listDesiredAgents(guild.id)).toEqual([]);
    await expect(app.publish("default_topic", {})).rejects.toThrow(/closed/);
  });

  it("reports which agents failed to launch and stops those that started", async () => {
    const c = await start();
    const spec = {
      ...newGuild("bad-launch"),
      agents: [
        fixtureSpec("fine"),
        fixtureSpec("broken", "FailingStart", { restartPolicy: { mode: "never" as const } }),
        fixtureSpec("denied", "Echo", { className: "/not/allowed.mjs#Echo" }),
      ],
    };
    const guild = new Guild(spec, c.engine, c.bus);
    const error = await rejection(guild.launch());
    expect(error.message).toContain("2 of 3 agent(s) failed");
    expect(error.message).toMatch(/broken: .*FailingStart refuses to start/);
    expect(error.message).toMatch(/denied: /);
    expect((await c.engine.getAgentsInGuild(spec.id)).size).toBe(0);
    expect(await c.registry.listDesiredAgents(spec.id)).toEqual([]);
  });
});
