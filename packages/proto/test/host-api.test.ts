// The wire protocol end to end: a real HTTP/2 Connect server with a stub AgentHostService and the
// standard health service, called through generated clients with the gRPC protocol.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentEventType,
  AgentHostService,
  AgentInfoSchema,
  AgentState,
  Health,
  HealthCheckResponse_ServingStatus,
  HostState,
  LogStream,
  RestartMode,
  type AgentInfo,
} from "../src/index.js";

function info(agentId: string, guildId: string): AgentInfo {
  return create(AgentInfoSchema, {
    agentId,
    guildId,
    agentName: `name-of-${agentId}`,
    pid: 4242,
    isAlive: true,
    createdAt: timestampFromMs(1_700_000_000_000),
    state: AgentState.READY,
    epoch: 7n,
  });
}

function routes(router: ConnectRouter): void {
  router.service(AgentHostService, {
    createAgent(req) {
      if (req.agent === undefined || req.guild === undefined) {
        throw new ConnectError("agent and guild are required", Code.InvalidArgument);
      }
      if (req.agent.id === "taken")
        throw new ConnectError("agent taken exists", Code.AlreadyExists);
      expect(req.agent.properties?.["greeting"]).toBe("hi");
      expect(req.agent.restartPolicy?.mode).toBe(RestartMode.ON_FAILURE);
      return { agent: { ...info(req.agent.id, req.guild.id), className: req.agent.className } };
    },
    stopAgent(req) {
      if (req.agentId === "ghost") throw new ConnectError("no agent ghost", Code.NotFound);
      return {
        agent: { ...info(req.agentId, req.guildId), isAlive: false, state: AgentState.EXITED },
      };
    },
    getAgentInfo(req) {
      return { agent: info(req.agentId, req.guildId) };
    },
    listAgents(req) {
      return { agents: [info("a", req.guildId), info("b", req.guildId)] };
    },
    health() {
      return {
        state: HostState.SERVING,
        hostAddress: "[::1]:50051",
        agentCount: 2,
        maxAgents: 100,
      };
    },
    async *watchAgents(req) {
      yield { type: AgentEventType.STARTED, agent: info("a", req.guildId) };
      yield { type: AgentEventType.READY, agent: info("a", req.guildId) };
    },
    drainHost(req) {
      return { agentsRemaining: req.stopAgents ? 0 : 2 };
    },
    async *getAgentLogs(req) {
      for (const text of ["one", "two", "three"].slice(-(req.tailLines || 3))) {
        yield { stream: LogStream.STDOUT, text };
      }
    },
  });
  router.service(Health, {
    check(req) {
      if (req.service !== "" && req.service !== AgentHostService.typeName) {
        throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      }
      return { status: HealthCheckResponse_ServingStatus.SERVING };
    },
    async *watch() {
      yield { status: HealthCheckResponse_ServingStatus.SERVING };
    },
  });
}

describe("agent host wire protocol over HTTP/2 gRPC", () => {
  let server: http2.Http2Server;
  let baseUrl: string;
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    server = http2.createServer(connectNodeAdapter({ routes }));
    // Clients keep their HTTP/2 sessions open for reuse; close them so the server can stop.
    server.on("session", (session) =>
      sessions.add(session.once("close", () => sessions.delete(session))),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const session of sessions) session.close();
    await closed;
  });

  const host = () => createClient(AgentHostService, createGrpcTransport({ baseUrl }));

  it("CreateAgent carries AgentSpec, GuildSpec and Struct properties", async () => {
    const res = await host().createAgent({
      guild: { id: "g1", name: "Guild one" },
      agent: {
        id: "a1",
        name: "Agent one",
        className: "@guildhall/testing#EchoAgent",
        properties: { greeting: "hi" },
        restartPolicy: { mode: RestartMode.ON_FAILURE, maxRestarts: 3 },
      },
    });
    expect(res.agent?.agentId).toBe("a1");
    expect(res.agent?.guildId).toBe("g1");
    expect(res.agent?.className).toBe("@guildhall/testing#EchoAgent");
    expect(res.agent?.epoch).toBe(7n);
  });

  it("failures arrive as status codes", async () => {
    const err = await host()
      .createAgent({ guild: { id: "g1", name: "g" }, agent: { id: "taken", name: "t" } })
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.AlreadyExists);
    const missing = await host()
      .stopAgent({ guildId: "g1", agentId: "ghost" })
      .catch((e: unknown) => ConnectError.from(e));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
  });

  it("StopAgent, GetAgentInfo, ListAgents, Health, DrainHost", async () => {
    const client = host();
    expect((await client.stopAgent({ guildId: "g1", agentId: "a1" })).agent?.state).toBe(
      AgentState.EXITED,
    );
    const got = await client.getAgentInfo({ guildId: "g1", agentId: "a1" });
    expect(got.agent?.createdAt?.seconds).toBe(1_700_000_000n);
    expect((await client.listAgents({ guildId: "g1" })).agents.map((a) => a.agentId)).toEqual([
      "a",
      "b",
    ]);
    const health = await client.health({});
    expect(health.state).toBe(HostState.SERVING);
    expect(health.hostAddress).toBe("[::1]:50051");
    expect((await client.drainHost({ stopAgents: true })).agentsRemaining).toBe(0);
  });

  it("WatchAgents and GetAgentLogs stream", async () => {
    const client = host();
    const events: AgentEventType[] = [];
    for await (const event of client.watchAgents({ guildId: "g1" })) events.push(event.type);
    expect(events).toEqual([AgentEventType.STARTED, AgentEventType.READY]);
    const lines: string[] = [];
    for await (const line of client.getAgentLogs({ guildId: "g1", agentId: "a", tailLines: 2 })) {
      lines.push(line.text);
    }
    expect(lines).toEqual(["two", "three"]);
  });

  it("grpc.health.v1 Check answers for the server and for the host service", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl }));
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(
      (await health.check({ service: "guildhall.agenthost.v1.AgentHostService" })).status,
    ).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const unknown = await health
      .check({ service: "nope" })
      .catch((e: unknown) => ConnectError.from(e));
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
  });
});
