import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";
import { createMessage } from "./message.js";
import {
  formatPath,
  formatZodIssues,
  validateGuildReference,
  validateMessage,
} from "./validation.js";
import { AgentSpec } from "./spec.js";

describe("formatPath", () => {
  it("writes paths as JavaScript would", () => {
    expect(formatPath([])).toBe("");
    expect(formatPath(["agents", 1, "id"])).toBe("agents[1].id");
    expect(formatPath(["properties", "odd key", 0])).toBe('properties["odd key"][0]');
    expect(formatPath([3, "a"])).toBe("[3].a");
  });
});

describe("formatZodIssues", () => {
  it("makes one line per problem, unknown keys at their own path", () => {
    const result = AgentSpec.safeParse({ id: "x", name: "", className: "a#B", a: 1, b: 2 });
    expect(result.success).toBe(false);
    expect(formatZodIssues(result.error?.issues ?? [])).toEqual([
      "name: must not be empty",
      "a: unknown field; check its spelling or remove it",
      "b: unknown field; check its spelling or remove it",
    ]);
  });
});

describe("validateMessage", () => {
  const message = createMessage({ topic: "t", sender: { id: "me" }, payload: { a: [1, null] } });

  it("accepts a message made by createMessage", () => {
    expect(validateMessage(message)).toEqual(message);
  });

  it("names bad fields", () => {
    const bad = { ...message, sender: { id: "" }, timestamp: -1, payload: { n: Number.NaN } };
    const error = (() => {
      try {
        validateMessage(bad);
      } catch (e) {
        return e as GuildhallError;
      }
      throw new Error("expected a refusal");
    })();
    expect(error).toBeInstanceOf(GuildhallError);
    expect(error.message).toContain("sender.id: must be at least 1 characters long");
    expect(error.message).toContain("timestamp: must be at least 0");
    expect(error.message).toContain("payload: must be one of: string, number, boolean, null");
  });
});

describe("validateGuildReference", () => {
  it("checks id and defaultTopic only", () => {
    expect(validateGuildReference({ id: "g", agents: "not checked" })).toMatchObject({ id: "g" });
    expect(() => validateGuildReference({ id: "g", defaultTopic: "" })).toThrow(
      /defaultTopic: must be at least 1 characters long/,
    );
    expect(() => validateGuildReference({ name: "no id" })).toThrow(/id: is required/);
  });
});
