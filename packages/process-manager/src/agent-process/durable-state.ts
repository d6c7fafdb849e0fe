// The runner's side of an agent's durable state (DESIGN section 12): what the host last committed,
// and whether a handler changed it. The runner compares JSON text because that is what the host
// stores: two states that serialise alike are the same state, whatever objects hold them.
import { encodeAgentState, type JsonValue } from "@guildhall/core";
import type { DurableState } from "../manager-options.js";

/**
 * The state an agent last committed, as JSON text, and the checks each handler's result goes
 * through before it replaces it (those of @guildhall/core, so that an agent gets the same errors
 * in-process and in its own process).
 */
export class CommittedState {
  readonly #agentId: string;
  readonly #maxBytes: number;
  #text: string | undefined;

  /**
   * @param committed the stored state, or `undefined` when nothing is stored yet (the first
   *   result is then reported whatever it is, so that it gets stored)
   */
  constructor(agentId: string, maxBytes: number, committed: string | undefined) {
    this.#agentId = agentId;
    this.#maxBytes = maxBytes;
    this.#text = committed;
  }

  /**
   * Takes what a handler left as committed, and returns it when it differs from what was.
   *
   * @throws GuildhallError `invalid-argument` when it is not JSON or its JSON is over the limit;
   *   the committed state stays as it was
   */
  commit(state: unknown): DurableState | undefined {
    const text = encodeAgentState(this.#agentId, state, this.#maxBytes);
    if (text === this.#text) return undefined;
    this.#text = text;
    return { value: state as JsonValue };
  }

  /** A fresh copy of the committed state, for an agent whose handler's changes are dropped. */
  restore(): JsonValue {
    return JSON.parse(this.#text ?? "null") as JsonValue;
  }
}
