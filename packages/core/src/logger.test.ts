import { describe, expect, it } from "vitest";
import { createJsonLogger, withLogFields } from "./logger.js";

describe("createJsonLogger", () => {
  it("writes one JSON line per entry at or above its level", () => {
    const lines: string[] = [];
    const log = createJsonLogger({
      level: "warn",
      fields: { host: "h1" },
      write: (l) => lines.push(l),
    });
    log.debug("hidden");
    log.info("hidden");
    log.warn("careful", { agentId: "a" });
    log.error("broken", { host: "override" });
    expect(lines.every((l) => l.endsWith("\n"))).toBe(true);
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { level: 40, time: expect.any(Number) as number, host: "h1", agentId: "a", msg: "careful" },
      { level: 50, time: expect.any(Number) as number, host: "override", msg: "broken" },
    ]);
  });

  it("survives fields that are not JSON", () => {
    const lines: string[] = [];
    const log = createJsonLogger({ write: (l) => lines.push(l) });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    log.info("still written", { cyclic });
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ level: 30, msg: "still written" });
  });
});

describe("withLogFields", () => {
  it("adds fields to every entry", () => {
    const lines: string[] = [];
    const log = withLogFields(createJsonLogger({ level: "debug", write: (l) => lines.push(l) }), {
      agentId: "a",
    });
    log.debug("d");
    log.info("i", { extra: 1 });
    log.warn("w");
    log.error("e", { agentId: "mine" });
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([
      { msg: "d", agentId: "a" },
      { msg: "i", agentId: "a", extra: 1 },
      { msg: "w", agentId: "a" },
      { msg: "e", agentId: "mine" },
    ]);
  });
});
