import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { AgentSpec } from "@guildhall/core";
import {
  CreateAgentRequestSchema,
  RestartMode,
  StopAgentRequestSchema,
  agentSpecToProto,
} from "@guildhall/proto";
import { describe, expect, it } from "vitest";
import { createAgentRequest, stopAgentRequest } from "./proto-conversion.js";

describe("createAgentRequest", () => {
  it("carries every field of AgentSpec and the guild over the wire", () => {
    const spec: AgentSpec = {
      id: "twin-1",
      name: "Twin",
      description: "every field set",
      className: "/srv/agents/twin.js#Twin",
      properties: { greeting: "hi", nested: { list: [1, "two", null, true] } },
      additionalTopics: ["extra"],
      listenToDefaultTopic: false,
      restartPolicy: { mode: "on-failure", maxRestarts: 3, backoffMs: 250 },
      resources: { memoryMb: 256 },
    };
    const guild = {
      id: "g",
      name: "Guild",
      description: "d",
      organizationId: "org",
      defaultTopic: "chat",
      properties: { tier: "gold" },
    };
    const wire = fromBinary(
      CreateAgentRequestSchema,
      toBinary(CreateAgentRequestSchema, createAgentRequest(guild, spec)),
    );
    // What each field becomes is tested with the conversion, in @guildhall/proto.
    expect(wire.agent).toEqual(agentSpecToProto(spec));
    expect(wire.guild).toMatchObject({ ...guild, agents: [] });
  });

  it("leaves unset what the spec leaves unset, so hosts apply their defaults", () => {
    const wire = createAgentRequest(
      { id: "g", name: "G" },
      { id: "a", name: "A", className: "p#A" },
    );
    expect(wire.agent?.description).toBeUndefined();
    expect(wire.agent?.properties).toBeUndefined();
    expect(wire.agent?.listenToDefaultTopic).toBeUndefined();
    expect(wire.agent?.restartPolicy).toBeUndefined();
    expect(wire.agent?.resources).toBeUndefined();
    expect(wire.guild?.defaultTopic).toBeUndefined();
    for (const mode of ["always", "never"] as const) {
      const policy = createAgentRequest(
        { id: "g", name: "G" },
        {
          id: "a",
          name: "A",
          className: "p#A",
          restartPolicy: { mode },
        },
      ).agent?.restartPolicy;
      expect(policy?.mode).toBe(mode === "always" ? RestartMode.ALWAYS : RestartMode.NEVER);
      expect(policy?.maxRestarts).toBeUndefined();
    }
  });
});

describe("stopAgentRequest", () => {
  it("asks the host to delete the agent's state unless it is kept for a move", () => {
    const stop = fromBinary(
      StopAgentRequestSchema,
      toBinary(StopAgentRequestSchema, stopAgentRequest("g", "a")),
    );
    expect(stop).toMatchObject({ guildId: "g", agentId: "a", keepState: false });
    expect(stopAgentRequest("g", "a", { keepState: true }).keepState).toBe(true);
  });
});
