// The AgentSpec of @guildhall/core to and from its wire message, for engines that send it and hosts
// that read it. protobuf-es v2 takes google.protobuf.Struct fields as plain JSON objects; proto3
// repeated fields cannot be absent, so an absent list travels as an empty one. The input is typed
// by its shape rather than by core's type, so this package depends on nothing but protobuf-es.
import { create, type JsonObject } from "@bufbuild/protobuf";
import {
  AgentSpecSchema,
  RestartMode,
  type AgentSpec,
} from "./gen/guildhall/agenthost/v1/agent_host_pb.js";

/** The restart modes of an AgentSpec, as @guildhall/core names them. */
export type AgentSpecRestartMode = "always" | "on-failure" | "never";

/** The fields of a validated `AgentSpec` of @guildhall/core that travel on the wire. */
export interface AgentSpecFields {
  readonly id: string;
  readonly name: string;
  readonly className: string;
  readonly description?: string | undefined;
  readonly properties?: JsonObject | undefined;
  readonly additionalTopics?: readonly string[] | undefined;
  readonly listenToDefaultTopic?: boolean | undefined;
  readonly restartPolicy?:
    | {
        readonly mode: AgentSpecRestartMode;
        readonly maxRestarts?: number | undefined;
        readonly backoffMs?: number | undefined;
      }
    | undefined;
  readonly resources?: { readonly memoryMb?: number | undefined } | undefined;
  readonly hibernateAfterMs?: number | undefined;
}

const TO_MODE: Readonly<Record<AgentSpecRestartMode, RestartMode>> = {
  always: RestartMode.ALWAYS,
  "on-failure": RestartMode.ON_FAILURE,
  never: RestartMode.NEVER,
};

const FROM_MODE: Readonly<Record<number, AgentSpecRestartMode>> = {
  [RestartMode.ALWAYS]: "always",
  [RestartMode.ON_FAILURE]: "on-failure",
  [RestartMode.NEVER]: "never",
};

/** The wire message of a core AgentSpec: what an engine sends in CreateAgent. */
export function agentSpecToProto(spec: AgentSpecFields): AgentSpec {
  const policy = spec.restartPolicy;
  return create(AgentSpecSchema, {
    id: spec.id,
    name: spec.name,
    className: spec.className,
    additionalTopics: [...(spec.additionalTopics ?? [])],
    ...(spec.description !== undefined && { description: spec.description }),
    ...(spec.properties !== undefined && { properties: spec.properties }),
    ...(spec.listenToDefaultTopic !== undefined && {
      listenToDefaultTopic: spec.listenToDefaultTopic,
    }),
    ...(policy !== undefined && {
      restartPolicy: {
        mode: TO_MODE[policy.mode],
        ...(policy.maxRestarts !== undefined && { maxRestarts: policy.maxRestarts }),
        ...(policy.backoffMs !== undefined && { backoffMs: policy.backoffMs }),
      },
    }),
    ...(spec.resources !== undefined && {
      resources: {
        ...(spec.resources.memoryMb !== undefined && { memoryMb: spec.resources.memoryMb }),
      },
    }),
    ...(spec.hibernateAfterMs !== undefined && { hibernateAfterMs: spec.hibernateAfterMs }),
  });
}

/**
 * The fields of a wire AgentSpec as a plain object, not yet validated: give it to `AgentSpec` of
 * `@guildhall/core` to check. An empty list and an UNSPECIFIED restart mode become absent fields;
 * an unknown restart mode is kept as its number, so validation reports it.
 */
export function agentSpecFromProto(spec: AgentSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { id: spec.id, name: spec.name, className: spec.className };
  if (spec.description !== undefined) out["description"] = spec.description;
  if (spec.properties !== undefined) out["properties"] = spec.properties;
  if (spec.additionalTopics.length > 0) out["additionalTopics"] = [...spec.additionalTopics];
  if (spec.listenToDefaultTopic !== undefined) {
    out["listenToDefaultTopic"] = spec.listenToDefaultTopic;
  }
  const policy = spec.restartPolicy;
  if (policy !== undefined) {
    const rest: Record<string, unknown> = {};
    if (policy.maxRestarts !== undefined) rest["maxRestarts"] = policy.maxRestarts;
    if (policy.backoffMs !== undefined) rest["backoffMs"] = policy.backoffMs;
    if (policy.mode === RestartMode.UNSPECIFIED) {
      // UNSPECIFIED means the host default; with limits given, they refine that default mode.
      if (Object.keys(rest).length > 0) out["restartPolicy"] = { mode: "on-failure", ...rest };
    } else {
      out["restartPolicy"] = { mode: FROM_MODE[policy.mode] ?? policy.mode, ...rest };
    }
  }
  if (spec.resources?.memoryMb !== undefined) {
    out["resources"] = { memoryMb: spec.resources.memoryMb };
  }
  if (spec.hibernateAfterMs !== undefined) out["hibernateAfterMs"] = spec.hibernateAfterMs;
  return out;
}
