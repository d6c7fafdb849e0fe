import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  agentSpecFromProto,
  agentSpecToProto,
  type AgentSpecFields,
} from "./agent-spec-conversion.js";
import { AgentSpecSchema, RestartMode } from "./gen/guildhall/agenthost/v1/agent_host_pb.js";

describe("AgentSpec conversion", () => {
  it("brings every field back after a trip over the wire", () => {
    const spec: AgentSpecFields = {
      id: "a.b-c_1",
      name: "Agent",
      description: "does things",
      className: "@acme/agents#Summarizer",
      properties: { n: 1.5, s: "x", b: true, nil: null, list: [1, { deep: ["y"] }], obj: {} },
      additionalTopics: ["t1", "t2"],
      listenToDefaultTopic: false,
      restartPolicy: { mode: "never", maxRestarts: 3, backoffMs: 100 },
      resources: { memoryMb: 256 },
    };
    const wire = fromBinary(AgentSpecSchema, toBinary(AgentSpecSchema, agentSpecToProto(spec)));
    expect(agentSpecFromProto(wire)).toEqual(spec);
    const minimal: AgentSpecFields = { id: "a", name: "A", className: "pkg#A" };
    expect(agentSpecFromProto(agentSpecToProto(minimal))).toEqual(minimal);
  });

  it("reads UNSPECIFIED as the host default and keeps an unknown mode for validation", () => {
    const base = { id: "a", name: "A", className: "pkg#A" };
    const bare = create(AgentSpecSchema, {
      ...base,
      restartPolicy: { mode: RestartMode.UNSPECIFIED },
    });
    expect(agentSpecFromProto(bare)["restartPolicy"]).toBeUndefined();
    const limited = create(AgentSpecSchema, {
      ...base,
      restartPolicy: { mode: RestartMode.UNSPECIFIED, maxRestarts: 2 },
    });
    expect(agentSpecFromProto(limited)["restartPolicy"]).toEqual({
      mode: "on-failure",
      maxRestarts: 2,
    });
    const unknown = create(AgentSpecSchema, { ...base, restartPolicy: { mode: 9 as RestartMode } });
    expect(agentSpecFromProto(unknown)["restartPolicy"]).toEqual({ mode: 9 });
  });
});
