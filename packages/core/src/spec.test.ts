import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";
import { GuildSpec, MessagingConfig } from "./spec.js";
import type { AgentSpec } from "./spec.js";
import { validateAgentSpec, validateGuildSpec, validateMessagingConfig } from "./validation.js";

const agent: AgentSpec = { id: "echo", name: "Echo", className: "@acme/agents#Echo" };

/** The problem lines of a GuildhallError thrown by `run`. */
function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GuildhallError);
    expect((error as GuildhallError).code).toBe("invalid-argument");
    return (error as GuildhallError).message
      .split("\n")
      .slice(1)
      .map((line) => line.trim());
  }
  throw new Error("expected the value to be refused");
}

const agentProblems = (patch: Record<string, unknown>) =>
  problems(() => validateAgentSpec({ ...agent, ...patch }));

describe("AgentSpec", () => {
  it("accepts a minimal spec and a full one, unchanged", () => {
    expect(validateAgentSpec(agent)).toEqual(agent);
    const full: AgentSpec = {
      ...agent,
      description: "Echoes",
      className: "file:///srv/agents/echo.js#Echo",
      properties: { depth: 2, tags: ["a"], nested: { ok: true, none: null } },
      additionalTopics: ["news", "inbox:other"],
      listenToDefaultTopic: false,
      restartPolicy: { mode: "on-failure", maxRestarts: 0, backoffMs: 0 },
      resources: { memoryMb: 512 },
    };
    expect(validateAgentSpec(full)).toEqual(full);
  });

  it.each([
    ["", "id: must match ^[A-Za-z0-9]"],
    ["-leading-dash", "id: must match"],
    [".hidden", "id: must match"],
    ["has space", "id: must match"],
    ["slash/y", "id: must match"],
    ["colon:y", "id: must match"],
    ["x".repeat(129), "id: must match"],
    [42, "id: must be a string"],
  ])("refuses id %j", (id, expected) => {
    expect(agentProblems({ id })).toEqual([expect.stringContaining(expected)]);
  });

  it("accepts ids of 1 and 128 characters with . _ -", () => {
    expect(validateAgentSpec({ ...agent, id: "a" }).id).toBe("a");
    expect(validateAgentSpec({ ...agent, id: "A1._-" + "x".repeat(123) }).id).toHaveLength(128);
  });

  it.each([
    ["", "name: must not be empty"],
    ["n".repeat(257), "name: must be at most 256 characters long"],
    [undefined, "name: is required (expected string)"],
    [7, "name: expected string, received number"],
  ])("refuses name %j", (name, expected) => {
    expect(agentProblems({ name })).toEqual([expected]);
  });

  it.each([
    "no-hash",
    "#OnlyExport",
    "module#",
    "module#1Starts-with-digit",
    "module#Has-Dash",
    "mod ule#Space",
    "a#b#C",
  ])("refuses className %j", (className) => {
    expect(agentProblems({ className })).toEqual([
      expect.stringMatching(/^className: must be "<module>#<ExportName>"/),
    ]);
  });

  it.each(["./agents.js#Echo", "../agents.js#Echo"])(
    "refuses the relative className %j",
    (className) => {
      expect(agentProblems({ className })).toEqual([
        expect.stringMatching(/^className: must name a package, an absolute path or a file URL/),
      ]);
    },
  );

  it.each([
    "@acme/agents#Echo",
    "acme-agents/sub/path#Echo",
    "/srv/agents/index.js#Echo",
    "file:///srv/agents/index.js#Echo",
    "C:\\agents\\index.js#$Echo_2",
  ])("accepts className %j", (className) => {
    expect(validateAgentSpec({ ...agent, className }).className).toBe(className);
  });

  it.each([
    [{ mode: "sometimes" }, 'restartPolicy.mode: must be one of "always", "on-failure", "never"'],
    [{}, "restartPolicy.mode: must be one of"],
    [{ mode: "always", maxRestarts: -1 }, "restartPolicy.maxRestarts: must be at least 0"],
    [
      { mode: "always", maxRestarts: 1.5 },
      "restartPolicy.maxRestarts: expected int, received number",
    ],
    [
      { mode: "always", maxRestarts: 2_000_000 },
      "restartPolicy.maxRestarts: must be at most 1000000",
    ],
    [{ mode: "always", backoffMs: -5 }, "restartPolicy.backoffMs: must be at least 0"],
    [
      { mode: "always", backoffMs: "1s" },
      "restartPolicy.backoffMs: expected number, received string",
    ],
    [{ mode: "always", backoffMs: 3_600_001 }, "restartPolicy.backoffMs: must be at most 3600000"],
    [{ mode: "always", jitter: true }, "restartPolicy.jitter: unknown field"],
    ["always", "restartPolicy: expected object, received string"],
  ])("refuses restartPolicy %j", (restartPolicy, expected) => {
    expect(agentProblems({ restartPolicy })).toEqual([expect.stringContaining(expected)]);
  });

  it.each([
    [{ memoryMb: 8 }, "resources.memoryMb: must be at least 16"],
    [{ memoryMb: 100.5 }, "resources.memoryMb: expected int"],
    [{ memoryMb: 2_000_000 }, "resources.memoryMb: must be at most 1048576"],
    [{ memoryMb: "512Mi" }, "resources.memoryMb: expected number, received string"],
    [{ cpu: 1 }, "resources.cpu: unknown field"],
  ])("refuses resources %j", (resources, expected) => {
    expect(agentProblems({ resources })).toEqual([expect.stringContaining(expected)]);
  });

  it.each([
    [["ok", ""], "additionalTopics[1]: must be at least 1 characters long"],
    [["t".repeat(257)], "additionalTopics[0]: must be at most 256 characters long"],
    [[3], "additionalTopics[0]: expected string, received number"],
    ["news", "additionalTopics: expected array, received string"],
    [
      Array.from({ length: 257 }, (_, i) => `t${i}`),
      "additionalTopics: must have at most 256 items",
    ],
  ])("refuses additionalTopics %j", (additionalTopics, expected) => {
    expect(agentProblems({ additionalTopics })).toEqual([expect.stringContaining(expected)]);
  });

  it("refuses listenToDefaultTopic that is not a boolean", () => {
    expect(agentProblems({ listenToDefaultTopic: "yes" })).toEqual([
      "listenToDefaultTopic: expected boolean, received string",
    ]);
  });

  it("refuses properties that are not JSON", () => {
    expect(agentProblems({ properties: [1] })).toEqual([
      "properties: expected record, received array",
    ]);
    expect(agentProblems({ properties: { f: () => 1 } })).toEqual([
      expect.stringMatching(/^properties\.f: must be one of: string, number, boolean, null/),
    ]);
  });

  it("names unknown fields at their own path", () => {
    expect(agentProblems({ classname: "x#Y", "odd key": 1 })).toEqual([
      "classname: unknown field; check its spelling or remove it",
      '["odd key"]: unknown field; check its spelling or remove it',
    ]);
  });

  it("reports every problem at once", () => {
    expect(
      problems(() => validateAgentSpec({ id: "bad id", className: "x", restartPolicy: {} })),
    ).toHaveLength(4);
  });
});

