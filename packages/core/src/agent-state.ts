// Turning an agent's state into the JSON text a commit stores, and back, with the errors a user
// needs when it cannot be: the state is the agent's memory, so a refusal names the agent, what was
// wrong and the limit, and corrupt stored bytes are never overwritten.
import { GuildhallError, errorMessage } from "./errors.js";
import type { JsonValue } from "./message.js";

/** The default largest agent state, in bytes of its JSON (1 MiB). */
export const DEFAULT_MAX_STATE_BYTES = 1_048_576;

/** Why `value` is not plain JSON, with the path to the offending part; `undefined` when it is. */
export function jsonProblem(
  value: unknown,
  path = "state",
  seen = new Set<object>(),
): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
    case "object": {
      if (value === null) return undefined;
      if (seen.has(value)) return `${path} refers back to itself (a cycle)`;
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const problem = jsonProblem(value[i], `${path}[${i}]`, seen);
            if (problem !== undefined) return problem;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(value) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          const name =
            (value as { constructor?: { name?: string } }).constructor?.name ?? "an object";
          return `${path} is a ${name}, not a plain object`;
        }
        for (const [key, item] of Object.entries(value)) {
          const problem = jsonProblem(item, `${path}.${key}`, seen);
          if (problem !== undefined) return problem;
        }
        return undefined;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return `${path} is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}, which JSON cannot hold`;
  }
}

/**
 * The JSON text of an agent's state.
 *
 * @throws GuildhallError `invalid-argument` when the state is not plain JSON, or its JSON is over
 *   `maxStateBytes`; the message names the agent, the size and the limit.
 */
export function encodeAgentState(agentId: string, state: unknown, maxStateBytes: number): string {
  const problem = jsonProblem(state);
  if (problem !== undefined) {
    throw new GuildhallError(
      "invalid-argument",
      `agent "${agentId}" state is not JSON: ${problem}; keep only plain objects, arrays, strings, finite numbers, booleans and null in it`,
    );
  }
  const text = JSON.stringify(state);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxStateBytes) {
    throw new GuildhallError(
      "invalid-argument",
      `agent "${agentId}" state is ${bytes.toLocaleString("en-US")} bytes of JSON, over the limit of ${maxStateBytes.toLocaleString("en-US")} (maxStateBytes); keep large data outside the agent state`,
    );
  }
  return text;
}

/**
 * The state stored as `text`.
 *
 * @throws GuildhallError `failed-precondition` when the stored bytes are not JSON; they are left
 *   as they are, for inspection.
 */
export function decodeAgentState(guildId: string, agentId: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new GuildhallError(
      "failed-precondition",
      `the stored state of agent "${agentId}" in guild "${guildId}" is not JSON (${errorMessage(error)}); the agent cannot start until it is repaired or the agent is stopped (which deletes it). The stored bytes are kept as they are for inspection`,
    );
  }
}
