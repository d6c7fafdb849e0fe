// Every agent process imports @guildhall/core, so what that import loads is paid by every agent
// start. zod, yaml, node:crypto and the OpenTelemetry API load on first use instead
// (src/lazy-module.ts); this keeps it so.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AgentSpec, GuildSpec, Message, validateAgentSpec } from "@guildhall/core";

const IMPORT_CORE = fileURLToPath(new URL("./fixtures/import-core.mjs", import.meta.url));

describe("importing @guildhall/core", () => {
  it("loads neither zod, yaml, node:crypto nor the OpenTelemetry API", () => {
    const output = execFileSync(process.execPath, [IMPORT_CORE], { encoding: "utf8" });
    const loaded = JSON.parse(output) as string[];
    expect(loaded.some((url) => url.includes("/packages/core/"))).toBe(true);
    expect(
      loaded.filter((url) => /\/node_modules\/(zod|yaml|@opentelemetry\/api)\//.test(url)),
    ).toEqual([]);
    expect(loaded).not.toContain("node:crypto");
  });
});

describe("schemas built on first use", () => {
  it("are the zod schemas of the zod every other package imports", () => {
    expect(AgentSpec).toBeInstanceOf(z.ZodObject);
    expect(Message).toBeInstanceOf(z.ZodType);
    expect(Object.keys(AgentSpec.shape)).toContain("className");
    expect(GuildSpec.shape.agents.element.shape.id).toBe(AgentSpec.shape.id);
  });

  it("compose into other schemas", () => {
    const Batch = z.strictObject({ agents: z.array(AgentSpec).min(1) });
    const agent = { id: "a1", name: "A", className: "@acme/agents#A" };
    expect(Batch.parse({ agents: [agent] })).toEqual({ agents: [agent] });
    const bad = Batch.safeParse({ agents: [{ ...agent, id: "-bad" }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(["agents", 0, "id"]);
  });

  it("validate through the helpers as before", () => {
    expect(() => validateAgentSpec({ id: "a", name: "", className: "x#Y" })).toThrow(
      /name: must not be empty/,
    );
  });
});
