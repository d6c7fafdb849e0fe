// Argument checks shared by the bus's messaging and agent-store sides: each throws
// `invalid-argument` naming the value and what would be accepted.
import {
  GuildhallError,
  checkId,
  isTopicPosition,
  validateMessage,
  type Message,
} from "@guildhall/core";

const MAX_TOPIC_LENGTH = 256;
/** The largest part of a Redis stream id: an unsigned 64-bit number. */
const MAX_ID_PART = 18_446_744_073_709_551_615n;

export function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", message);
}

export const checkGuildId = (guildId: unknown): string => checkId("guild id", guildId);
export const checkAgentId = (agentId: unknown): string => checkId("agent id", agentId);

export function checkTopic(topic: unknown): string {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw invalid(
      `topic ${JSON.stringify(topic)} is invalid: it must be a string of 1 to ${MAX_TOPIC_LENGTH} characters`,
    );
  }
  return topic;
}

/** A whole number from 1 up to what a double holds exactly (epochs, commit sequences). */
export function checkPositiveInteger(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(
      `${what} ${JSON.stringify(value)} is invalid: it must be a positive whole number`,
    );
  }
  return value;
}

/**
 * A position Redis accepts as a stream id, in its canonical form (no leading zeros), so that Lua
 * can compare positions as text; one Redis refused would fail a read or a script.
 */
export function checkPosition(what: string, value: unknown): string {
  if (isTopicPosition(value)) {
    const dash = value.indexOf("-");
    const ms = BigInt(value.slice(0, dash));
    const seq = BigInt(value.slice(dash + 1));
    if (ms <= MAX_ID_PART && seq <= MAX_ID_PART) return `${ms}-${seq}`;
  }
  throw invalid(
    `${what} ${JSON.stringify(value)} is invalid: it must be a topic position such as ` +
      '"1700000000000-0", as handlers receive with each message',
  );
}

/** The JSON a valid message is stored as; refuses one over `maxPayloadBytes`. */
export function encodeMessage(message: Message, maxPayloadBytes: number): string {
  const valid = validateMessage(message);
  const json = JSON.stringify(valid);
  const bytes = Buffer.byteLength(json);
  if (bytes > maxPayloadBytes) {
    throw invalid(
      `message ${valid.id} on topic "${valid.topic}" is ${bytes} bytes of JSON, over the bus ` +
        `limit of ${maxPayloadBytes} bytes (maxPayloadBytes); send a reference to large data (a URL, ` +
        "an object-store key) instead of the data itself",
    );
  }
  return json;
}
