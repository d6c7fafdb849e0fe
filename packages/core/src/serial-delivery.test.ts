import { describe, expect, it } from "vitest";
import { createMessage, type Message } from "./message.js";
import { SerialDelivery } from "./serial-delivery.js";

const sender = { id: "s" };
const json = (payload: number): string =>
  JSON.stringify(createMessage({ topic: "t", sender, payload }));

describe("SerialDelivery", () => {
  it("delivers in order, one handler call at a time, never inside push", async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const delivery = new SerialDelivery(
      async (message) => {
        events.push(`start ${JSON.stringify(message.payload)}`);
        if (message.payload === 1) await gate;
        events.push(`end ${JSON.stringify(message.payload)}`);
      },
      () => undefined,
    );
    delivery.push(json(1), "1-0");
    delivery.push(json(2), "1-0");
    expect(events).toEqual([]);
    await expect.poll(() => events).toEqual(["start 1"]);
    release();
    await expect.poll(() => events).toEqual(["start 1", "end 1", "start 2", "end 2"]);
  });

  it("gives each call its own parsed copy", async () => {
    const seen: Message[] = [];
    const delivery = new SerialDelivery(
      (message) => {
        seen.push(message);
      },
      () => undefined,
    );
    const text = json(7);
    delivery.push(text, "1-0");
    delivery.push(text, "1-0");
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]).not.toBe(seen[1]);
  });

  it("reports a throwing handler, survives a throwing reporter, and goes on", async () => {
    const handled: unknown[] = [];
    const reported: unknown[] = [];
    const delivery = new SerialDelivery(
      (message) => {
        if (message.payload === 1) throw new Error("boom");
        handled.push(message.payload);
      },
      (error, message) => {
        reported.push([(error as Error).message, message.payload]);
        throw new Error("the reporter fails too");
      },
    );
    delivery.push(json(1), "1-0");
    delivery.push(json(2), "1-0");
    await expect.poll(() => handled).toEqual([2]);
    expect(reported).toEqual([["boom", 1]]);
  });

  it("drops what is queued on close, and takes nothing after", async () => {
    const handled: unknown[] = [];
    const delivery = new SerialDelivery(
      (message) => {
        handled.push(message.payload);
      },
      () => undefined,
    );
    delivery.push(json(1), "1-0");
    delivery.close();
    delivery.push(json(2), "1-0");
    await new Promise((resolve) => setImmediate(resolve));
    expect(handled).toEqual([]);
  });
});
