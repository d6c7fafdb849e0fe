// Every RPC of AgentHostService and grpc.health.v1.Health, success and failure, through a real
// HTTP/2 Connect server, generated clients and real agent processes.
import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { connectGuildClient } from "@guildhall/core";
import type { RestartMode } from "@guildhall/proto";
import {
  AgentEventType,
  AgentHostService,
  AgentSpecSchema,
  AgentState,
  CreateAgentRequestSchema,
  GuildSpecSchema,
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HostState,
  LogStream,
  type WatchAgentsResponse,
} from "@guildhall/proto";
import { describe, expect, it } from "vitest";
import { waitFor } from "@guildhall/testing";
import {
  FIXTURES,
  childPids,
  createRequest,
  fixtureSpec,
  isRunning,
  rejection,
  type TestHost,
  useTestHosts,
} from "./helpers.js";

const start = useTestHosts();

/** Asserts nothing of agent `agentId` is left: no process, no registry key, nothing counted. */
async function expectNothingLeft(t: TestHost, guildId: string): Promise<void> {
  expect(childPids()).toEqual([]);
  expect(await t.registry.listGuildAgents(guildId)).toEqual([]);
  expect(t.host.agentCount).toBe(0);
  expect((await t.client.listAgents({ guildId })).agents).toEqual([]);
}

