// Publish requests up, deliveries down, and log capture, over real IPC.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuildhallError } from "@guildhall/core";
import { createAgentProcessManager, type AgentProcessManager } from "@guildhall/process-manager";
import { waitFor } from "@guildhall/testing";
import {
  childPids,
  clientMessage,
  FIXTURES,
  fixtureClass,
  recordingPublisher,
  type Published,
} from "./helpers.js";

const TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const guild = { id: "guild-m", name: "Messaging", defaultTopic: "lobby" };
let baseline: number[];
let manager: AgentProcessManager;
let published: Published[];
let refuseTopic: string | undefined;

beforeAll(async () => {
  baseline = childPids();
  const recorder = recordingPublisher();
  published = recorder.published;
  manager = await createAgentProcessManager({
    agentModules: [FIXTURES],
    warmPoolSize: 2,
    onPublish: (agent, request) => {
      if (request.topic === refuseTopic) {
        return Promise.reject(
          new GuildhallError("permission-denied", `no publishing to ${refuseTopic}`),
        );
      }
      return recorder.onPublish(agent, request);
    },
  });
});

afterAll(async () => {
  await manager.shutdown();
  expect(childPids()).toEqual(baseline);
});

describe("publish and deliver", () => {
  it("publishes onStart's send to the guild's default topic, the host stamping the sender", async () => {
    await manager.spawn({
      guild,
      agent: {
        id: "announcer",
        name: "Announcer",
        className: fixtureClass("Echo"),
        properties: { announce: true },
      },
    });
    const hello = published.find((sent) => sent.agent.agentId === "announcer");
    expect(hello?.request).toEqual({
      topic: "lobby",
      payload: { hello: "announcer" },
      format: "json",
      handler: "start",
      id: expect.any(String) as string,
      timestamp: expect.any(Number) as number,
    });
    expect(hello?.agent).toMatchObject({ guildId: "guild-m", agentName: "Announcer" });
    expect(hello?.request).not.toHaveProperty("sender");
  });

  it("round-trips a delivery: reply keeps topic, thread and trace; the host stamps the sender", async () => {
    await manager.spawn({
      guild,
      agent: { id: "echo", name: "Echo", className: fixtureClass("Echo") },
    });
    published.length = 0;
    const result = await manager.deliver(
      guild.id,
      "echo",
      clientMessage("m-1", { text: "hi" }, { topic: "chat", threadId: "t-9", traceparent: TRACE }),
    );
    expect(result).toEqual({ status: "handled", deliveryId: expect.any(Number) as number });
    const handler = result.deliveryId;
    expect(published.map((sent) => sent.request)).toEqual([
      {
        topic: "chat",
        payload: { echoed: { text: "hi" } },
        format: "json",
        threadId: "t-9",
        inResponseTo: "m-1",
        traceparent: TRACE,
        handler,
        id: expect.any(String) as string,
        timestamp: expect.any(Number) as number,
      },
      // A send from the handler continues the trace too, as it does in-process.
      {
        topic: "audit",
        payload: { seen: "m-1" },
        format: "audit/v1",
        traceparent: TRACE,
        handler,
        id: expect.any(String) as string,
        timestamp: expect.any(Number) as number,
      },
    ]);
    expect(published[0]?.message.sender).toEqual({ id: "echo", name: "Echo" });

    published.length = 0;
    await manager.deliver(guild.id, "echo", clientMessage("m-2", "no thread"));
    expect(published[0]?.request).toMatchObject({
      threadId: "m-2",
      inResponseTo: "m-2",
      topic: "default_topic",
    });
    expect(published[0]?.request).not.toHaveProperty("traceparent");
  });

  it("resolves a handler's send at once with the message its process built, and refuses a bad one in the agent's call", async () => {
    published.length = 0;
    const result = await manager.deliver(
      guild.id,
      "echo",
      clientMessage("s-1", { checkSends: 1_100_000 }),
    );
    expect(result.status).toBe("handled");
    // Only the good sends reach the host, in order, once the handler is done.
    expect(published.map((each) => each.request.payload)).toEqual([
      { first: true },
      expect.objectContaining({ tooBig: expect.any(Object) as object }),
    ]);
    const [first, reply] = published;
    const report = reply?.request.payload as Record<string, Record<string, unknown>>;
    expect(report["sent"]).toEqual({
      ...first?.message,
      sender: { id: "echo", name: "Echo" },
    });
    expect(first?.request).toMatchObject({
      id: report["sent"]?.["id"],
      timestamp: report["sent"]?.["timestamp"],
      handler: result.deliveryId,
    });
    expect(report["tooBig"]).toMatchObject({
      code: "invalid-argument",
      message: expect.stringMatching(/over the bus limit of 1048576 bytes/) as string,
    });
    expect(report["badTopic"]).toMatchObject({
      code: "invalid-argument",
      message: expect.stringMatching(/^cannot send this message: topic/) as string,
    });
  });

  it("handles deliveries one at a time, in order", async () => {
    published.length = 0;
    const ids = ["o-1", "o-2", "o-3", "o-4", "o-5"];
    const results = await Promise.all(
      ids.map((id) => manager.deliver(guild.id, "echo", clientMessage(id, id))),
    );
    expect(results.every((result) => result.status === "handled")).toBe(true);
    const replies = published.filter((sent) => sent.request.topic !== "audit");
    expect(replies.map((sent) => sent.request.inResponseTo)).toEqual(ids);
  });

  it("never gives an agent its own messages", async () => {
    published.length = 0;
    const own = clientMessage("self-1", { loop: true }, { sender: { id: "echo" } });
    expect(await manager.deliver(guild.id, "echo", own)).toMatchObject({ status: "skipped" });
    expect(published).toEqual([]);
  });

  it("reports a handler that throws, and a publish the host refuses, without losing the agent", async () => {
    const thrown = await manager.deliver(
      guild.id,
      "echo",
      clientMessage("x-1", { throw: "bad input" }),
    );
    expect(thrown).toMatchObject({ status: "failed", error: "bad input" });
    refuseTopic = "audit";
    try {
      const refusedSend = await manager.deliver(guild.id, "echo", clientMessage("x-2", "audit me"));
      expect(refusedSend).toMatchObject({ status: "failed", error: "no publishing to audit" });
    } finally {
      refuseTopic = undefined;
    }
    const info = await manager.info(guild.id, "echo");
    expect(info.state).toBe("ready");
    expect(info.lastError).toMatch(/no publishing to audit/);
  });

  it("refuses invalid messages and unknown agents", async () => {
    const invalid = { ...clientMessage("bad", 1), payload: undefined } as unknown as Parameters<
      AgentProcessManager["deliver"]
    >[2];
    await expect(manager.deliver(guild.id, "echo", invalid)).rejects.toMatchObject({
      code: "invalid-argument",
    });
    await expect(manager.deliver(guild.id, "ghost", clientMessage("g", 1))).rejects.toMatchObject({
      code: "not-found",
    });
  });
});

