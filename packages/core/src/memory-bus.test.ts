import { describe, expect, it, vi } from "vitest";
import { GuildhallError } from "./errors.js";
import { MemoryBus } from "./memory-bus.js";
import { createMessage } from "./message.js";
import type { JsonValue, Message } from "./message.js";

const message = (topic: string, payload: JsonValue, sender = "app"): Message =>
  createMessage({ topic, sender: { id: sender }, payload });

/** Collects what a handler receives; `until(n)` resolves once n messages arrived. */
function collector() {
  const received: Message[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const handler = (m: Message) => {
    received.push(m);
    for (const w of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  const until = (count: number) =>
    received.length >= count
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ count, resolve }));
  return { received, handler, until, payloads: () => received.map((m) => m.payload) };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("MemoryBus", () => {
  it("delivers each subscriber its own copy", async () => {
    const bus = new MemoryBus();
    const a = collector();
    const b = collector();
    await bus.subscribe("g", "t", a.handler);
    await bus.subscribe("g", "t", b.handler);
    const sent = message("t", { list: [1] });
    await bus.publish("g", sent);
    await Promise.all([a.until(1), b.until(1)]);
    expect(a.received[0]).toEqual(sent);
    expect(a.received[0]).not.toBe(sent);
    expect(a.received[0]).not.toBe(b.received[0]);
  });

  it("keeps guilds apart whatever the topic names", async () => {
    const bus = new MemoryBus();
    const one = collector();
    const two = collector();
    await bus.subscribe("guild-1", "default_topic", one.handler);
    await bus.subscribe("guild-2", "default_topic", two.handler);
    await bus.publish("guild-1", message("default_topic", "for 1"));
    await bus.publish("guild-2", message("default_topic", "for 2"));
    await Promise.all([one.until(1), two.until(1)]);
    await bus.publish("guild-2", message("default_topic", "sentinel"));
    await two.until(2);
    expect(one.payloads()).toEqual(["for 1"]);
    expect(two.payloads()).toEqual(["for 2", "sentinel"]);
  });

  it("delivers only what is published after subscribe resolved, and only its topic", async () => {
    const bus = new MemoryBus();
    await bus.publish("g", message("t", "before"));
    const c = collector();
    await bus.subscribe("g", "t", c.handler);
    await bus.publish("g", message("other", "elsewhere"));
    await bus.publish("g", message("t", "after"));
    await c.until(1);
    expect(c.payloads()).toEqual(["after"]);
  });

  it("keeps publish order across publishers, for every subscriber", async () => {
    const bus = new MemoryBus();
    const subscribers = [collector(), collector(), collector()];
    for (const s of subscribers) await bus.subscribe("g", "t", s.handler);
    const expected: number[] = [];
    for (let i = 0; i < 1000; i++) {
      expected.push(i);
      void bus.publish("g", message("t", i, `sender-${i % 7}`));
    }
    await Promise.all(subscribers.map((s) => s.until(1000)));
    for (const s of subscribers) expect(s.payloads()).toEqual(expected);
  });

  it("calls a subscription's handler one message at a time", async () => {
    const bus = new MemoryBus();
    let running = 0;
    let most = 0;
    const gates = [deferred(), deferred(), deferred()];
    const done = collector();
    await bus.subscribe("g", "t", async (m) => {
      running += 1;
      most = Math.max(most, running);
      await gates[m.payload as number]?.promise;
      running -= 1;
      done.handler(m);
    });
    for (const i of [0, 1, 2]) await bus.publish("g", message("t", i));
    gates[2]?.resolve();
    gates[1]?.resolve();
    gates[0]?.resolve();
    await done.until(3);
    expect(done.payloads()).toEqual([0, 1, 2]);
    expect(most).toBe(1);
  });

  it("never calls handlers from inside publish", async () => {
    const bus = new MemoryBus();
    const c = collector();
    await bus.subscribe("g", "t", c.handler);
    const publishing = bus.publish("g", message("t", 1));
    expect(c.received).toHaveLength(0);
    await publishing;
    await c.until(1);
  });

  it("goes on after a handler throws, and a slow handler holds up only its own subscription", async () => {
    const reported = collector();
    const onHandlerError = vi.fn((_error: unknown, m: Message) => reported.handler(m));
    const bus = new MemoryBus({ onHandlerError });
    const ownErrors: unknown[] = [];
    const failing = collector();
    await bus.subscribe(
      "g",
      "t",
      (m) => {
        failing.handler(m);
        if (m.payload === "boom") throw new Error("handler failed");
      },
      { onError: (error) => ownErrors.push(error) },
    );
    const rejecting = collector();
    await bus.subscribe("g", "t", async (m) => {
      rejecting.handler(m);
      await Promise.resolve();
      throw new Error("always rejects");
    });
    const blocked = deferred();
    let slowCalls = 0;
    await bus.subscribe("g", "t", async () => {
      slowCalls += 1;
      await blocked.promise;
    });
    const healthy = collector();
    await bus.subscribe("g", "t", healthy.handler);

    for (const payload of ["boom", "fine", "also fine"])
      await bus.publish("g", message("t", payload));
    await Promise.all([failing.until(3), reported.until(3), healthy.until(3)]);
    expect(healthy.payloads()).toEqual(["boom", "fine", "also fine"]);
    expect(failing.payloads()).toEqual(["boom", "fine", "also fine"]);
    expect(ownErrors).toEqual([new Error("handler failed")]);
    expect(onHandlerError).toHaveBeenCalledTimes(3);
    expect(onHandlerError.mock.calls[0]?.[1]).toMatchObject({ payload: "boom" });
    expect(slowCalls).toBe(1);
    blocked.resolve();
  });

  it("writes handler failures to stderr by default", async () => {
    const bus = new MemoryBus();
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const after = collector();
      await bus.subscribe("g", "t", (m) => {
        after.handler(m);
        if (m.payload === 1) throw new Error("bad handler");
      });
      await bus.publish("g", message("t", 1));
      await bus.publish("g", message("t", 2));
      await after.until(2);
      expect(errors).toHaveBeenCalledTimes(1);
      expect(String(errors.mock.calls[0]?.[0])).toMatch(
        /handler of guild "g" topic "t" failed on message .*: Error: bad handler/,
      );
    } finally {
      errors.mockRestore();
    }
  });

  it("skips the excluded sender", async () => {
    const bus = new MemoryBus();
    const c = collector();
    await bus.subscribe("g", "t", c.handler, { excludeSender: "me" });
    await bus.publish("g", message("t", "mine", "me"));
    await bus.publish("g", message("t", "theirs", "them"));
    await c.until(1);
    await bus.publish("g", message("t", "sentinel", "them"));
    await c.until(2);
    expect(c.payloads()).toEqual(["theirs", "sentinel"]);
  });

  it("stops delivery on unsubscribe, even of queued messages, and forgets the subscription", async () => {
    const bus = new MemoryBus();
    const c = collector();
    const sub = await bus.subscribe("g", "t", async (m) => {
      c.handler(m);
      if (m.payload === 1) await sub.unsubscribe();
    });
    const other = collector();
    await bus.subscribe("g", "t", other.handler);
    expect(bus.subscriptionCount()).toBe(2);
    expect(bus.subscriptionCount("g", "t")).toBe(2);
    for (const i of [1, 2, 3]) await bus.publish("g", message("t", i));
    await other.until(3);
    expect(c.payloads()).toEqual([1]);
    expect(bus.subscriptionCount("g")).toBe(1);
    await sub.unsubscribe();
    expect(bus.subscriptionCount("g", "t")).toBe(1);
    expect(bus.subscriptionCount("other")).toBe(0);
    expect(sub).toMatchObject({ guildId: "g", topic: "t" });
  });

  it("refuses everything once closed; close is idempotent", async () => {
    const bus = new MemoryBus();
    const c = collector();
    await bus.subscribe("g", "t", c.handler);
    await bus.close();
    await bus.close();
    expect(bus.subscriptionCount()).toBe(0);
    await expect(bus.publish("g", message("t", 1))).rejects.toMatchObject({
      code: "unavailable",
      message: expect.stringMatching(/MemoryBus is closed/) as string,
    });
    await expect(bus.subscribe("g", "t", c.handler)).rejects.toBeInstanceOf(GuildhallError);
    expect(c.received).toHaveLength(0);
  });

  it("refuses bad guild ids, topics and messages", async () => {
    const bus = new MemoryBus({ maxMessageBytes: 200 });
    const refused = { code: "invalid-argument" };
    await expect(bus.publish("bad guild", message("t", 1))).rejects.toMatchObject(refused);
    await expect(bus.subscribe("g", "", () => undefined)).rejects.toMatchObject(refused);
    await expect(bus.subscribe("g", "t".repeat(257), () => undefined)).rejects.toMatchObject(
      refused,
    );
    await expect(bus.subscribe("", "t", () => undefined)).rejects.toMatchObject(refused);
    const invalid = { ...message("t", 1), timestamp: "now" } as unknown as Message;
    await expect(bus.publish("g", invalid)).rejects.toMatchObject({
      ...refused,
      message: expect.stringContaining("timestamp: expected number, received string") as string,
    });
    await expect(bus.publish("g", message("t", "x".repeat(300)))).rejects.toMatchObject({
      ...refused,
      message: expect.stringMatching(
        /over the bus limit of 200; send a reference to large data/,
      ) as string,
    });
    expect(bus.subscriptionCount()).toBe(0);
  });
});
