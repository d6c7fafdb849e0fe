// Host-mediated messaging: agent processes publish and receive over IPC only; the host holds the
// bus, stamps the sender, and reads each agent's topics from its committed positions.
import { randomUUID } from "node:crypto";
import {
  MemoryBus,
  connectGuildClient,
  type Message,
  type DurableMessageBus,
} from "@guildhall/core";
import { RedisBus } from "@guildhall/bus-redis";
import { afterEach, describe, expect, it } from "vitest";
import { testRedisUrl, waitFor } from "@guildhall/testing";
import {
  createRequest,
  expectNoLeakedProcesses,
  fixtureSpec,
  startTestHost,
  type TestHost,
} from "./helpers.js";

let current: TestHost | undefined;
let extraBus: DurableMessageBus | undefined;

afterEach(async () => {
  await current?.host.close();
  current = undefined;
  await extraBus?.close();
  extraBus = undefined;
  await expectNoLeakedProcesses();
});

const buses: [string, () => DurableMessageBus][] = [
  ["MemoryBus", () => new MemoryBus()],
  ["RedisBus", () => new RedisBus({ url: testRedisUrl(), prefix: `test-${randomUUID()}:` })],
];

describe.each(buses)("two agents of one host over %s", (_name, makeBus) => {
  it("exchange messages through the bus, each stamped with its sender", async () => {
    extraBus = makeBus();
    const bus = extraBus;
    current = await startTestHost({ bus });
    const { client: rpc } = current;
    await rpc.createAgent(
      createRequest("g1", fixtureSpec("ping", "Ping", { properties: { peer: "pong" } })),
    );
    await rpc.createAgent(createRequest("g1", fixtureSpec("pong", "Pong")));

    const tester = connectGuildClient(bus, { guildId: "g1", id: "tester" });
    const results: Message[] = [];
    await tester.subscribe("results", (message) => {
      results.push(message);
    });
    await tester.publish("inbox:ping", { kind: "start" });
    const done = await waitFor(() => results[0], { description: "ping to report pong's answer" });
    expect(done.sender).toEqual({ id: "ping", name: "Agent ping" });
    expect(done.payload).toEqual({ kind: "done", pongFrom: "pong", pongName: "Agent pong" });
    expect(done.id).toMatch(/^[0-9A-Z]{26}$/);
    expect(done.timestamp).toBeGreaterThan(0);
    await tester.close();
  });
});

describe("host-mediated messaging", () => {
  it("stamps the agent's own id on whatever it publishes: a forged sender never reaches the bus", async () => {
    const t = (current = await startTestHost());
    await t.client.createAgent(createRequest("g1", fixtureSpec("forger", "Forger")));
    const tester = connectGuildClient(t.bus, { guildId: "g1", id: "tester" });
    const results: Message[] = [];
    await tester.subscribe("results", (message) => {
      results.push(message);
    });
    await tester.publish("inbox:forger", { kind: "forge" });
    await waitFor(
      () => results.some((m) => (m.payload as { kind?: string }).kind === "forge-done"),
      { description: "the forger to finish" },
    );
    // The raw IPC request that named a sender was refused; the send with a sender option went out
    // under the forger's own id.
    expect(results.map((m) => (m.payload as { kind: string }).kind)).toEqual([
      "forged-option",
      "forge-done",
    ]);
    expect(results.map((m) => m.sender)).toEqual([
      { id: "forger", name: "Agent forger" },
      { id: "forger", name: "Agent forger" },
    ]);
    const info = await t.client.getAgentInfo({ guildId: "g1", agentId: "forger" });
    expect(info.agent?.lastError).toContain("invalid IPC message");
    await tester.close();
  });

  it("subscribes each agent to its own topics and answers inbox messages in the sender's inbox", async () => {
    const t = (current = await startTestHost());
    const spec = (id: string) =>
      fixtureSpec(id, "Echo", { listenToDefaultTopic: false, additionalTopics: ["shared"] });
    await t.client.createAgent(createRequest("g1", spec("a")));
    await t.client.createAgent(createRequest("g1", spec("b")));
    await t.client.createAgent(createRequest("g2", spec("c")));
    // Each agent reads from its own committed positions, so each holds its own subscriptions.
    expect(t.bus.subscriptionCount("g1", "shared")).toBe(2);
    expect(t.bus.subscriptionCount("g1", "inbox:a")).toBe(1);
    expect(t.bus.subscriptionCount("g1", "inbox:b")).toBe(1);
    expect(t.bus.subscriptionCount("g1", "default_topic")).toBe(0);
    expect(t.bus.subscriptionCount("g2")).toBe(2);

    // An agent's inbox reaches that agent only, and a reply to an inbox message goes to the
    // sender's inbox: each request's answer arrives there exactly once, in the request's trace.
    const tester = connectGuildClient(t.bus, { guildId: "g1", id: "tester" });
    const seen: Message[] = [];
    await tester.subscribe("inbox:tester", (message) => {
      seen.push(message);
    });
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    await tester.publish("inbox:a", { n: 1 }, { traceparent });
    await waitFor(() => seen.length >= 1, { description: "the first echo" });
    await tester.publish("inbox:a", { n: 2 });
    await waitFor(() => seen.length >= 2, { description: "the second echo" });
    expect(seen.map((m) => [m.sender.id, m.payload])).toEqual([
      ["a", { echoed: { n: 1 }, by: "a", pid: expect.any(Number) as number }],
      ["a", { echoed: { n: 2 }, by: "a", pid: expect.any(Number) as number }],
    ]);
    expect(seen.map((m) => m.traceparent)).toEqual([traceparent, undefined]);
    await tester.close();

    await t.client.stopAgent({ guildId: "g1", agentId: "a" });
    expect(t.bus.subscriptionCount("g1", "shared")).toBe(1);
    expect(await t.bus.readAgent("g1", "a"), "StopAgent deletes the agent's state").toBeUndefined();
    expect(await t.bus.readAgent("g1", "b")).toBeDefined();
    expect(t.bus.subscriptionCount("g1", "inbox:a")).toBe(0);
    await t.client.stopAgent({ guildId: "g1", agentId: "b" });
    expect(t.bus.subscriptionCount("g1")).toBe(0);
  });
});
