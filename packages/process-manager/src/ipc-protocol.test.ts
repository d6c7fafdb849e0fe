import { describe, expect, it } from "vitest";
import { HostToRunner, RunnerToHost } from "./ipc-protocol.js";

/** A handler's send as a runner reports it. */
const SEND = {
  id: "0ABCDEFGHJ0000000000000000",
  timestamp: 1,
  topic: "t",
  payload: 1,
  format: "json",
};

describe("IPC protocol", () => {
  it("accepts well-formed messages in both directions", () => {
    expect(RunnerToHost.safeParse({ type: "hello", protocol: 1, pid: 42 }).success).toBe(true);
    expect(
      RunnerToHost.safeParse({
        type: "publish",
        requestId: 0,
        topic: "t",
        payload: { a: [1, null] },
        format: "json",
        inResponseTo: "m-1",
      }).success,
    ).toBe(true);
    expect(
      HostToRunner.safeParse({
        type: "start",
        guild: { id: "g", name: "G", defaultTopic: "default_topic" },
        agent: { id: "a", name: "A", className: "@acme/agents#A" },
        agentModules: ["@acme/agents"],
        stopTimeoutMs: 1000,
        state: { value: { count: 1 } },
        maxStateBytes: 1_048_576,
        maxMessageBytes: 1_048_576,
      }).success,
    ).toBe(true);
    for (const message of [
      { type: "ready", gracefulStop: true },
      { type: "ready", state: { value: null }, gracefulStop: false },
      { type: "delivered", deliveryId: 3, status: "handled", state: { value: [1, "two"] } },
      { type: "ready", gracefulStop: true, messages: [SEND] },
      { type: "delivered", deliveryId: 3, status: "handled", messages: [SEND, SEND] },
      { type: "schedule", requestId: 3, delayMs: 1000, payload: { remind: "me" }, handler: 3 },
      { type: "schedule", requestId: 4, delayMs: 0, payload: null, handler: "start" },
      // Not the runner's to refuse: the host answers with the rule it broke.
      { type: "schedule", requestId: 5, delayMs: -1.5, payload: 1 },
      { type: "cancel-schedule", requestId: 6, id: "0ABCDEFGHJ0000000000000000", handler: 2 },
      { type: "cancel-schedule", requestId: 7, id: "t" },
    ]) {
      expect(RunnerToHost.safeParse(message).success).toBe(true);
    }
  });

  it("rejects malformed states and handler tags", () => {
    for (const message of [
      { type: "ready", state: { count: 1 }, gracefulStop: true },
      { type: "ready", state: { value: Number.NaN }, gracefulStop: true },
      { type: "ready" },
      { type: "delivered", deliveryId: 3, status: "handled", state: { value: undefined } },
      // Sends from handlers come with the handler's outcome, not as requests of their own.
      { type: "publish", requestId: 1, topic: "t", payload: 1, format: "json", handler: 3 },
      { type: "delivered", deliveryId: 3, status: "handled", messages: [{ ...SEND, id: "" }] },
      {
        type: "delivered",
        deliveryId: 3,
        status: "handled",
        messages: [{ ...SEND, timestamp: -1 }],
      },
      {
        type: "ready",
        gracefulStop: true,
        messages: [{ ...SEND, sender: { id: "someone-else" } }],
      },
      { type: "schedule", requestId: 1, delayMs: Number.POSITIVE_INFINITY, payload: 1 },
      { type: "schedule", requestId: 1, delayMs: Number.NaN, payload: 1 },
      { type: "schedule", requestId: 1, delayMs: "1000", payload: 1 },
      { type: "schedule", requestId: 1, delayMs: 1, payload: 1, handler: "stop" },
      { type: "schedule", requestId: 1, delayMs: 1 },
      { type: "cancel-schedule", requestId: 1, id: "" },
      { type: "cancel-schedule", requestId: 1, id: "t".repeat(65) },
      { type: "cancel-schedule", requestId: 1, id: "t", delayMs: 1 },
    ]) {
      expect(RunnerToHost.safeParse(message).success).toBe(false);
    }
  });

  it("rejects unknown types, extra fields and a sender on publish requests", () => {
    expect(RunnerToHost.safeParse({ type: "nonsense" }).success).toBe(false);
    expect(RunnerToHost.safeParse({ type: "ready", gracefulStop: true, extra: 1 }).success).toBe(
      false,
    );
    expect(
      RunnerToHost.safeParse({
        type: "publish",
        requestId: 1,
        topic: "t",
        payload: 1,
        format: "json",
        sender: { id: "someone-else" },
      }).success,
    ).toBe(false);
    expect(HostToRunner.safeParse({ type: "deliver", deliveryId: 1, message: {} }).success).toBe(
      false,
    );
  });
});
