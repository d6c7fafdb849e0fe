// What a spawn needs to know, the agent's spec and the guild it runs in, and its validation.
import { AgentSpec, DEFAULT_TOPIC, GuildhallError, checkId } from "@guildhall/core";
import { describeIssues } from "./ipc-protocol.js";

/** The guild an agent runs in, as much of it as the agent process needs. */
export interface GuildContext {
  readonly id: string;
  readonly name: string;
  /** Where `send` without a topic goes. Default `"default_topic"`. */
  readonly defaultTopic?: string;
}

/** Asks for one agent process. */
export interface SpawnRequest {
  readonly guild: GuildContext;
  /** Validated again here; a bad spec fails with `invalid-argument`. */
  readonly agent: AgentSpec;
}

/** A spawn request that passed validation, its default topic filled in. */
export interface ValidSpawnRequest {
  readonly guild: Required<GuildContext>;
  readonly spec: AgentSpec;
}

/**
 * Checks a spawn request that may come from anywhere (a host's RPC, plain JavaScript).
 *
 * @throws GuildhallError `invalid-argument` saying what to fix
 */
export function validateSpawnRequest(request: SpawnRequest): ValidSpawnRequest {
  const guild = (request as Partial<SpawnRequest> | undefined)?.guild;
  if (typeof guild !== "object" || guild === null) {
    throw new GuildhallError("invalid-argument", "spawn needs { guild: { id, name }, agent }");
  }
  checkId("guild id", guild.id);
  if (typeof guild.name !== "string" || guild.name.length === 0 || guild.name.length > 256) {
    throw new GuildhallError("invalid-argument", "guild name must be 1 to 256 characters");
  }
  const defaultTopic = guild.defaultTopic ?? DEFAULT_TOPIC;
  if (typeof defaultTopic !== "string" || defaultTopic.length === 0 || defaultTopic.length > 256) {
    throw new GuildhallError("invalid-argument", "guild defaultTopic must be 1 to 256 characters");
  }
  const parsed = AgentSpec.safeParse(request.agent);
  if (!parsed.success) {
    throw new GuildhallError(
      "invalid-argument",
      `invalid agent spec: ${describeIssues(parsed.error)}; fix the spec`,
    );
  }
  return { guild: { id: guild.id, name: guild.name, defaultTopic }, spec: parsed.data };
}
