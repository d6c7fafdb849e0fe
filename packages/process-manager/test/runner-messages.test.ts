// The runner validates host messages with code the build compiles from the zod schemas the host
// uses. Both must agree on what is valid, or one end would act on what the other refuses.
import { describe, expect, it } from "vitest";
import { AgentSend, DeliveredEvent, HostToRunner, JsonPayload } from "../dist/ipc-protocol.js";
import { isDeliveredFrame } from "../dist/runner-process.js";
import {
  agentSendProblem,
  jsonPayloadProblem,
  parseHostMessage,
} from "../dist/agent-process/runner-messages.js";

const message = {
  id: "0ABCDEFGHJ0000000000000000",
  topic: "default_topic",
  sender: { id: "a1", name: "Alice" },
  format: "json",
  payload: { text: "hi", list: [1, 2.5, null, true], nested: { deep: ["x"] } },
  timestamp: 1_764_000_000_000,
  threadId: "t-1",
  inResponseTo: "m-0",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
};

const VALID: Record<string, unknown>[] = [
  {
    type: "start",
    guild: { id: "g1", name: "Guild", defaultTopic: "default_topic" },
    agent: {
      id: "a1",
      name: "A",
      description: "does things",
      className: "@acme/agents#A",
      properties: { model: "small", limits: [1, 2] },
      additionalTopics: ["news"],
      listenToDefaultTopic: false,
      restartPolicy: { mode: "on-failure", maxRestarts: 3, backoffMs: 100 },
      resources: { memoryMb: 128 },
    },
    agentModules: ["@acme/agents", "/opt/agents/"],
    stopTimeoutMs: 10_000,
    state: { value: { count: 3, seen: ["m-1", "m-2"], last: null, ok: true, ratio: 0.5 } },
    maxStateBytes: 1_048_576,
    maxMessageBytes: 1_048_576,
  },
  { type: "deliver", deliveryId: 7, message },
  { type: "published", requestId: 0, message: { ...message, threadId: undefined } },
  { type: "request-failed", requestId: 3, code: "resource-exhausted", message: "bus full" },
  { type: "scheduled", requestId: 4, id: "0ABCDEFGHJ0000000000000000" },
  { type: "schedule-cancelled", requestId: 5 },
  { type: "stop" },
  { type: "stats-request", requestId: 1 },
];

const [start, deliver] = VALID as [Record<string, unknown>, Record<string, unknown>];
const startAgent = start.agent as Record<string, unknown>;
// A start with nothing stored, and one whose stored state is a bare null.
VALID.push({ ...start, state: undefined }, { ...start, state: { value: null } });

const INVALID: [string, unknown][] = [
  ["not an object", "start"],
  ["null", null],
  ["unknown type", { type: "launch" }],
  ["extra field", { type: "stop", now: true }],
  ["missing field", { type: "stats-request" }],
  ["negative request id", { type: "stats-request", requestId: -1 }],
  ["fractional request id", { type: "stats-request", requestId: 1.5 }],
  ["unknown error code", { type: "request-failed", requestId: 1, code: "oops", message: "x" }],
  [
    "the old name of request-failed",
    { type: "publish-failed", requestId: 1, code: "internal", message: "x" },
  ],
  ["empty timer id", { type: "scheduled", requestId: 1, id: "" }],
  ["timer id too long", { type: "scheduled", requestId: 1, id: "t".repeat(65) }],
  ["numeric timer id", { type: "scheduled", requestId: 1, id: 7 }],
  ["scheduled without an id", { type: "scheduled", requestId: 1 }],
  ["extra field on schedule-cancelled", { type: "schedule-cancelled", requestId: 1, id: "t" }],
  ["bad agent id", { ...start, agent: { ...startAgent, id: "-a" } }],
  ["agent id too long", { ...start, agent: { ...startAgent, id: "a".repeat(129) } }],
  ["className without export", { ...start, agent: { ...startAgent, className: "@acme/agents" } }],
  ["unknown agent field", { ...start, agent: { ...startAgent, colour: "red" } }],
  [
    "bad restart mode",
    { ...start, agent: { ...startAgent, restartPolicy: { mode: "sometimes" } } },
  ],
  ["memory below minimum", { ...start, agent: { ...startAgent, resources: { memoryMb: 1 } } }],
  ["empty guild name", { ...start, guild: { id: "g", name: "", defaultTopic: "t" } }],
  ["module entry not a string", { ...start, agentModules: [1] }],
  ["no sender", { ...deliver, message: { ...message, sender: undefined } }],
  ["empty topic", { ...deliver, message: { ...message, topic: "" } }],
  ["string timestamp", { ...deliver, message: { ...message, timestamp: "now" } }],
  ["non-JSON payload", { ...deliver, message: { ...message, payload: { when: () => 0 } } }],
  ["NaN in payload", { ...deliver, message: { ...message, payload: [Number.NaN] } }],
  ["no maxStateBytes", { ...start, maxStateBytes: undefined }],
  ["zero maxStateBytes", { ...start, maxStateBytes: 0 }],
  ["fractional maxStateBytes", { ...start, maxStateBytes: 1.5 }],
  ["state without value", { ...start, state: {} }],
  ["state with an extra field", { ...start, state: { value: 1, json: "1" } }],
  ["state that is a bare value", { ...start, state: 1 }],
  ["a function in the state", { ...start, state: { value: { f: () => 1 } } }],
  ["Infinity in the state", { ...start, state: { value: [Number.POSITIVE_INFINITY] } }],
];

