import { create } from "@bufbuild/protobuf";
import { GuildhallError, type AgentSpec } from "@guildhall/core";
import {
  AgentSpecSchema,
  CreateAgentRequestSchema,
  GuildSpecSchema,
  RestartMode,
  agentSpecToProto,
} from "@guildhall/proto";
import { describe, expect, it } from "vitest";
import { createAgentInputFromProto } from "./proto-conversion.js";

const guild = create(GuildSpecSchema, { id: "g1", name: "Guild" });

describe("proto conversion", () => {
  // Every field's trip over the wire is tested with the conversion, in @guildhall/proto.
  it("leaves unset fields out of a minimal spec and fills in the guild's default topic", () => {
    const minimal: AgentSpec = { id: "a", name: "A", className: "pkg#A" };
    const input = createAgentInputFromProto(
      create(CreateAgentRequestSchema, { guild, agent: agentSpecToProto(minimal) }),
    );
    expect(input.agent).toEqual(minimal);
    expect(input.guild).toEqual({ id: "g1", name: "Guild", defaultTopic: "default_topic" });
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
