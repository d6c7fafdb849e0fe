// Which host gets the next agent. Strategies are pure choices over candidates that the engine has
// already filtered (see eligibleHosts), so they never do I/O and are easy to replace.

/** A host that may take an agent now: discovered, live in the registry, not draining, not full. */
export interface PlacementCandidate {
  /** The host's address, as discovered. */
  readonly address: string;
  /** Agents on the host, including any placements the caller has in flight. */
  readonly load: number;
  /** The most agents the host runs. */
  readonly maxAgents: number;
}

/** The agent being placed. */
export interface PlacementRequest {
  readonly guildId: string;
  readonly agentId: string;
}

/**
 * Chooses a host among eligible candidates. Implement it to place by your own rule (affinity,
 * zones, cost); return `undefined` to refuse every candidate.
 */
export interface PlacementStrategy {
  /** A short name for logs and metrics. */
  readonly name: string;
  /** Picks one of `candidates` (never empty) for `request`. */
  choose(candidates: readonly PlacementCandidate[], request: PlacementRequest): string | undefined;
}

/**
 * A cursor over addresses that survives hosts coming and going: the next choice is the first
 * address after the last one chosen, in sorted order, wrapping around.
 */
class Rotation {
  #last: string | undefined;

  next(addresses: readonly string[]): string | undefined {
    const sorted = [...addresses].sort();
    const pick = sorted.find((a) => this.#last === undefined || a > this.#last) ?? sorted[0];
    this.#last = pick;
    return pick;
  }
}

/** Each eligible host in turn. */
export function roundRobin(): PlacementStrategy {
  const rotation = new Rotation();
  return {
    name: "round-robin",
    choose: (candidates) => rotation.next(candidates.map((c) => c.address)),
  };
}

/**
 * The eligible host with the fewest agents relative to its capacity; hosts tied on load take
 * turns, so equal hosts fill evenly.
 */
export function leastLoaded(): PlacementStrategy {
  const rotation = new Rotation();
  return {
    name: "least-loaded",
    choose(candidates) {
      const fill = (c: PlacementCandidate): number => c.load / Math.max(c.maxAgents, 1);
      const lowest = Math.min(...candidates.map(fill));
      return rotation.next(candidates.filter((c) => fill(c) === lowest).map((c) => c.address));
    },
  };
}