describe("runner-side validation of host messages", () => {
  it.each(VALID.map((value) => [value.type, value]))("accepts a valid %s", (_, value) => {
    expect(HostToRunner.safeParse(value).success).toBe(true);
    expect(parseHostMessage(value)).toEqual({ ok: true, message: value });
  });

  it.each(INVALID)("refuses %s, as the host's schema does", (_, value) => {
    expect(HostToRunner.safeParse(value).success).toBe(false);
    const parsed = parseHostMessage(value);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.problem).toMatch(/\S+: \S/);
  });

  it("names the bad field", () => {
    const parsed = parseHostMessage({ ...start, agent: { ...startAgent, id: "-a" } });
    expect(parsed.ok ? "" : parsed.problem).toMatch(/^agent\.id: must match/);
  });
});

describe("runner-side payload check", () => {
  it.each([
    ["null", null],
    ["a string with astral characters", "🎉 done"],
    ["nested arrays and objects", { a: [{ b: [null, false, -0.5] }] }],
  ])("accepts %s", (_, payload) => {
    expect(JsonPayload.safeParse(payload).success).toBe(true);
    expect(jsonPayloadProblem(payload)).toBeUndefined();
  });

  it.each([
    ["undefined", undefined],
    ["a function", () => 1],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["a bigint deep inside", { a: [{ b: 1n }] }],
    ["an undefined property", { a: undefined }],
  ])("refuses %s", (_, payload) => {
    expect(JsonPayload.safeParse(payload).success).toBe(false);
    expect(jsonPayloadProblem(payload)).toMatch(/: /);
  });
});

describe("runner-side check of the agent's own sends", () => {
  const { sender: _sender, ...send } = message;

  it.each([
    ["a send with every field", send],
    ["a send with only the required fields", { ...send, threadId: undefined }],
  ])("accepts %s, as the host does", (_, candidate) => {
    const wire = JSON.parse(JSON.stringify(candidate)) as typeof send;
    expect(AgentSend.safeParse(wire).success).toBe(true);
    expect(agentSendProblem(wire)).toBeUndefined();
  });

  it.each([
    ["an empty topic", { ...send, topic: "" }],
    ["a topic over 256 characters", { ...send, topic: "t".repeat(257) }],
    ["a fractional timestamp", { ...send, timestamp: 1.5 }],
    ["an id over 64 characters", { ...send, id: "i".repeat(65) }],
    ["a sender", { ...send, sender: { id: "someone-else" } }],
    ["a payload that is not JSON", { ...send, payload: { n: Number.NaN } }],
  ])("refuses %s, as the host does", (_, candidate) => {
    expect(AgentSend.safeParse(candidate).success).toBe(false);
    expect(agentSendProblem(candidate as typeof send)).toMatch(/: /);
  });
});

// The host checks every `delivered` frame with the function compiled from its schema, and with
// zod only what that refuses: it must never accept what zod refuses.
describe("host-side compiled check of delivered frames", () => {
  const send = {
    id: "0ABCDEFGHJ0000000000000001",
    timestamp: 1_764_000_000_000,
    topic: "inbox:b",
    payload: { n: 1, list: [true, null, "x"] },
    format: "json",
  };
  const frame = { type: "delivered", deliveryId: 7, status: "handled" };

  it.each([
    ["handled, nothing changed", frame],
    [
      "handled with a state and sends",
      { ...frame, state: { value: { count: 2 } }, messages: [send] },
    ],
    ["handled with a null state", { ...frame, state: { value: null } }],
    ["skipped", { ...frame, status: "skipped" }],
    ["failed, with its error", { ...frame, status: "failed", error: "boom" }],
    [
      "a send with every optional field",
      { ...frame, messages: [{ ...send, threadId: "t", inResponseTo: "m", traceparent: "00-x" }] },
    ],
  ])("accepts %s, as zod does", (_, candidate) => {
    const wire: unknown = JSON.parse(JSON.stringify(candidate));
    expect(DeliveredEvent.safeParse(wire).success).toBe(true);
    expect(isDeliveredFrame(wire)).toBe(true);
  });

  it.each([
    ["another type", { ...frame, type: "ready" }],
    ["an unknown status", { ...frame, status: "done" }],
    ["a negative delivery id", { ...frame, deliveryId: -1 }],
    ["a fractional delivery id", { ...frame, deliveryId: 1.5 }],
    ["a delivery id past 2^53", { ...frame, deliveryId: 2 ** 53 }],
    ["an unknown field", { ...frame, extra: 1 }],
    ["a state without its value", { ...frame, state: {} }],
    ["a state with another field", { ...frame, state: { value: 1, other: 2 } }],
    ["an error over 65,536 characters", { ...frame, status: "failed", error: "e".repeat(65_537) }],
    ["a send with a sender", { ...frame, messages: [{ ...send, sender: { id: "x" } }] }],
    ["a send with an empty topic", { ...frame, messages: [{ ...send, topic: "" }] }],
    ["a send without an id", { ...frame, messages: [{ ...send, id: undefined }] }],
    [
      "a send whose payload is not JSON",
      { ...frame, messages: [{ ...send, payload: { n: Number.NaN } }] },
    ],
    ["sends that are not a list", { ...frame, messages: send }],
    [
      "a field named __proto__",
      JSON.parse(
        '{"type":"delivered","deliveryId":1,"status":"handled","__proto__":{"x":1}}',
      ) as unknown,
    ],
    ["no frame at all", null],
  ])("refuses %s, as zod does", (_, candidate) => {
    expect(DeliveredEvent.safeParse(candidate).success).toBe(false);
    expect(isDeliveredFrame(candidate)).toBe(false);
  });
});
