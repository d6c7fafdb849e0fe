import { describe, expect, it } from "vitest";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { connectGuildClient } from "./guild-client.js";
import { MemoryBus } from "./memory-bus.js";
import { createMessage } from "./message.js";
import {
  contextOfTraceparent,
  endSpan,
  startProcessSpan,
  startPublishSpan,
  traceparentOf,
  tracesHostCall,
} from "./tracing.js";

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("trace context in messages", () => {
  it("reads a W3C traceparent as a remote parent", () => {
    const context = contextOfTraceparent(TRACEPARENT);
    expect(context && trace.getSpanContext(context)).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
      isRemote: true,
    });
  });

  it("refuses what is not a valid traceparent", () => {
    for (const bad of [
      "",
      "nonsense",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ]) {
      expect(contextOfTraceparent(bad), bad).toBeUndefined();
    }
  });

  it("with no SDK, spans are no-ops that carry their parent's context through", () => {
    const orphan = startPublishSpan("t", { guildId: "g" });
    expect(orphan.isRecording()).toBe(false);
    expect(traceparentOf(orphan)).toBeUndefined();
    endSpan(orphan);

    const child = startPublishSpan("t", { guildId: "g", parent: TRACEPARENT });
    expect(traceparentOf(child)).toBe(TRACEPARENT);
    endSpan(child, new Error("refused"));

    const message = createMessage({
      topic: "t",
      sender: { id: "a" },
      payload: null,
      traceparent: TRACEPARENT,
    });
    expect(traceparentOf(startProcessSpan(message, { guildId: "g", agentId: "b" }))).toBe(
      TRACEPARENT,
    );
  });

  it("a guild client's messages carry the caller's trace context, and none unasked", async () => {
    const bus = new MemoryBus();
    const client = connectGuildClient(bus, { guildId: "g", id: "app" });
    expect((await client.publish("t", 1)).traceparent).toBeUndefined();
    expect((await client.publish("t", 2, { traceparent: TRACEPARENT })).traceparent).toBe(
      TRACEPARENT,
    );
    await client.close();
  });

  it("traces host calls that change things, and reads only inside a trace", () => {
    expect(tracesHostCall("CreateAgent", ROOT_CONTEXT)).toBe(true);
    expect(tracesHostCall("ListAgents", ROOT_CONTEXT)).toBe(false);
    const inTrace = contextOfTraceparent(TRACEPARENT, ROOT_CONTEXT);
    expect(inTrace && tracesHostCall("ListAgents", inTrace)).toBe(true);
  });
});
