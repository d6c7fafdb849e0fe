// The registry locations of a host's agents: each is registered under a new placement epoch and
// deregistered again; a deregistration the registry missed is retried on the next heartbeat.
import { GuildhallError, errorMessage, type AgentSpec } from "@guildhall/core";
import type { LocationRegistry } from "@guildhall/registry";
import type { Logger } from "pino";
import type { HostMetrics } from "./metrics.js";

/** What {@link AgentRegistrations} works with. */
export interface AgentRegistrationsDependencies {
  readonly registry: LocationRegistry;
  readonly metrics: HostMetrics;
  readonly logger: () => Logger;
  /** The host's advertised address. */
  readonly address: () => string;
  /** Makes the host known to the registry again now (a heartbeat, restoring if needed). */
  readonly recoverRegistration: () => Promise<void>;
}

/** A registry deregistration that failed and is retried on the next heartbeat. */
interface PendingDeregistration {
  readonly guildId: string;
  readonly agentId: string;
  readonly epoch: number;
}

/** Registers and deregisters the agents of one host. */
export class AgentRegistrations {
  readonly #deps: AgentRegistrationsDependencies;
  readonly #pending: PendingDeregistration[] = [];

  constructor(deps: AgentRegistrationsDependencies) {
    this.#deps = deps;
  }

  /**
   * Registers an agent on this host under a new epoch. A registry that forgot the host is told of
   * it again, once, before the agent is registered again.
   *
   * @throws GuildhallError `unavailable`, `resource-exhausted`, `invalid-argument`, in words for
   *   the engine's operator
   */
  async register(guildId: string, spec: AgentSpec): Promise<{ epoch: number }> {
    const { registry, metrics, address } = this.#deps;
    const attempt = () =>
      metrics.timeRegistry("register_agent", () =>
        registry.registerAgent({ guildId, spec, hostAddress: address() }),
      );
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof GuildhallError) || error.code !== "failed-precondition") {
        throw registryFailure(error, spec.id);
      }
    }
    // The registry forgot this host (lease lapsed, Redis restarted): announce it again, once.
    try {
      await this.#deps.recoverRegistration();
      return await attempt();
    } catch (error) {
      throw registryFailure(error, spec.id);
    }
  }

  /** Removes an agent's location of `epoch`; on failure it is retried by {@link retryFailed}. */
  async deregister(guildId: string, agentId: string, epoch: number): Promise<void> {
    try {
      const result = await this.#deps.metrics.timeRegistry("deregister_agent", () =>
        this.#deps.registry.deregisterAgent(guildId, agentId, epoch),
      );
      if (result === "stale-epoch") {
        this.#deps
          .logger()
          .info(
            { guild_id: guildId, agent_id: agentId, epoch },
            "agent was placed elsewhere since; its newer location is kept",
          );
      }
    } catch (error) {
      // A location left behind would be renewed by every heartbeat of this host: retry until gone.
      this.#pending.push({ guildId, agentId, epoch });
      this.#deps
        .logger()
        .warn(
          { guild_id: guildId, agent_id: agentId, epoch, err: errorMessage(error) },
          "deregistering agent failed; retrying on the next heartbeat",
        );
    }
  }

  /** Retries the deregistrations that failed, but not of locations the host `holds` again. */
  async retryFailed(
    holds: (guildId: string, agentId: string, epoch: number) => boolean,
  ): Promise<void> {
    const pending = this.#pending.splice(0);
    for (const { guildId, agentId, epoch } of pending) {
      if (holds(guildId, agentId, epoch)) continue;
      await this.deregister(guildId, agentId, epoch);
    }
  }
}

/** A registry failure while registering an agent, in words for the engine's operator. */
function registryFailure(error: unknown, agentId: string): GuildhallError {
  if (error instanceof GuildhallError) {
    switch (error.code) {
      case "failed-precondition":
        return new GuildhallError(
          "unavailable",
          `cannot register agent "${agentId}": the location registry does not know this host (${error.message}); the host registers again on its next heartbeat, so retry shortly or place the agent on another host`,
          { cause: error },
        );
      case "unavailable":
      case "resource-exhausted":
      case "invalid-argument":
        return error;
      default:
        break;
    }
  }
  return new GuildhallError(
    "unavailable",
    `cannot register agent "${agentId}" in the location registry: ${errorMessage(error)}; check that the registry (Redis) is reachable and retry`,
    { cause: error },
  );
}
