import { describe, expect, it } from "vitest";
import { createMessageIdGenerator, parseMessageId } from "./ids.js";
import { Message, createMessage, inboxTopic } from "./message.js";

describe("createMessage", () => {
  it("fills id, timestamp and format", () => {
    const ids = createMessageIdGenerator({ machineId: 5, now: () => 1_234_567 });
    const message = createMessage(
      { topic: "news", sender: { id: "app", name: "App" }, payload: { n: 1 } },
      { ids },
    );
    expect(message).toEqual({
      id: expect.any(String) as string,
      topic: "news",
      sender: { id: "app", name: "App" },
      format: "json",
      payload: { n: 1 },
      timestamp: 1_234_567,
    });
    expect(parseMessageId(message.id).machineId).toBe(ids.machineId);
    expect(Message.parse(message)).toEqual(message);
  });

  it("keeps what it is given and adds no undefined fields", () => {
    const message = createMessage({
      id: "custom-id",
      timestamp: 7,
      topic: "t",
      sender: { id: "a" },
      payload: null,
      format: "text/plain",
      threadId: "th",
      inResponseTo: "prev",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    expect(message).toMatchObject({ id: "custom-id", timestamp: 7, format: "text/plain" });
    expect(
      Object.keys(createMessage({ topic: "t", sender: { id: "a" }, payload: 1 })).sort(),
    ).toEqual(["format", "id", "payload", "sender", "timestamp", "topic"]);
  });

  it("stamps the current time when the id is not one of ours", () => {
    const before = Date.now();
    const message = createMessage(
      { topic: "t", sender: { id: "a" }, payload: 1 },
      { ids: { machineId: "x", next: () => "not-ours" } },
    );
    expect(message.id).toBe("not-ours");
    expect(message.timestamp).toBeGreaterThanOrEqual(before);
  });
});

describe("inboxTopic", () => {
  it("is inbox:<agentId>", () => {
    expect(inboxTopic("echo")).toBe("inbox:echo");
  });
});