describe("CreateAgent", () => {
  it("resolves with a ready agent whose location and full spec are registered", async () => {
    const t = await start();
    const spec = fixtureSpec("echo", "Echo", {
      description: "says it back",
      properties: { greeting: "hi", nested: { list: [1, "two", null] } },
      additionalTopics: ["extra"],
      restartPolicy: { mode: "never" },
    });
    const { agent } = await t.client.createAgent(createRequest("g1", spec));
    expect(agent?.state).toBe(AgentState.READY);
    expect(agent?.isAlive).toBe(true);
    expect(agent?.pid).toBeGreaterThan(0);
    expect(agent?.epoch).toBeGreaterThan(0n);
    expect(agent?.hostAddress).toBe(t.host.address);
    expect(agent?.className).toBe(spec.className);
    expect(isRunning(agent?.pid ?? 0)).toBe(true);

    const registered = await t.registry.getAgent("g1", "echo");
    expect(registered).toEqual({
      guildId: "g1",
      agentId: "echo",
      hostAddress: t.host.address,
      epoch: Number(agent?.epoch),
      spec,
    });

    const info = await t.client.getAgentInfo({ guildId: "g1", agentId: "echo" });
    expect(info.agent?.pid).toBe(agent?.pid);
    expect(info.agent?.epoch).toBe(agent?.epoch);
    expect(info.agent?.createdAt).toBeDefined();

    const health = await t.client.health({});
    expect(health.state).toBe(HostState.SERVING);
    expect(health.agentCount).toBe(1);
    expect(health.hostAddress).toBe(t.host.address);
    expect(health.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("refuses a malformed spec with INVALID_ARGUMENT naming each field, and leaves nothing", async () => {
    const t = await start();
    const bad = create(CreateAgentRequestSchema, {
      guild: create(GuildSpecSchema, { id: "g1", name: "" }),
      agent: create(AgentSpecSchema, {
        id: "not an id!",
        name: "Bad",
        className: `${FIXTURES}/agents.mjs#Echo`,
        restartPolicy: { mode: 9 as RestartMode },
      }),
    });
    const error = await rejection(t.client.createAgent(bad));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain("guild.name: ");
    expect(error.rawMessage).toContain("agent.id: must match");
    expect(error.rawMessage).toContain("agent.restartPolicy.mode: ");
    expect(error.rawMessage).toMatch(/fix these fields/);

    const missing = await rejection(t.client.createAgent({}));
    expect(missing.code).toBe(Code.InvalidArgument);
    expect(missing.rawMessage).toContain("guild: is required");
    expect(missing.rawMessage).toContain("agent: is required");

    const noExport = await rejection(
      t.client.createAgent(createRequest("g1", fixtureSpec("ghost", "NoSuchExport"))),
    );
    expect(noExport.code).toBe(Code.InvalidArgument);
    expect(noExport.rawMessage).toContain('no export "NoSuchExport"');

    const noFile = await rejection(
      t.client.createAgent(
        createRequest("g1", { id: "ghost", name: "Ghost", className: `${FIXTURES}/missing.mjs#X` }),
      ),
    );
    expect(noFile.code).toBe(Code.InvalidArgument);
    await expectNothingLeft(t, "g1");
  });

  it("refuses a module outside the allowlist with PERMISSION_DENIED before starting anything", async () => {
    const t = await start();
    const outside = new URL("./outside/agents.mjs", import.meta.url).pathname;
    const error = await rejection(
      t.client.createAgent(
        createRequest("g1", { id: "out", name: "Out", className: `${outside}#Outsider` }),
      ),
    );
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.rawMessage).toContain("not allowed");
    expect(error.rawMessage).toContain("agentModules");
    await expectNothingLeft(t, "g1");
  });

  it("refuses a second agent of the same id with ALREADY_EXISTS and keeps the first", async () => {
    const t = await start();
    const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec("echo", "Echo")));
    const error = await rejection(
      t.client.createAgent(createRequest("g1", fixtureSpec("echo", "Echo"))),
    );
    expect(error.code).toBe(Code.AlreadyExists);
    expect(error.rawMessage).toContain("stop it first or choose another id");
    const info = await t.client.getAgentInfo({ guildId: "g1", agentId: "echo" });
    expect(info.agent?.pid).toBe(agent?.pid);
    expect(isRunning(agent?.pid ?? 0)).toBe(true);
    expect((await t.registry.getLocation("g1", "echo"))?.epoch).toBe(Number(agent?.epoch));
  });

  it("refuses agents beyond maxAgents with RESOURCE_EXHAUSTED", async () => {
    const t = await start({ maxAgents: 1 });
    await t.client.createAgent(createRequest("g1", fixtureSpec("one", "Echo")));
    const error = await rejection(
      t.client.createAgent(createRequest("g1", fixtureSpec("two", "Echo"))),
    );
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toContain("this host holds 1 agents, its limit (maxAgents 1)");
    expect(await t.registry.getLocation("g1", "two")).toBeUndefined();
    expect(childPids()).toHaveLength(1);
  });

  it("reports an agent whose onStart throws, leaving no process and no registration", async () => {
    const t = await start();
    const error = await rejection(
      t.client.createAgent(createRequest("g1", fixtureSpec("fails", "FailingStart"))),
    );
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toContain("database unreachable");
    await expectNothingLeft(t, "g1");
  });

  it("stops the agent again when its registration fails, with UNAVAILABLE", async () => {
    const t = await start();
    await t.registry.close();
    const error = await rejection(
      t.client.createAgent(createRequest("g1", fixtureSpec("echo", "Echo"))),
    );
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toContain("registry");
    expect(childPids()).toEqual([]);
    expect(t.host.agentCount).toBe(0);
  });

  it("refuses a request larger than maxRequestBytes with RESOURCE_EXHAUSTED", async () => {
    const t = await start({ maxRequestBytes: 4_096 });
    const spec = fixtureSpec("big", "Echo", { properties: { blob: "x".repeat(10_000) } });
    const error = await rejection(t.client.createAgent(createRequest("g1", spec)));
    expect(error.code).toBe(Code.ResourceExhausted);
    await expectNothingLeft(t, "g1");
  });
});

