import { describe, expect, it } from "vitest";
import { createMessageIdGenerator, parseMessageId } from "./ids.js";
import { Message, ParsedMessage, createMessage, inboxTopic } from "./message.js";
import { validateMessage, validateParsedMessage } from "./validation.js";

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

describe("ParsedMessage", () => {
  const valid = createMessage({
    topic: "inbox:counter",
    sender: { id: "app", name: "App" },
    payload: { count: 3, tags: ["a", null], nested: { ok: true, ratio: 0.5 } },
    threadId: "conversation-7",
    inResponseTo: "question-6",
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  });
  const { payload: _payload, ...withoutPayload } = valid;
  const { threadId: _thread, inResponseTo: _answers, traceparent: _trace, ...minimal } = valid;
  const cases: Record<string, unknown> = {
    valid,
    minimal,
    "payload null": { ...valid, payload: null },
    "payload a string": { ...valid, payload: "text" },
    "payload an empty array": { ...valid, payload: [] },
    "no payload": withoutPayload,
    "an unknown field": { ...valid, extra: 1 },
    "a __proto__ field": JSON.parse(
      `{"__proto__": 1, ${JSON.stringify(valid).slice(1)}`,
    ) as unknown,
    "an empty id": { ...valid, id: "" },
    "an id of 65 characters": { ...valid, id: "x".repeat(65) },
    "a topic of 257 characters": { ...valid, topic: "t".repeat(257) },
    "an empty format": { ...valid, format: "" },
    "a sender without id": { ...valid, sender: { name: "App" } },
    "a sender with an unknown field": { ...valid, sender: { id: "app", role: "x" } },
    "a sender of a string": { ...valid, sender: "app" },
    "a fractional timestamp": { ...valid, timestamp: 1.5 },
    "a negative timestamp": { ...valid, timestamp: -1 },
    "a timestamp of a string": { ...valid, timestamp: "1764000000000" },
    "a null threadId": { ...valid, threadId: null },
    "a traceparent of 257 characters": { ...valid, traceparent: "0".repeat(257) },
    "an array": [valid],
    null: null,
  };

  // It stands in for Message wherever a host checks what it parsed, so on parsed values (JSON
  // round-tripped here) the two must agree on every verdict.
  it.each(Object.entries(cases))("judges %s as Message does", (_, value) => {
    const parsed = JSON.parse(JSON.stringify(value)) as unknown;
    expect(ParsedMessage.safeParse(parsed).success).toBe(Message.safeParse(parsed).success);
  });

  it("refuses a missing payload by name, through validateParsedMessage", () => {
    expect(() => validateParsedMessage(withoutPayload)).toThrow(
      /invalid message \(1 problem;[^]*payload: is required \(any JSON value\)/,
    );
  });

  it("returns a message that validateMessage then takes as it is, unchecked", () => {
    const parsed = JSON.parse(JSON.stringify(valid)) as unknown;
    const message = validateParsedMessage(parsed);
    expect(message).toEqual(valid);
    // A message validateMessage has not seen it returns as a copy; this one as itself.
    expect(validateMessage(parsed)).not.toBe(parsed);
    expect(validateMessage(message)).toBe(message);
  });
});
