// StopAgent on an agent's host with the engine's retry policy, for a stop and for the first half
// of a move: an unavailable host is asked again after a backoff, and an answer that says the host
// does not run the agent counts as stopped. What to do when the host cannot be made to stop it
// differs between the two, so the last error is handed back rather than thrown.
import type { GuildhallError } from "@guildhall/core";
import type { AgentLocation } from "@guildhall/registry";
import { toGuildhallError } from "./error-mapping.js";
import type { HostClients } from "./host-clients.js";
import { stopAgentRequest } from "./proto-conversion.js";
import { backoffDelayMs, stopAction, type ResolvedRetryOptions } from "./retry-policy.js";

/** What {@link stopOnHost} calls with. */
export interface StopOnHostOptions {
  readonly clients: HostClients;
  readonly retry: ResolvedRetryOptions;
  readonly rpcTimeoutMs: number;
  /** Keep the agent's durable state and positions for its next copy (a move). */
  readonly keepState?: boolean;
}

/**
 * Stops the agent at `location`. Resolves with `undefined` once the host stopped it or said it
 * does not run it, and with the last error when the host refused or stayed unreachable: the agent
 * may then still run there.
 */
export async function stopOnHost(
  location: AgentLocation,
  options: StopOnHostOptions,
): Promise<GuildhallError | undefined> {
  const { guildId, agentId, hostAddress } = location;
  const { clients, retry, rpcTimeoutMs, keepState = false } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      await clients
        .get(hostAddress)
        .stopAgent(stopAgentRequest(guildId, agentId, { keepState }), { timeoutMs: rpcTimeoutMs });
      return undefined;
    } catch (thrown) {
      const error = toGuildhallError(thrown, { host: hostAddress, method: "StopAgent" });
      const action = stopAction(error.code);
      if (action === "done") return undefined;
      if (action !== "retry" || attempt >= retry.maxAttempts) return error;
      await new Promise((resolve) => setTimeout(resolve, backoffDelayMs(attempt - 1, retry)));
    }
  }
}
