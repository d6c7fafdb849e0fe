// Key layout: one stream per (guild, topic), `<prefix>bus:<guildId>:<topic>`.
//
// Guild ids match ID_PATTERN (letters, digits, '.', '_', '-'), which has no ':', so the first ':'
// after `<prefix>bus:` always ends the guild id and everything after it is the topic, whatever the
// topic contains (`inbox:agent-1` included). Two different (guild, topic) pairs therefore never
// share a key. The `bus:` segment keeps the streams apart from the registry's keys under the same
// prefix.

/** The stream key of `topic` in guild `guildId`; the guild id must already be checked. */
export function streamKey(prefix: string, guildId: string, topic: string): string {
  return `${prefix}bus:${guildId}:${topic}`;
}

/** The field of a stream entry that holds the message JSON. */
export const MESSAGE_FIELD = "m";
