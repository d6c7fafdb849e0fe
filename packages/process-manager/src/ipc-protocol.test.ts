import { describe, expect, it } from "vitest";
import { HostToRunner, RunnerToHost } from "./ipc-protocol.js";

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
      }).success,
    ).toBe(true);
    for (const message of [
      { type: "ready", gracefulStop: true },
      { type: "ready", state: { value: null }, gracefulStop: false },
      { type: "delivered", deliveryId: 3, status: "handled", state: { value: [1, "two"] } },
      { type: "publish", requestId: 1, topic: "t", payload: 1, format: "json", handler: "start" },
      { type: "publish", requestId: 2, topic: "t", payload: 1, format: "json", handler: 3 },
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
      { type: "publish", requestId: 1, topic: "t", payload: 1, format: "json", handler: "stop" },
      { type: "publish", requestId: 1, topic: "t", payload: 1, format: "json", handler: -1 },
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
