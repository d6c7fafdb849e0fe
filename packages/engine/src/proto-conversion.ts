// The requests the engine sends to hosts, built from the specs of @guildhall/core. The AgentSpec
// conversion itself lives in @guildhall/proto; protobuf-es v2 takes google.protobuf.Struct fields
// as plain JSON objects.
import { create } from "@bufbuild/protobuf";
import type { AgentSpec, GuildSpec } from "@guildhall/core";
import type { GuildContext } from "@guildhall/registry";
import {
  CreateAgentRequestSchema,
  GuildSpecSchema,
  StopAgentRequestSchema,
  agentSpecToProto,
  type CreateAgentRequest,
  type GuildSpec as ProtoGuildSpec,
  type StopAgentRequest,
} from "@guildhall/proto";

/** The proto GuildSpec of a guild; its agent list is left empty, since hosts ignore it. */
function guildToProto(guild: GuildContext): ProtoGuildSpec {
  return create(GuildSpecSchema, {
    id: guild.id,
    name: guild.name,
    ...(guild.description !== undefined && { description: guild.description }),
    ...(guild.organizationId !== undefined && { organizationId: guild.organizationId }),
    ...(guild.defaultTopic !== undefined && { defaultTopic: guild.defaultTopic }),
    ...(guild.properties !== undefined && { properties: guild.properties }),
  });
}

/** The CreateAgent request that starts `spec` in `guild`, or with `lazy` declares it asleep. */
export function createAgentRequest(
  guild: GuildContext,
  spec: AgentSpec,
  options: { lazy?: boolean | undefined } = {},
): CreateAgentRequest {
  return create(CreateAgentRequestSchema, {
    guild: guildToProto(guild),
    agent: agentSpecToProto(spec),
    lazy: options.lazy === true,
  });
}

/**
 * The StopAgent request of one agent. By default the host deletes the agent's durable state
 * with it; `keepState` keeps it for the agent's next host (a move).
 */
export function stopAgentRequest(
  guildId: string,
  agentId: string,
  options: { keepState?: boolean } = {},
): StopAgentRequest {
  return create(StopAgentRequestSchema, {
    guildId,
    agentId,
    keepState: options.keepState === true,
  });
}

/** The guild of a GuildSpec without its agent list, as desired state records it. */
export function guildContextOf(guild: GuildSpec | GuildContext): GuildContext {
  const { agents: _agents, ...context } = guild as GuildSpec;
  return context;
}
