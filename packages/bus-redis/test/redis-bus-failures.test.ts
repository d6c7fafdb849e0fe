// RedisBus when Redis goes away: each test owns a redis-server it can kill and restart, and checks
// that a subscriber that stayed up gets every message exactly once, in order.
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createMessage, type Message } from "@guildhall/core";
import { startRedisServer, waitFor, type RedisTestServer } from "@guildhall/testing";
import { RedisBus, type RedisBusOptions, type RedisBusWarning } from "../src/index.js";
import { busConnectionFields, randomPrefix } from "./helpers.js";

const GUILD = "guild-1";
const TOPIC = "topic";
let cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  const running = cleanups.reverse();
  cleanups = [];
  for (const cleanup of running) await cleanup();
});

async function ownServer(): Promise<RedisTestServer> {
  const server = await startRedisServer();
  cleanups.push(() => server.stop());
  return server;
}

function makeBus(server: RedisTestServer, options: Partial<RedisBusOptions> = {}): RedisBus {
  const bus = new RedisBus({
    url: server.url,
    prefix: randomPrefix(),
    maxReconnectDelayMs: 200,
    onWarning: () => {},
    ...options,
  });
  cleanups.push(() => bus.close());
  return bus;
}

function message(payload: number | string): Message {
  return createMessage({ topic: TOPIC, sender: { id: "publisher" }, payload });
}

/** Publishes, retrying while the bus is unavailable (it is still reconnecting), until a deadline. */
async function publishWhenBack(bus: RedisBus, m: Message, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      await bus.publish(GUILD, m);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== "unavailable" || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Receives numbered payloads and the sentinel "end". */
function recorder(): { received: Array<number | string>; handler: (m: Message) => void } {
  const received: Array<number | string> = [];
  return { received, handler: (m) => void received.push(m.payload as number | string) };
}

describe("RedisBus when Redis fails", { timeout: 30_000 }, () => {
  it("delivers every message before a SIGKILL and after the restart exactly once, in order", async () => {
    const server = await ownServer();
    const prefix = randomPrefix();
    const warnings: RedisBusWarning[] = [];
    const subscriber = makeBus(server, { prefix, onWarning: (w) => warnings.push(w) });
    const publisher = makeBus(server, { prefix });
    const inbox = recorder();
    await subscriber.subscribe(GUILD, TOPIC, inbox.handler);

    for (let i = 0; i < 100; i++) await publisher.publish(GUILD, message(i));
    // Redis runs without persistence here: only what the subscriber read before the kill survives
    // it, so the kill comes once everything published so far was read, mid-stream for the reader.
    await waitFor(() => inbox.received.length === 100, {
      description: () => `100 messages before the kill; got ${inbox.received.length}`,
    });
    await server.kill();

    const started = Date.now();
    await expect(publisher.publish(GUILD, message("lost"))).rejects.toMatchObject({
      code: "unavailable",
    });
    expect(Date.now() - started).toBeLessThan(1_000);

    await server.start();
    await publishWhenBack(publisher, message(100));
    for (let i = 101; i < 200; i++) await publisher.publish(GUILD, message(i));
    await publisher.publish(GUILD, message("end"));
    await waitFor(() => inbox.received.includes("end"), {
      description: () =>
        `"end"; got ${inbox.received.length} messages, the last ${String(inbox.received.at(-1))}`,
      timeoutMs: 10_000,
    });
    expect(inbox.received).toEqual([...Array.from({ length: 200 }, (_, i) => i), "end"]);
    expect(warnings.map((w) => w.kind)).toContain("reader-failed");
    expect(warnings.map((w) => w.kind)).toContain("reader-recovered");
  });

  it("rejects publish and subscribe promptly with unavailable while Redis is down", async () => {
    const server = await ownServer();
    const bus = makeBus(server);
    await bus.publish(GUILD, message("up"));
    await server.kill();
    for (let attempt = 0; attempt < 3; attempt++) {
      const started = Date.now();
      const error = await bus.publish(GUILD, message("down")).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: "unavailable" });
      expect((error as Error).message).toContain(server.url);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
    await expect(bus.subscribe(GUILD, TOPIC, () => {})).rejects.toMatchObject({
      code: "unavailable",
    });
    await server.start();
    await publishWhenBack(bus, message("back"));
  });

  it("reads a stream again from its start when Redis came back with lower ids", async () => {
    const server = await ownServer();
    const prefix = randomPrefix();
    const warnings: RedisBusWarning[] = [];
    const subscriber = makeBus(server, { prefix, onWarning: (w) => warnings.push(w) });
    const publisher = makeBus(server, { prefix });
    const inbox = recorder();
    await subscriber.subscribe(GUILD, TOPIC, inbox.handler);

    // A Redis whose clock ran ahead handed out an id far in the future; the subscriber's cursor
    // is now past every id the restarted server will produce for a long time.
    const admin = new Redis(server.url);
    await admin.xadd(
      `${prefix}bus:{${GUILD}}:${TOPIC}`,
      "9999999999999-0",
      "m",
      JSON.stringify(message("future")),
    );
    await admin.quit();
    await waitFor(() => inbox.received.includes("future"), {
      description: "the future entry",
    });

    await server.kill();
    await server.start();
    await publishWhenBack(publisher, message(0));
    for (let i = 1; i < 5; i++) await publisher.publish(GUILD, message(i));
    await waitFor(() => inbox.received.length === 6, {
      description: () => `6 messages; got ${JSON.stringify(inbox.received)}`,
      timeoutMs: 10_000,
    });
    expect(inbox.received).toEqual(["future", 0, 1, 2, 3, 4]);
    expect(warnings.filter((w) => w.kind === "stream-reset")).toHaveLength(1);
  });

  it("resumes after the last delivered message when its connection is killed", async () => {
    const server = await ownServer();
    const prefix = randomPrefix();
    const subscriber = makeBus(server, { prefix });
    const publisher = makeBus(server, { prefix });
    const inbox = recorder();
    await subscriber.subscribe(GUILD, TOPIC, inbox.handler);
    for (let i = 0; i < 10; i++) await publisher.publish(GUILD, message(i));
    await waitFor(() => inbox.received.length === 10, {
      description: () => `10 messages; got ${inbox.received.length}`,
    });

    const admin = new Redis(server.url);
    const reader = (await busConnectionFields(admin, prefix)).find((c) =>
      c["name"]?.startsWith("guildhall-bus-reader:"),
    );
    expect(reader).toBeDefined();
    await admin.client("KILL", "ID", reader!["id"]!);
    await admin.quit();
    // Published while the reader reconnects: Redis keeps them, the reader resumes before them.
    for (let i = 10; i < 20; i++) await publisher.publish(GUILD, message(i));
    await publisher.publish(GUILD, message("end"));
    await waitFor(() => inbox.received.includes("end"), {
      description: () => `"end"; got ${JSON.stringify(inbox.received)}`,
    });
    expect(inbox.received).toEqual([...Array.from({ length: 20 }, (_, i) => i), "end"]);
  });
});
