// Picks a host for an agent and asks it to run the agent, host after host, until one does or no
// host is left to ask. What the engine records before and after is the engine's business.
import { GuildhallError, type AgentSpec } from "@guildhall/core";
import {
  eligibleHosts,
  type HostDiscovery,
  type PlacementCandidate,
  type PlacementStrategy,
} from "@guildhall/placement";
import type { GuildContext, HostStatus, LocationRegistry } from "@guildhall/registry";
import { toGuildhallError } from "./error-mapping.js";
import type { HostClients } from "./host-clients.js";
import type { PlacementRun } from "./placement-run.js";
import { createAgentRequest } from "./proto-conversion.js";
import { backoffDelayMs, placementAction, type ResolvedRetryOptions } from "./retry-policy.js";

/** Where a placed agent runs. */
export interface Placed {
  readonly address: string;
  readonly epoch: number;
}

/** Which hosts one placement may use, beyond what the placement strategy decides. */
export interface PlaceOptions {
  /** The registry's host list for the first attempt, when the caller already asked for it. */
  readonly hosts?: Promise<HostStatus[]>;
  /** Hosts never to ask (a move's source host). Default: none. */
  readonly exclude?: ReadonlySet<string>;
  /** Ask only this host (a move to a named host). Default: any eligible host. */
  readonly only?: string;
  /** Place the agent asleep (CreateAgent `lazy`): no process until its first message. Default false. */
  readonly lazy?: boolean;
}

/** What {@link AgentPlacer} reads and calls. */
export interface AgentPlacerOptions {
  readonly registry: LocationRegistry;
  readonly discovery: HostDiscovery;
  readonly placement: PlacementStrategy;
  readonly retry: ResolvedRetryOptions;
  readonly clients: HostClients;
}

/** Addresses for a message: `a, b`, or `none`. */
function listAddresses(addresses: Iterable<string>): string {
  const all = [...addresses];
  return all.length === 0 ? "none" : all.join(", ");
}

/**
 * Live hosts that are discovered, not draining and not excluded, whatever their load: asked when
 * the registry counts every host as full, since its count may lag behind agents that just stopped.
 */
function fullHosts(
  discovered: readonly string[],
  live: readonly HostStatus[],
  exclude: ReadonlySet<string>,
): PlacementCandidate[] {
  const known = new Map(live.map((h) => [h.address, h]));
  const out: PlacementCandidate[] = [];
  for (const address of discovered) {
    const host = known.get(address);
    if (host === undefined || host.draining || exclude.has(address)) continue;
    out.push({ address, load: host.load, maxAgents: host.maxAgents });
  }
  return out;
}

/** Places agents on hosts with CreateAgent, counting its own placements in flight as load. */
export class AgentPlacer {
  readonly #options: AgentPlacerOptions;
  /** Placements in flight, by host: counted as load until the host answers. */
  readonly #inFlight = new Map<string, number>();

  constructor(options: AgentPlacerOptions) {
    this.#options = options;
  }

