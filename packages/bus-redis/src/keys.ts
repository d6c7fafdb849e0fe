// Key layout (README "Key layout"). Every key of a guild carries the hash tag `{<guildId>}`, so on
// Redis Cluster a guild's streams, positions and agent records sit in one slot and a commit that
// touches several of them stays one script; guilds still spread over shards.
//
// Guild ids match ID_PATTERN (letters, digits, '.', '_', '-'): no ':', '{' or '}'. So the tag ends
// at the guild id, the ':' after it ends the guild part, and everything after that is the topic
// or agent id, whatever a topic contains (`inbox:agent-1` or braces included): two different
// (guild, topic) pairs never share a key. The prefix may hold no braces (options.ts), or it would
// become the tag. Type words (`bus`, `bus-agent`, `bus-cursors`, `bus-timers`) keep the bus apart
// from the registry's keys under the same prefix.

/** The hash tag shared by every key of guild `guildId`. */
function guildTag(guildId: string): string {
  return `{${guildId}}`;
}

/** Stream: one entry per message of `topic` in guild `guildId`; the guild id must be checked. */
export function streamKey(prefix: string, guildId: string, topic: string): string {
  return `${prefix}bus:${guildTag(guildId)}:${topic}`;
}

/**
 * Hash: a durable agent's record (`epoch`, `state`, `commits`, `topics`), or its tombstone
 * (`epoch`, `deleted`), which expires after `tombstoneTtlMs`.
 */
export function agentKey(prefix: string, guildId: string, agentId: string): string {
  return `${prefix}bus-agent:${guildTag(guildId)}:${agentId}`;
}

/**
 * Hash: a durable agent's pending timers, timer id to the timer's JSON (`{ id, dueAt, payload }`).
 * Apart from the record, so a commit or claim that involves no timer never reads or writes them.
 */
export function timersKey(prefix: string, guildId: string, agentId: string): string {
  return `${prefix}bus-timers:${guildTag(guildId)}:${agentId}`;
}

/** Hash: agent id to committed position, for the declared agents of `topic`; what trimming keeps. */
export function cursorsKey(prefix: string, guildId: string, topic: string): string {
  return `${prefix}bus-cursors:${guildTag(guildId)}:${topic}`;
}

/** The field of a stream entry that holds the message JSON. */
export const MESSAGE_FIELD = "m";