describe("GuildSpec", () => {
  const guild = { id: "g1", name: "Guild", agents: [agent] };

  it("accepts a guild with every field", () => {
    const full: GuildSpec = {
      ...guild,
      description: "A guild",
      organizationId: "org-1",
      defaultTopic: "main",
      properties: { region: "eu" },
    };
    expect(validateGuildSpec(full)).toEqual(full);
    expect(GuildSpec.safeParse({ ...guild, agents: [] }).success).toBe(true);
  });

  it("names the path of a bad agent field", () => {
    const agents = [agent, { ...agent, id: "bad id" }];
    expect(problems(() => validateGuildSpec({ ...guild, agents }))).toEqual([
      expect.stringMatching(/^agents\[1\]\.id: must match \^\[A-Za-z0-9\]/),
    ]);
  });

  it("refuses duplicate agent ids, naming both", () => {
    const agents = [agent, { ...agent, id: "other" }, { ...agent, name: "Echo 2" }];
    expect(problems(() => validateGuildSpec({ ...guild, agents }))).toEqual([
      'agents[2].id: duplicate agent id "echo" (also agents[0].id): ids must be unique within a guild',
    ]);
  });

  it("reports duplicate ids together with other problems", () => {
    const agents = [agent, { ...agent, className: "nope" }];
    const lines = problems(() => validateGuildSpec({ ...guild, name: "", agents }));
    expect(lines).toEqual(
      expect.arrayContaining([
        "name: must not be empty",
        expect.stringMatching(/^agents\[1\]\.className:/),
        expect.stringMatching(/^agents\[1\]\.id: duplicate agent id "echo"/),
      ]),
    );
  });

  it.each([
    [{ id: "-x" }, "id: must match"],
    [{ name: "" }, "name: must not be empty"],
    [{ description: 5 }, "description: expected string, received number"],
    [{ organizationId: "" }, "organizationId: must be at least 1 characters long"],
    [{ defaultTopic: "" }, "defaultTopic: must be at least 1 characters long"],
    [{ agents: undefined }, "agents: is required (expected array)"],
    [{ agents: {} }, "agents: expected array, received object"],
    [{ properties: "x" }, "properties: expected record, received string"],
    [{ agentz: [] }, "agentz: unknown field"],
  ])("refuses %j", (patch, expected) => {
    expect(problems(() => validateGuildSpec({ ...guild, ...patch }))).toEqual([
      expect.stringContaining(expected),
    ]);
  });

  it("refuses something that is not an object", () => {
    expect(problems(() => validateGuildSpec(null))).toEqual([
      "(root): expected object, received null",
    ]);
  });

  it("names its source in the message", () => {
    expect(() => validateGuildSpec({}, { source: "guild.yaml" })).toThrow(
      /^guild\.yaml: invalid guild spec \(3 problems; fix these fields and try again\):/,
    );
  });
});