  /**
   * Asks hosts chosen by the placement strategy until one runs the agent. A full host is never
   * asked twice; an unavailable one again only after every other host refused too.
   */
  async place(
    guild: GuildContext,
    spec: AgentSpec,
    run: PlacementRun,
    options: PlaceOptions = {},
  ): Promise<Placed> {
    const { registry, discovery, placement, retry, clients } = this.#options;
    await run.within(discovery.ready());
    const never = options.exclude ?? new Set<string>();
    const only = options.only;
    const excluded = new Set<string>(never);
    const refusals = new Map<string, GuildhallError>();
    let unavailable = 0;
    let reopened = false;
    let firstHosts = options.hosts;
    for (;;) {
      run.check();
      const discovered = discovery
        .hosts()
        .filter((address) => only === undefined || address === only);
      const live = await run.within(firstHosts ?? registry.listHosts());
      firstHosts = undefined;
      let candidates = eligibleHosts(discovered, live, {
        exclude: excluded,
        inFlight: this.#inFlight,
      });
      if (candidates.length === 0) candidates = fullHosts(discovered, live, excluded);
      if (candidates.length === 0) {
        // Hosts that were only unavailable (draining, restarting, unreachable) get one more round.
        const retriable = [...refusals].filter(
          ([address, e]) => e.code === "unavailable" && !never.has(address),
        );
        if (!reopened && retriable.length > 0) {
          reopened = true;
          for (const [address] of retriable) excluded.delete(address);
          continue;
        }
        throw noHostError(guild, spec, discovered, live, refusals);
      }
      reopened = false;
      const address = placement.choose(candidates, { guildId: guild.id, agentId: spec.id });
      if (address === undefined || !candidates.some((c) => c.address === address)) {
        throw new GuildhallError(
          "resource-exhausted",
          `cannot place agent "${spec.id}" of guild "${guild.id}": placement strategy "${placement.name}" chose none of the hosts ${listAddresses(candidates.map((c) => c.address))}`,
        );
      }
      this.#inFlight.set(address, (this.#inFlight.get(address) ?? 0) + 1);
      try {
        const response = await clients
          .get(address)
          .createAgent(createAgentRequest(guild, spec, options), {
            timeoutMs: run.remainingMs(),
            signal: run.signal,
          });
        return { address, epoch: Number(response.agent?.epoch ?? 0n) };
      } catch (thrown) {
        run.check();
        const error = toGuildhallError(thrown, { host: address, method: "CreateAgent" });
        const action = placementAction(error.code);
        if (action === "fail") {
          if (error.code === "deadline-exceeded") throw run.deadlineError(error);
          throw error;
        }
        excluded.add(address);
        refusals.set(address, error);
        if (action === "retry-elsewhere") {
          unavailable++;
          if (unavailable >= retry.maxAttempts) {
            throw noHostError(guild, spec, discovered, live, refusals);
          }
          await run.backoff(backoffDelayMs(unavailable - 1, retry));
        }
      } finally {
        const count = (this.#inFlight.get(address) ?? 1) - 1;
        if (count <= 0) this.#inFlight.delete(address);
        else this.#inFlight.set(address, count);
      }
    }
  }
}

/** Why no host runs the agent, in words that say what to do. */
function noHostError(
  guild: GuildContext,
  spec: AgentSpec,
  discovered: readonly string[],
  live: readonly HostStatus[],
  refusals: ReadonlyMap<string, GuildhallError>,
): GuildhallError {
  const what = `cannot place agent "${spec.id}" of guild "${guild.id}"`;
  if (refusals.size > 0) {
    const codes = new Set([...refusals.values()].map((e) => e.code));
    if (codes.size === 1 && codes.has("resource-exhausted")) {
      return new GuildhallError(
        "resource-exhausted",
        `${what}: every agent host is full (tried hosts ${listAddresses(refusals.keys())}); add hosts, or raise GUILDHALL_MAX_AGENTS (agents declared) or GUILDHALL_MAX_PROCESSES (agents awake)`,
      );
    }
    const reasons = [...refusals].map(([address, e]) =>
      e.code === "resource-exhausted" ? `${address}: full` : `${address}: ${e.message}`,
    );
    return new GuildhallError(
      "unavailable",
      `${what}: no agent host took it (tried hosts ${reasons.join("; ")}); check that the hosts run and are reachable, or add hosts`,
    );
  }
  if (discovered.length === 0) {
    return new GuildhallError(
      "unavailable",
      `${what}: discovery lists no agent hosts; start agent hosts (guildhall host) where the engine's discovery finds them`,
    );
  }
  const liveAddresses = new Set(live.map((h) => h.address));
  const registered = discovered.filter((a) => liveAddresses.has(a));
  if (registered.length === 0) {
    return new GuildhallError(
      "unavailable",
      `${what}: none of the discovered agent hosts (${listAddresses(discovered)}) is live in the location registry; check that they run and use the same registry (GUILDHALL_REDIS_URL) as this engine`,
    );
  }
  return new GuildhallError(
    "unavailable",
    `${what}: every agent host is draining (${listAddresses(registered)}); wait for the drain to end or add hosts`,
  );
}