describe("logs", () => {
  it("captures stdout and stderr lines and follows new ones until the agent stops", async () => {
    await manager.spawn({
      guild,
      agent: { id: "chatty", name: "Chatty", className: fixtureClass("Chatty") },
    });
    const logs = await waitFor(
      async () => {
        const lines = [];
        for await (const line of manager.logs(guild.id, "chatty")) lines.push(line);
        return lines.length >= 2 && lines;
      },
      { description: "start-up lines" },
    );
    expect(logs.map((line) => [line.stream, line.text])).toEqual(
      expect.arrayContaining([
        ["stdout", "chatty chatty starting"],
        ["stderr", "chatty chatty warming up"],
      ]),
    );

    const follow = manager.logs(guild.id, "chatty", { follow: true, tail: 0 });
    await manager.deliver(guild.id, "chatty", clientMessage("l-1", { n: 1 }));
    const first = await follow.next();
    expect(first.value).toMatchObject({ stream: "stdout", text: 'got {"n":1}' });
    const second = await follow.next();
    expect(JSON.parse((second.value as { text: string }).text)).toMatchObject({
      level: 30,
      msg: "handled",
      agentId: "chatty",
      guildId: "guild-m",
      id: "l-1",
    });

    await manager.stop(guild.id, "chatty");
    for (;;) {
      const next = await follow.next();
      if (next.done === true) break;
    }
    expect(() => manager.logs(guild.id, "chatty")).toThrow(/no agent "chatty"/);
  });

  it("ends a follow when its signal aborts", async () => {
    const controller = new AbortController();
    const follow = manager.logs(guild.id, "echo", {
      follow: true,
      tail: 0,
      signal: controller.signal,
    });
    const pending = follow.next();
    controller.abort();
    expect((await pending).done).toBe(true);
  });
});
