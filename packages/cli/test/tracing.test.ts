// Tracing across processes: two `guildhall host` processes and `guildhall run` export their spans
// over OTLP/HTTP (http/json) to a receiver in this test, and the hello guild's messages come out
// as one trace per greeting, its publish on one host's process and its handling on the other's.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, waitFor, type RedisTestServer } from "@guildhall/testing";
import { startHostProcess, type HostProcess } from "../../../tools/test-support/host-process.js";
import {
  startOtlpReceiver,
  type OtlpReceiver,
  type ReceivedSpan,
} from "../../../tools/test-support/otlp-receiver.js";
import { expectNoLeakedProcesses } from "../../../tools/test-support/processes.js";
import { runCli } from "./run-cli.js";

const HELLO_AGENTS = fileURLToPath(new URL("../../../examples/hello/dist", import.meta.url));
const PREFIX = `cli-tracing-${process.pid}:`;
const PRODUCER = 4;
const CONSUMER = 5;

let redis: RedisTestServer;
let receiver: OtlpReceiver;
let hosts: HostProcess[] = [];
let otelEnv: Record<string, string>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  otelEnv = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    // Export within a fifth of a second rather than the default five.
    OTEL_BSP_SCHEDULE_DELAY: "200",
  };
  redis = await startRedisServer();
  // One agent each, so the initiator and the responder run under different hosts.
  hosts = await Promise.all(
    ["a", "b"].map((name) =>
      startHostProcess({
        redisUrl: redis.url,
        keyPrefix: PREFIX,
        agentModules: [HELLO_AGENTS],
        maxAgents: 1,
        env: { ...otelEnv, OTEL_SERVICE_NAME: `hello-host-${name}` },
      }),
    ),
  );
});

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.kill("SIGTERM")));
  await redis?.stop();
  await receiver?.close();
  await expectNoLeakedProcesses();
});

const pidOf = (span: ReceivedSpan) => span.resource["process.pid"];

describe("tracing over OTLP", () => {
  it("traces runAgent to agent start, and each message from its publish to its handling, across processes", async () => {
    const cluster = ["--redis", redis.url, "--key-prefix", PREFIX];
    const run = await runCli(
      [
        "run",
        "examples/hello/guild.yaml",
        "--hosts",
        hosts.map((h) => h.address).join(","),
        ...cluster,
      ],
      { env: otelEnv },
    );
    expect(run.stderr).toContain("agent responder ready on");
    expect(run.code).toBe(0);

    // runAgent (the run command's process) → CreateAgent client → CreateAgent server (a host's
    // process) → agent start, one trace per agent.
    const starts = await waitFor(
      () => {
        const found = receiver.spans.filter((s) => s.name === "agent start");
        return found.length === 2 ? found : undefined;
      },
      { description: "both agents' start spans" },
    );
    const byId = new Map(receiver.spans.map((s) => [s.spanId, s]));
    for (const start of starts) {
      const server = byId.get(start.parentSpanId);
      expect(server?.name).toBe("guildhall.agenthost.v1.AgentHostService/CreateAgent");
      const client = byId.get(server?.parentSpanId ?? "");
      expect(client?.name).toBe("guildhall.agenthost.v1.AgentHostService/CreateAgent");
      const runAgent = byId.get(client?.parentSpanId ?? "");
      expect(runAgent?.name).toBe("runAgent");
      expect(runAgent?.attributes["guildhall.agent_id"]).toBe(
        start.attributes["guildhall.agent_id"],
      );
      expect(runAgent?.resource["service.name"]).toBe("guildhall-run");
      expect(pidOf(runAgent!)).toBe(run.pid);
      expect(pidOf(server!)).not.toBe(run.pid);
      expect(new Set([start, server, client, runAgent].map((s) => s?.traceId)).size).toBe(1);
    }

    // A greeting: published on the initiator's host, handled on the responder's, one trace; the
    // reply, published from that handling, goes back under the same trace.
    const { publish, handling, reply } = await waitFor(
      () => {
        for (const handling of receiver.spans) {
          if (handling.kind !== CONSUMER || handling.name !== "process default_topic") continue;
          const publish = receiver.spans.find((s) => s.spanId === handling.parentSpanId);
          const reply = receiver.spans.find(
            (s) => s.kind === PRODUCER && s.parentSpanId === handling.spanId,
          );
          if (publish !== undefined && reply !== undefined) return { publish, handling, reply };
        }
        return undefined;
      },
      { description: "a greeting's publish, handling and reply spans" },
    );
    expect(publish.name).toBe("publish default_topic");
    expect(publish.kind).toBe(PRODUCER);
    expect(publish.traceId).toBe(handling.traceId);
    expect(reply.traceId).toBe(handling.traceId);
    expect(pidOf(publish)).not.toBe(pidOf(handling));
    expect(publish.resource["service.name"]).not.toBe(handling.resource["service.name"]);
    expect(publish.attributes).toMatchObject({
      "messaging.system": "guildhall",
      "messaging.operation.type": "send",
      "messaging.destination.name": "default_topic",
      "guildhall.guild_id": "hello",
      "guildhall.agent_id": "initiator",
    });
    expect(handling.attributes).toMatchObject({
      "messaging.system": "guildhall",
      "messaging.operation.type": "process",
      "messaging.message.id": publish.attributes["messaging.message.id"],
      "guildhall.agent_id": "responder",
    });
    expect(reply.attributes["messaging.message.conversation_id"]).toBe(
      publish.attributes["messaging.message.id"],
    );

    const stop = await runCli(["agents", "stop", "initiator", "responder", ...cluster]);
    expect(stop.code).toBe(0);
  });

  it("refuses a protocol it does not ship, naming those it does", async () => {
    const result = await runCli(["run", "examples/hello/guild.yaml", "--redis", redis.url], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported");
    expect(result.stderr).toContain("http/protobuf or http/json");
  });
});