describe("StopAgent, GetAgentInfo, ListAgents", () => {
  it("stops an agent, deregisters it, and answers NOT_FOUND afterwards", async () => {
    const t = await start();
    const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec("a", "Echo")));
    // The same id in another guild is another agent.
    await t.client.createAgent(createRequest("g2", fixtureSpec("a", "Echo")));
    await t.client.createAgent(createRequest("g1", fixtureSpec("b", "Echo")));

    const all = await t.client.listAgents({});
    expect(all.agents.map((a) => `${a.guildId}/${a.agentId}`)).toEqual(["g1/a", "g2/a", "g1/b"]);
    const g1 = await t.client.listAgents({ guildId: "g1" });
    expect(g1.agents.map((a) => a.agentId)).toEqual(["a", "b"]);

    const stopped = await t.client.stopAgent({ guildId: "g1", agentId: "a" });
    expect(stopped.agent?.agentId).toBe("a");
    expect(stopped.agent?.state).toBe(AgentState.EXITED);
    expect(stopped.agent?.isAlive).toBe(false);
    expect(isRunning(agent?.pid ?? 0)).toBe(false);
    expect(await t.registry.getLocation("g1", "a")).toBeUndefined();
    expect((await t.registry.listGuildAgents("g1")).map((a) => a.agentId)).toEqual(["b"]);
    expect((await t.registry.getLocation("g2", "a"))?.hostAddress).toBe(t.host.address);

    for (const call of [
      t.client.getAgentInfo({ guildId: "g1", agentId: "a" }),
      t.client.stopAgent({ guildId: "g1", agentId: "a" }),
      t.client.getAgentInfo({ guildId: "nope", agentId: "b" }),
    ]) {
      const error = await rejection(call);
      expect(error.code).toBe(Code.NotFound);
      expect(error.rawMessage).toContain("list agents to see what runs here");
    }
    const missingIds = await rejection(t.client.getAgentInfo({ guildId: "g1", agentId: "" }));
    expect(missingIds.code).toBe(Code.InvalidArgument);
    expect(missingIds.rawMessage).toContain("agent_id is required");
  });

  it("kills an agent that ignores SIGTERM once the request's timeout passes", async () => {
    const t = await start({ stopTimeoutMs: 120_000 });
    const { agent } = await t.client.createAgent(
      createRequest("g1", fixtureSpec("stubborn", "Stubborn")),
    );
    const stopped = await t.client.stopAgent({ guildId: "g1", agentId: "stubborn", timeoutMs: 50 });
    expect(stopped.agent?.isAlive).toBe(false);
    expect(isRunning(agent?.pid ?? 0)).toBe(false);
    expect(await t.registry.getLocation("g1", "stubborn")).toBeUndefined();
  });

  it("deregisters an agent whose process exits for good, and keeps its info", async () => {
    const t = await start();
    const { agent } = await t.client.createAgent(
      createRequest("g1", fixtureSpec("mortal", "Echo", { restartPolicy: { mode: "never" } })),
    );
    const client = connectGuildClient(t.bus, { guildId: "g1", id: "tester" });
    await client.publish("inbox:mortal", { exit: 3 });
    await waitFor(
      async () => ((await t.registry.getLocation("g1", "mortal")) === undefined ? true : undefined),
      { description: "the exited agent to be deregistered" },
    );
    const info = await t.client.getAgentInfo({ guildId: "g1", agentId: "mortal" });
    expect(info.agent?.state).toBe(AgentState.CRASHED);
    expect(info.agent?.isAlive).toBe(false);
    expect(isRunning(agent?.pid ?? 0)).toBe(false);
    expect(t.bus.subscriptionCount("g1")).toBe(0);
    // A crashed agent can be created again under the same id.
    await t.client.createAgent(createRequest("g1", fixtureSpec("mortal", "Echo")));
    await client.close();
  });
});

