// The state each start of an agent begins with, asked of the host through the `prepareStart`
// option and checked before it goes to the agent process.
import { errorMessage, GuildhallError, jsonProblem, type JsonValue } from "@guildhall/core";
import type { DurableState, PrepareStartHandler, StartingAgent } from "./manager-options.js";

/**
 * The stored state `agent` starts with: what `prepare` resolved with, or `undefined` when nothing
 * is stored (or there is no `prepare`).
 *
 * @throws GuildhallError the one `prepare` rejected with; `internal` for any other rejection or for
 *   a result that is not `{ state?: { value } }` holding JSON
 */
export async function prepareStart(
  prepare: PrepareStartHandler | undefined,
  agent: StartingAgent,
): Promise<DurableState | undefined> {
  if (prepare === undefined) return undefined;
  let prepared: unknown;
  try {
    prepared = await prepare(agent);
  } catch (error) {
    if (error instanceof GuildhallError) throw error;
    throw new GuildhallError(
      "internal",
      `prepareStart failed for agent "${agent.agentId}" of guild "${agent.guildId}": ${errorMessage(error)}`,
    );
  }
  const state = (prepared as { state?: unknown } | null | undefined)?.state;
  if (state === undefined) return undefined;
  // Checked here, not left to the runner, which would ignore the start and let it time out. A
  // plain walk rather than the schema: zod takes a tenth of a second over a megabyte of state.
  const wrapped = typeof state === "object" && state !== null && "value" in state;
  const value: unknown = wrapped ? state.value : undefined;
  const problem = wrapped ? jsonProblem(value, "state.value") : "state is not { value }";
  if (problem !== undefined) {
    throw new GuildhallError(
      "internal",
      `prepareStart resolved with an invalid state for agent "${agent.agentId}" of guild "${agent.guildId}" (${problem}); resolve with { state: { value } } holding JSON, or with {} when nothing is stored`,
    );
  }
  return { value: value as JsonValue };
}
