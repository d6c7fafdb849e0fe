// What a spawn needs to know: the agent's spec and the guild it runs in.
import type { AgentSpec } from "@guildhall/core";

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
