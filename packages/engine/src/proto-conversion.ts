// Conversions from the specs of @guildhall/core to the wire messages of @guildhall/proto, all in
// one file. protobuf-es v2 takes google.protobuf.Struct fields as plain JSON objects; proto3
// repeated fields cannot be absent, so an absent list travels as an empty one.
import { create } from "@bufbuild/protobuf";
import type { AgentSpec, GuildSpec, RestartPolicy } from "@guildhall/core";
import type { GuildContext } from "@guildhall/registry";
import {
  AgentSpecSchema,
  CreateAgentRequestSchema,
  GuildSpecSchema,
  RestartMode,
  StopAgentRequestSchema,
  type AgentSpec as ProtoAgentSpec,
  type CreateAgentRequest,
  type GuildSpec as ProtoGuildSpec,
  type StopAgentRequest,
} from "@guildhall/proto";

const MODES: Readonly<Record<RestartPolicy["mode"], RestartMode>> = {
  always: RestartMode.ALWAYS,
  "on-failure": RestartMode.ON_FAILURE,
  never: RestartMode.NEVER,
};

/** The proto AgentSpec of a core AgentSpec. */
export function agentSpecToProto(spec: AgentSpec): ProtoAgentSpec {
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
        mode: MODES[policy.mode],
        ...(policy.maxRestarts !== undefined && { maxRestarts: policy.maxRestarts }),
        ...(policy.backoffMs !== undefined && { backoffMs: policy.backoffMs }),
      },
    }),
    ...(spec.resources !== undefined && {
      resources: {
        ...(spec.resources.memoryMb !== undefined && { memoryMb: spec.resources.memoryMb }),
      },
    }),
  });
}

/** The proto GuildSpec of a guild; its agent list is left empty, since hosts ignore it. */
export function guildToProto(guild: GuildContext): ProtoGuildSpec {
  return create(GuildSpecSchema, {
    id: guild.id,
    name: guild.name,
    ...(guild.description !== undefined && { description: guild.description }),
    ...(guild.organizationId !== undefined && { organizationId: guild.organizationId }),
    ...(guild.defaultTopic !== undefined && { defaultTopic: guild.defaultTopic }),
    ...(guild.properties !== undefined && { properties: guild.properties }),
  });
}

/** The CreateAgent request that starts `spec` in `guild`. */
export function createAgentRequest(guild: GuildContext, spec: AgentSpec): CreateAgentRequest {
  return create(CreateAgentRequestSchema, {
    guild: guildToProto(guild),
    agent: agentSpecToProto(spec),
  });
}

/** The StopAgent request of one agent. */
export function stopAgentRequest(guildId: string, agentId: string): StopAgentRequest {
  return create(StopAgentRequestSchema, { guildId, agentId });
}

/** The guild of a GuildSpec without its agent list, as desired state records it. */
export function guildContextOf(guild: GuildSpec | GuildContext): GuildContext {
  const { agents: _agents, ...context } = guild as GuildSpec;
  return context;
}
