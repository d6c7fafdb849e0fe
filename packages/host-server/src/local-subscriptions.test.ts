import { createMessage, MemoryBus, type Message } from "@guildhall/core";
import { afterEach, describe, expect, it } from "vitest";
import { LocalSubscriptions } from "./local-subscriptions.js";

const sender = { id: "outside", name: "Outside" };

describe("LocalSubscriptions", () => {
  const buses: MemoryBus[] = [];
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
  });

  function setUp() {
    const bus = new MemoryBus();
    buses.push(bus);
    const delivered: { agentId: string; message: Message }[] = [];
    const subscriptions = new LocalSubscriptions(
      bus,
      (_guildId, agentId, message) => delivered.push({ agentId, message }),
      (error) => {
        throw error;
      },
    );
    return { bus, delivered, subscriptions };
  }

  it("delivers each topic an agent joined, once per agent", async () => {
    const { bus, delivered, subscriptions } = setUp();
    await subscriptions.join("g", "a", ["news", "inbox:a", "news"]);
    await subscriptions.join("g", "b", ["news"]);
    expect(subscriptions.size).toBe(2);

    await bus.publish("g", createMessage({ topic: "news", sender, payload: 1 }));
    await bus.publish("g", createMessage({ topic: "inbox:a", sender, payload: 2 }));
    await expect.poll(() => delivered.length).toBe(3);
    expect(
      delivered.map((d) => `${d.agentId}:${JSON.stringify(d.message.payload)}`).sort(),
    ).toEqual(["a:1", "a:2", "b:1"]);
  });

  it("drops a bus subscription when its last local agent leaves", async () => {
    const { subscriptions } = setUp();
    await subscriptions.join("g", "a", ["news", "inbox:a"]);
    await subscriptions.join("g", "b", ["news"]);
    await subscriptions.leave("g", "a", ["news", "inbox:a"]);
    expect(subscriptions.size).toBe(1);
    await subscriptions.leave("g", "b", ["news"]);
    expect(subscriptions.size).toBe(0);
  });

  it("takes the agent off every topic when one subscription fails, and keeps no subscription", async () => {
    const { bus, delivered, subscriptions } = setUp();
    // The bus refuses the empty topic; the other one subscribes side by side and must be undone.
    await expect(subscriptions.join("g", "a", ["news", ""])).rejects.toThrow(/topic ""/);
    expect(subscriptions.size).toBe(0);

    await bus.publish("g", createMessage({ topic: "news", sender, payload: 1 }));
    await subscriptions.join("g", "b", ["news"]);
    await bus.publish("g", createMessage({ topic: "news", sender, payload: 2 }));
    await expect.poll(() => delivered.length).toBe(1);
    expect(delivered[0]).toMatchObject({ agentId: "b", message: { payload: 2 } });
  });
});
