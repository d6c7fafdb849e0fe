import type { HostStatus } from "@guildhall/registry";
import type { PlacementCandidate } from "./placement-strategy.js";

/** Options of {@link eligibleHosts}. */
export interface EligibleHostsOptions {
  /** Hosts not to consider, such as those that just refused this agent. */
  exclude?: ReadonlySet<string>;
  /** Placements in flight per host, added to its registry load. */
  inFlight?: ReadonlyMap<string, number>;
}

/**
 * The hosts that may take an agent now: discovered AND live in the registry (a discovered host
 * that never registered, or whose lease lapsed, is unknown and skipped), not draining, not full
 * (counting in-flight placements), not excluded.
 */
export function eligibleHosts(
  discovered: readonly string[],
  registered: readonly HostStatus[],
  options: EligibleHostsOptions = {},
): PlacementCandidate[] {
  const known = new Map(registered.map((h) => [h.address, h]));
  const candidates: PlacementCandidate[] = [];
  for (const address of discovered) {
    const host = known.get(address);
    if (host === undefined || host.draining || options.exclude?.has(address)) continue;
    const load = host.load + (options.inFlight?.get(address) ?? 0);
    if (load >= host.maxAgents) continue;
    candidates.push({ address, load, maxAgents: host.maxAgents });
  }
  return candidates;
}