describe("MessagingConfig", () => {
  it("accepts memory and redis", () => {
    expect(MessagingConfig.parse({ backend: "memory" })).toEqual({ backend: "memory" });
    const redis = {
      backend: "redis",
      url: "rediss://cache:6380/0",
      prefix: "gh:",
      maxPayloadBytes: 1024,
    };
    expect(validateMessagingConfig(redis)).toEqual(redis);
  });

  it.each([
    [{ backend: "kafka" }, 'backend: must be one of "memory", "redis"'],
    [{}, 'backend: must be one of "memory", "redis"'],
    [{ backend: "redis" }, "url: is required (expected string)"],
    [{ backend: "redis", url: "http://x" }, 'url: must start with "redis://" or "rediss://"'],
    [
      { backend: "redis", url: "redis://x", maxPayloadBytes: 0 },
      "maxPayloadBytes: must be more than 0",
    ],
    [{ backend: "redis", url: "redis://x", prefix: "p".repeat(65) }, "prefix: must be at most 64"],
    [{ backend: "memory", url: "redis://x" }, "url: unknown field"],
  ])("refuses %j", (config, expected) => {
    expect(problems(() => validateMessagingConfig(config))).toEqual([
      expect.stringContaining(expected),
    ]);
  });

  it("says what a valid config looks like", () => {
    expect(() => validateMessagingConfig({ backend: "kafka" })).toThrow(
      /use \{ backend: "memory" \} or \{ backend: "redis", url: "redis:\/\/…" \}/,
    );
  });
});