describe("WatchAgents", () => {
  it("streams the lifecycle events of one guild", async () => {
    const t = await start();
    const controller = new AbortController();
    const events: WatchAgentsResponse[] = [];
    const watching = (async () => {
      for await (const event of t.client.watchAgents(
        { guildId: "g1" },
        { signal: controller.signal },
      )) {
        events.push(event);
      }
    })().catch(() => undefined);
    await waitFor(
      async () =>
        (await t.host.metrics()).includes('guildhall_host_open_streams{method="WatchAgents"} 1'),
      { description: "the watch stream to open" },
    );

    await t.client.createAgent(createRequest("g2", fixtureSpec("other", "Echo")));
    const { agent } = await t.client.createAgent(
      createRequest(
        "g1",
        fixtureSpec("w", "Echo", { restartPolicy: { mode: "on-failure", backoffMs: 10 } }),
      ),
    );
    process.kill(agent!.pid, "SIGKILL");
    await waitFor(() => events.some((e) => e.type === AgentEventType.RESTARTED), {
      description: "a restart",
    });
    await t.client.stopAgent({ guildId: "g1", agentId: "w" });
    await waitFor(() => events.some((e) => e.type === AgentEventType.STOPPED), {
      description: "the stop event",
    });
    controller.abort();
    await watching;

    expect(events.every((e) => e.agent?.guildId === "g1" && e.agent.agentId === "w")).toBe(true);
    expect(events.map((e) => AgentEventType[e.type])).toEqual([
      "STARTED",
      "READY",
      "CRASHED",
      "STARTED",
      "READY",
      "RESTARTED",
      "STOPPED",
    ]);
    expect(events[0]?.agent?.pid).toBe(agent?.pid);
    expect(events[1]?.agent?.className).toBe(agent?.className);
    expect(events[2]?.agent?.state).toBe(AgentState.RESTARTING);
    expect(events[5]?.agent?.restarts).toBe(1);
    expect(events[6]?.agent?.isAlive).toBe(false);
    expect(events.every((e) => e.time !== undefined)).toBe(true);
    await waitFor(
      async () =>
        (await t.host.metrics()).includes('guildhall_host_open_streams{method="WatchAgents"} 0'),
      { description: "the stream to be closed" },
    );
  });
});

describe("GetAgentLogs", () => {
  it("returns captured lines, and follows new ones until the agent is removed", async () => {
    const t = await start();
    await t.client.createAgent(createRequest("g1", fixtureSpec("chatty", "Chatty")));
    const initial = await waitFor(
      async () => {
        const lines = [];
        for await (const line of t.client.getAgentLogs({ guildId: "g1", agentId: "chatty" })) {
          lines.push(line);
        }
        return lines.length >= 2 ? lines : undefined;
      },
      { description: "the start-up lines" },
    );
    expect(initial.map((l) => [LogStream[l.stream], l.text]).sort()).toEqual([
      ["STDERR", "chatty chatty warming up"],
      ["STDOUT", "chatty chatty starting"],
    ]);
    const tail = [];
    for await (const line of t.client.getAgentLogs({
      guildId: "g1",
      agentId: "chatty",
      tailLines: 1,
    })) {
      tail.push(line);
    }
    expect(tail).toHaveLength(1);

    const followed: string[] = [];
    const following = (async () => {
      for await (const line of t.client.getAgentLogs({
        guildId: "g1",
        agentId: "chatty",
        follow: true,
        tailLines: 1,
      })) {
        followed.push(line.text);
      }
    })();
    await waitFor(
      async () =>
        (await t.host.metrics()).includes('guildhall_host_open_streams{method="GetAgentLogs"} 1'),
      { description: "the follow stream to open" },
    );
    const client = connectGuildClient(t.bus, { guildId: "g1", id: "tester" });
    await client.publish("default_topic", { hello: 1 });
    await waitFor(() => followed.includes('got {"hello":1}'), { description: "the followed line" });
    await t.client.stopAgent({ guildId: "g1", agentId: "chatty" });
    await following; // ends by itself once the agent is removed
    await client.close();

    const error = await rejection(
      (async () => {
        for await (const _ of t.client.getAgentLogs({ guildId: "g1", agentId: "chatty" })) {
          // nothing
        }
      })(),
    );
    expect(error.code).toBe(Code.NotFound);
  });
});

