import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";
import { connectGuildClient } from "./guild-client.js";
import { MemoryBus } from "./memory-bus.js";
import type { Message } from "./message.js";

function inbox() {
  const received: Message[] = [];
  let wake: (() => void) | undefined;
  return {
    received,
    handler: (m: Message) => {
      received.push(m);
      wake?.();
    },
    async until(count: number) {
      while (received.length < count) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

describe("connectGuildClient", () => {
  it("publishes as itself and receives others' messages, not its own", async () => {
    const bus = new MemoryBus();
    const alice = connectGuildClient(bus, { guildId: "g", id: "alice", name: "Alice" });
    const bob = connectGuildClient(bus, { guildId: "g", id: "bob" });
    const seenByAlice = inbox();
    const seenByBob = inbox();
    await alice.subscribe("chat", seenByAlice.handler);
    await bob.subscribe("chat", seenByBob.handler);

    const sent = await alice.publish("chat", { text: "hi" }, { format: "chat", threadId: "th-1" });
    expect(sent).toMatchObject({
      topic: "chat",
      sender: { id: "alice", name: "Alice" },
      format: "chat",
      threadId: "th-1",
      payload: { text: "hi" },
    });
    await bob.publish("chat", { text: "hello" }, { inResponseTo: sent.id });
    await seenByBob.until(1);
    await seenByAlice.until(1);
    expect(seenByBob.received).toEqual([sent]);
    expect(seenByAlice.received.map((m) => [m.sender, m.inResponseTo])).toEqual([
      [{ id: "bob" }, sent.id],
    ]);
    expect(alice.guildId).toBe("g");
    expect(alice.id).toBe("alice");
  });

  it("stays within its guild", async () => {
    const bus = new MemoryBus();
    const here = connectGuildClient(bus, { guildId: "here", id: "a" });
    const there = connectGuildClient(bus, { guildId: "there", id: "b" });
    const seen = inbox();
    await there.subscribe("t", seen.handler);
    await here.publish("t", 1);
    await connectGuildClient(bus, { guildId: "there", id: "c" }).publish("t", 2);
    await seen.until(1);
    expect(seen.received.map((m) => m.payload)).toEqual([2]);
  });

  it("unsubscribes one subscription, or all on close, leaving the bus open", async () => {
    const bus = new MemoryBus();
    const client = connectGuildClient(bus, { guildId: "g", id: "c" });
    const unsubscribe = await client.subscribe("a", () => undefined);
    await client.subscribe("b", () => undefined);
    expect(bus.subscriptionCount("g")).toBe(2);
    await unsubscribe();
    await unsubscribe();
    expect(bus.subscriptionCount("g", "a")).toBe(0);
    await client.close();
    await client.close();
    expect(bus.subscriptionCount()).toBe(0);
    await expect(client.publish("a", 1)).rejects.toMatchObject({
      code: "failed-precondition",
      message: expect.stringContaining('guild client "c" is closed') as string,
    });
    await expect(client.subscribe("a", () => undefined)).rejects.toBeInstanceOf(GuildhallError);
    await expect(
      connectGuildClient(bus, { guildId: "g", id: "other" }).publish("a", 1),
    ).resolves.toBeDefined();
  });

  it("refuses malformed ids", () => {
    const bus = new MemoryBus();
    expect(() => connectGuildClient(bus, { guildId: "bad guild", id: "c" })).toThrow(
      /connectGuildClient: guildId "bad guild" is invalid: it must match/,
    );
    expect(() => connectGuildClient(bus, { guildId: "g", id: "" })).toThrow(GuildhallError);
  });

  it("passes bus refusals on", async () => {
    const bus = new MemoryBus();
    const client = connectGuildClient(bus, { guildId: "g", id: "c" });
    await expect(client.publish("", 1)).rejects.toMatchObject({ code: "invalid-argument" });
    await bus.close();
    await expect(client.publish("t", 1)).rejects.toMatchObject({ code: "unavailable" });
  });
});
