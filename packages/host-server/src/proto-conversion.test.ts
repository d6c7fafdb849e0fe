import { create } from "@bufbuild/protobuf";
import { GuildhallError, type AgentSpec } from "@guildhall/core";
import {
  AgentSpecSchema,
  CreateAgentRequestSchema,
  GuildSpecSchema,
  RestartMode,
} from "@guildhall/proto";
import { describe, expect, it } from "vitest";
import { agentSpecToProto, createAgentInputFromProto } from "./proto-conversion.js";

const guild = create(GuildSpecSchema, { id: "g1", name: "Guild" });

describe("proto conversion", () => {
  it("round-trips a full AgentSpec, Struct properties included", () => {
    const spec: AgentSpec = {
      id: "a.b-c_1",
      name: "Agent",
      description: "does things",
      className: "@acme/agents#Summarizer",
      properties: { n: 1.5, s: "x", b: true, nil: null, list: [1, { deep: ["y"] }], obj: {} },
      additionalTopics: ["t1", "t2"],
      listenToDefaultTopic: false,
      restartPolicy: { mode: "always", maxRestarts: 3, backoffMs: 100 },
      resources: { memoryMb: 256 },
    };
    const input = createAgentInputFromProto(
      create(CreateAgentRequestSchema, { guild, agent: agentSpecToProto(spec) }),
    );
    expect(input.agent).toEqual(spec);
    expect(input.guild).toEqual({ id: "g1", name: "Guild", defaultTopic: "default_topic" });
  });

  it("leaves unset fields out of a minimal spec", () => {
    const minimal: AgentSpec = { id: "a", name: "A", className: "pkg#A" };
    const input = createAgentInputFromProto(
      create(CreateAgentRequestSchema, { guild, agent: agentSpecToProto(minimal) }),
    );
    expect(input.agent).toEqual(minimal);
  });

  it("reads an UNSPECIFIED restart mode as the host default", () => {
    const agent = create(AgentSpecSchema, {
      id: "a",
      name: "A",
      className: "pkg#A",
      restartPolicy: { mode: RestartMode.UNSPECIFIED, maxRestarts: 2 },
    });
    const input = createAgentInputFromProto(create(CreateAgentRequestSchema, { guild, agent }));
    expect(input.agent.restartPolicy).toEqual({ mode: "on-failure", maxRestarts: 2 });
    const bare = create(AgentSpecSchema, {
      id: "a",
      name: "A",
      className: "pkg#A",
      restartPolicy: { mode: RestartMode.UNSPECIFIED },
    });
    expect(
      createAgentInputFromProto(create(CreateAgentRequestSchema, { guild, agent: bare })).agent
        .restartPolicy,
    ).toBeUndefined();
  });

  it("names the path of every bad field", () => {
    const agent = create(AgentSpecSchema, {
      id: "",
      name: "A",
      className: "no-hash",
      resources: { memoryMb: 1 },
    });
    let error: unknown;
    try {
      createAgentInputFromProto(
        create(CreateAgentRequestSchema, {
          guild: create(GuildSpecSchema, { id: "bad guild", name: "G", defaultTopic: "" }),
          agent,
        }),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GuildhallError);
    const message = (error as GuildhallError).message;
    expect((error as GuildhallError).code).toBe("invalid-argument");
    for (const path of [
      "guild.id",
      "guild.defaultTopic",
      "agent.id",
      "agent.className",
      "agent.resources.memoryMb",
    ]) {
      expect(message).toContain(`\n  ${path}: `);
    }
  });
});