describe("DrainHost and health", () => {
  it("reports SERVING, then refuses new agents and reports the host service NOT_SERVING while draining", async () => {
    const t = await start();
    expect((await t.health.check({})).status).toBe(ServingStatus.SERVING);
    expect((await t.health.check({ service: AgentHostService.typeName })).status).toBe(
      ServingStatus.SERVING,
    );
    const unknown = await rejection(t.health.check({ service: "nope.Service" }));
    expect(unknown.code).toBe(Code.NotFound);

    const controller = new AbortController();
    const statuses: ServingStatus[] = [];
    const watching = (async () => {
      for await (const r of t.health.watch(
        { service: AgentHostService.typeName },
        { signal: controller.signal },
      ))
        statuses.push(r.status);
    })().catch(() => undefined);
    await waitFor(() => statuses.length === 1, { description: "the first health status" });

    const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec("keep", "Echo")));
    const drained = await t.client.drainHost({});
    expect(drained.agentsRemaining).toBe(1);
    expect(t.host.state).toBe("draining");
    expect((await t.health.check({ service: AgentHostService.typeName })).status).toBe(
      ServingStatus.NOT_SERVING,
    );
    // A draining host is alive: a liveness probe must not restart it (and kill its agents).
    expect((await t.health.check({})).status).toBe(ServingStatus.SERVING);
    expect((await t.client.health({})).state).toBe(HostState.DRAINING);
    expect((await t.registry.getHost(t.host.address))?.draining).toBe(true);
    await waitFor(() => statuses.includes(ServingStatus.NOT_SERVING), {
      description: "the watched NOT_SERVING",
    });
    controller.abort();
    await watching;
    expect(statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);

    const refused = await rejection(
      t.client.createAgent(createRequest("g1", fixtureSpec("new", "Echo"))),
    );
    expect(refused.code).toBe(Code.Unavailable);
    expect(refused.rawMessage).toContain("host is draining; place the agent on another host");
    expect(isRunning(agent?.pid ?? 0)).toBe(true);

    const stopped = await t.client.drainHost({ stopAgents: true, timeoutMs: 1_000 });
    expect(stopped.agentsRemaining).toBe(0);
    expect(isRunning(agent?.pid ?? 0)).toBe(false);
    expect(await t.registry.listGuildAgents("g1")).toEqual([]);
  });

  it("serves the Connect and gRPC-Web protocols as well as gRPC", async () => {
    const t = await start();
    for (const transport of [
      createConnectTransport({ baseUrl: `http://${t.host.address}`, httpVersion: "2" }),
      createGrpcWebTransport({ baseUrl: `http://${t.host.address}`, httpVersion: "2" }),
    ]) {
      const client = createClient(AgentHostService, transport);
      expect((await client.health({})).state).toBe(HostState.SERVING);
      const health = createClient(Health, transport);
      expect((await health.check({})).status).toBe(ServingStatus.SERVING);
      const error = await rejection(client.getAgentInfo({ guildId: "g", agentId: "x" }));
      expect(error.code).toBe(Code.NotFound);
    }
  });
});

describe("close", () => {
  it("stops every agent, deregisters the host and ends open streams", async () => {
    const t = await start();
    const pids = [];
    for (const id of ["a", "b"]) {
      const { agent } = await t.client.createAgent(createRequest("g1", fixtureSpec(id, "Echo")));
      pids.push(agent?.pid ?? 0);
    }
    const watch = (async () => {
      for await (const _ of t.client.watchAgents({})) {
        // drained until the host ends the stream
      }
    })().catch(() => undefined);
    await waitFor(
      async () =>
        (await t.host.metrics()).includes('guildhall_host_open_streams{method="WatchAgents"} 1'),
      { description: "the watch stream to open" },
    );
    await t.host.close();
    await watch;
    expect(t.host.state).toBe("closed");
    expect(pids.filter(isRunning)).toEqual([]);
    expect(await t.registry.getHost(t.host.address)).toBeUndefined();
    expect(await t.registry.listGuildAgents("g1")).toEqual([]);
    expect(t.bus.subscriptionCount()).toBe(0);
    await t.host.close(); // idempotent
  });
});
