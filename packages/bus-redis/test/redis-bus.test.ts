// What RedisBus adds to the shared contract: one reading connection per bus, prompt pick-up of new
// subscriptions and prompt close, delivery between buses, malformed entries, size and length
// limits, and errors that name the server but never the password.
import type { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { GuildhallError, createMessage, type Message, type TrimmedEntries } from "@guildhall/core";
import { freePort, testRedisUrl, waitFor } from "@guildhall/testing";
import { RedisBus, type RedisBusWarning } from "../src/index.js";
import { compareStreamIds } from "../src/stream-id.js";
import {
  busConnectionFields,
  busConnections,
  expectNoBusConnections,
  useBuses,
} from "./helpers.js";

const url = testRedisUrl();
const GUILD = "guild-1";
const { admin: adminOf, makeBus, track } = useBuses();
let admin: Redis;

beforeAll(() => {
  admin = adminOf();
});

function message(payload: string, topic = "topic"): Message {
  return createMessage({ topic, sender: { id: "tester" }, payload });
}

function collector(): { received: string[]; handler: (m: Message) => void } {
  const received: string[] = [];
  return { received, handler: (m) => void received.push(m.payload as string) };
}

describe("RedisBus", () => {
  it("reads every subscription of a bus on one connection, beside one for commands", async () => {
    const { bus, prefix } = makeBus();
    const inboxes = Array.from({ length: 20 }, () => collector());
    for (const [i, inbox] of inboxes.entries()) {
      await bus.subscribe(GUILD, `topic-${i % 10}`, inbox.handler);
    }
    for (let i = 0; i < 10; i++) await bus.publish(GUILD, message(`m${i}`, `topic-${i}`));
    await waitFor(() => inboxes.every((inbox) => inbox.received.length === 1), {
      description: () =>
        `a message to each; received ${JSON.stringify(inboxes.map((inbox) => inbox.received))}`,
    });
    expect((await busConnections(admin, prefix)).sort()).toEqual([
      `guildhall-bus-reader:${prefix}`,
      `guildhall-bus:${prefix}`,
    ]);
  });

  it("spreads its streams over blocking reads of at most maxStreamsPerRead each", async () => {
    const { bus, prefix } = makeBus({ maxStreamsPerRead: 4 });
    const inboxes = Array.from({ length: 10 }, () => collector());
    const subscriptions = [];
    for (const [i, inbox] of inboxes.entries()) {
      subscriptions.push(await bus.subscribe(GUILD, `topic-${i}`, inbox.handler));
    }
    const readers = async () =>
      (await busConnectionFields(admin, prefix)).filter(
        (c) => c["name"] === `guildhall-bus-reader:${prefix}`,
      );
    // Ten streams, four per read: three readers, each blocked on its own share.
    await waitFor(
      async () => {
        const blocked = (await readers()).filter((c) => c["cmd"] === "xread");
        return blocked.length === 3;
      },
      { description: "three readers blocked in XREAD" },
    );
    for (let i = 0; i < 10; i++) await bus.publish(GUILD, message(`m${i}`, `topic-${i}`));
    await waitFor(() => inboxes.every((inbox) => inbox.received.length === 1), {
      description: "a message to each",
    });
    // Streams nobody reads leave their readers, whose room later subscriptions take again.
    for (const subscription of subscriptions.slice(0, 8)) await subscription.unsubscribe();
    const late = collector();
    await bus.subscribe(GUILD, "late", late.handler);
    await bus.publish(GUILD, message("late", "late"));
    await waitFor(() => late.received.length === 1, { description: "the late subscription's" });
    expect(await readers()).toHaveLength(3);
  });

  it("holds at most maxQueuedPerSubscription messages for a slow handler and reads the rest later, never slowing the others", async () => {
    const { bus } = makeBus({ maxQueuedPerSubscription: 10 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const slow: string[] = [];
    const flood = await bus.subscribe(GUILD, "flood", async (m) => {
      await gate;
      slow.push(m.payload as string);
    });
    const fast = collector();
    await bus.subscribe(GUILD, "flood", fast.handler);
    const other = collector();
    await bus.subscribe(GUILD, "other", other.handler);

    const sent = Array.from({ length: 300 }, (_, i) => `m${i}`);
    for (const payload of sent) await bus.publish(GUILD, message(payload, "flood"));
    await waitFor(() => fast.received.length === 300, {
      description: "every message to the fast subscription of the same topic",
    });
    // One in the handler, ten queued: the other 289 wait in Redis.
    expect(flood.queued).toBe(10);
    await bus.publish(GUILD, message("meanwhile", "other"));
    await waitFor(() => other.received.length === 1, { description: "a message to another topic" });

    open();
    await waitFor(() => slow.length === 300, {
      description: () => `every message to the slow subscription; it has ${slow.length}`,
    });
    expect(slow).toEqual(sent);
    expect(fast.received).toEqual(sent);
  });

  it("tells a full subscription of entries the hard cap trimmed while they waited in Redis", async () => {
    const { bus, prefix } = makeBus({ maxQueuedPerSubscription: 10 });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const slow: string[] = [];
    const trimmed: TrimmedEntries[] = [];
    const flood = await bus.subscribe(
      GUILD,
      "flood",
      async (m) => {
        await gate;
        slow.push(m.payload as string);
      },
      { onTrimmed: (t) => void trimmed.push(t) },
    );
    const sent = Array.from({ length: 100 }, (_, i) => `m${i}`);
    for (const payload of sent) await bus.publish(GUILD, message(payload, "flood"));
    await waitFor(() => flood.queued === 10, { description: "the subscription to fill up" });
    // As the hard cap (maxLenPerTopic) does to a long stream, while the 89 wait in Redis.
    const key = `${prefix}bus:{${GUILD}}:flood`;
    const ids = (await admin.xrange(key, "-", "+")).map(([id]) => id);
    await admin.xtrim(key, "MAXLEN", 5);

    open();
    await waitFor(() => slow.length === 16, {
      description: () => `what was queued and what Redis kept; received ${slow.length}`,
    });
    expect(slow).toEqual([...sent.slice(0, 11), ...sent.slice(95)]);
    // The last id trimmed is told as Redis knows it: at or after the last entry trimmed, before
    // the first one kept.
    expect(trimmed.map(({ guildId, topic, after }) => ({ guildId, topic, after }))).toEqual([
      { guildId: GUILD, topic: "flood", after: ids[10] },
    ]);
    const lastTrimmed = trimmed[0]!.lastTrimmed;
    expect(compareStreamIds(lastTrimmed, ids[94]!)).toBeGreaterThanOrEqual(0);
    expect(compareStreamIds(lastTrimmed, ids[95]!)).toBeLessThan(0);
  });

  it("picks up a subscription added while the read blocks, long before blockMs", async () => {
    const { bus, prefix } = makeBus({ blockMs: 60_000 });
    await bus.subscribe(GUILD, "first", () => {});
    await waitFor(
      async () =>
        (await busConnectionFields(admin, prefix)).some(
          (c) => c["cmd"] === "xread" && c["flags"]?.includes("b") === true,
        ),
      { description: "the reader to block in XREAD" },
    );
    const second = collector();
    await bus.subscribe(GUILD, "second", second.handler);
    const started = Date.now();
    await bus.publish(GUILD, message("hello", "second"));
    await waitFor(() => second.received.length === 1, {
      description: "a message to the new subscription",
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("ends a blocking read promptly on close and leaves no connection", async () => {
    const { bus, prefix } = makeBus({ blockMs: 60_000 });
    await bus.subscribe(GUILD, "topic", () => {});
    await waitFor(
      async () => (await busConnectionFields(admin, prefix)).some((c) => c["cmd"] === "xread"),
      { description: "the reader to read" },
    );
    const started = Date.now();
    await bus.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    await expectNoBusConnections(admin, prefix);
  });

  it("closes promptly when it never connected", async () => {
    const port = await freePort();
    const bus = new RedisBus({ url: `redis://127.0.0.1:${port}` });
    await expect(bus.subscribe(GUILD, "topic", () => {})).rejects.toMatchObject({
      code: "unavailable",
    });
    const started = Date.now();
    await bus.close();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("delivers between buses that share a prefix, each subscription once", async () => {
    const { bus: publisher, prefix } = makeBus();
    const { bus: first } = makeBus({ prefix });
    const { bus: second } = makeBus({ prefix });
    const a = collector();
    const b = collector();
    const c = collector();
    await first.subscribe(GUILD, "topic", a.handler);
    await first.subscribe(GUILD, "topic", b.handler);
    await second.subscribe(GUILD, "topic", c.handler);
    const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const payload of sent) await publisher.publish(GUILD, message(payload));
    await waitFor(() => [a, b, c].every((inbox) => inbox.received.length >= sent.length), {
      description: () =>
        `${sent.length} messages to each; received ${a.received.length}, ${b.received.length}, ${c.received.length}`,
    });
    expect(a.received).toEqual(sent);
    expect(b.received).toEqual(sent);
    expect(c.received).toEqual(sent);
  });

  it("reports and skips malformed entries, and goes on delivering", async () => {
    const warnings: RedisBusWarning[] = [];
    const { bus, prefix } = makeBus({ onWarning: (w) => warnings.push(w) });
    const inbox = collector();
    await bus.subscribe(GUILD, "topic", inbox.handler);
    const key = `${prefix}bus:{${GUILD}}:topic`;
    await bus.publish(GUILD, message("first"));
    await admin.xadd(key, "*", "m", "{not json");
    await admin.xadd(key, "*", "m", JSON.stringify({ hello: "world" }));
    await admin.xadd(key, "*", "other", "field");
    await admin.xadd(key, "*", "m", JSON.stringify(message("wrong topic", "elsewhere")));
    await bus.publish(GUILD, message("last"));
    await waitFor(() => inbox.received.includes("last"), {
      description: () => `"last"; received ${JSON.stringify(inbox.received)}`,
    });
    expect(inbox.received).toEqual(["first", "last"]);
    const malformed = warnings.filter((w) => w.kind === "malformed-entry");
    expect(malformed).toHaveLength(4);
    expect(malformed.map((w) => w.message)).toEqual([
      expect.stringContaining("not JSON"),
      expect.stringContaining("not a valid message"),
      expect.stringContaining('no "m" field'),
      expect.stringContaining('topic "elsewhere"'),
    ]);
  });

  it("refuses a message over maxPayloadBytes with invalid-argument naming size and limit", async () => {
    const { bus } = makeBus({ maxPayloadBytes: 1_000 });
    const big = message("x".repeat(2_000));
    const size = Buffer.byteLength(JSON.stringify(big));
    const error = await bus.publish(GUILD, big).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GuildhallError);
    expect(error).toMatchObject({ code: "invalid-argument" });
    expect((error as Error).message).toContain(`is ${size} bytes`);
    expect((error as Error).message).toContain("limit of 1000 bytes");
  });

  it("trims each stream to about maxLenPerTopic", async () => {
    const { bus, prefix } = makeBus({ maxLenPerTopic: 10 });
    for (let i = 0; i < 500; i++) await bus.publish(GUILD, message(`m${i}`));
    // `MAXLEN ~` trims whole radix-tree nodes (100 entries by default), so allow one node more.
    expect(await admin.xlen(`${prefix}bus:{${GUILD}}:topic`)).toBeLessThanOrEqual(110);
  });

  it("refuses a key that is not a stream with failed-precondition", async () => {
    const { bus, prefix } = makeBus();
    await admin.set(`${prefix}bus:{${GUILD}}:taken`, "a string");
    await expect(bus.publish(GUILD, message("x", "taken"))).rejects.toMatchObject({
      code: "failed-precondition",
    });
    await expect(bus.subscribe(GUILD, "taken", () => {})).rejects.toMatchObject({
      code: "failed-precondition",
    });
  });

  it("names the server but never the password when Redis is unreachable", async () => {
    const port = await freePort();
    const bus = new RedisBus({ url: `redis://user:s3cret-pw@127.0.0.1:${port}/2` });
    track(bus);
    const error = await bus.publish(GUILD, message("x")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "unavailable" });
    expect((error as Error).message).toContain(`redis://127.0.0.1:${port}/2`);
    expect((error as Error).message).not.toContain("s3cret-pw");
  });

  it("refuses bad options with invalid-argument", () => {
    expect(() => new RedisBus({ url: "localhost:6379" })).toThrow(/Redis URL is invalid/);
    expect(() => new RedisBus({ url, prefix: "has space" })).toThrow(/prefix/);
    expect(() => new RedisBus({ url, blockMs: 0 })).toThrow(/blockMs/);
    expect(() => new RedisBus({ url, prefix: "gh{x}:" })).toThrow(/braces/);
    expect(() => new RedisBus({ url, trimAboveEntries: 0 })).toThrow(/trimAboveEntries/);
    expect(() => new RedisBus({ url, tombstoneTtlMs: 1.5 })).toThrow(/tombstoneTtlMs/);
  });
});
