// Which agents a reconcile pass moves to even out the fleet (DESIGN section 14, optional): from the
// fullest host to the emptiest, by share of capacity, while they differ by more than a threshold.
// A new host joins empty, so a rolling update or a scale-up ends uneven until agents move.
import type { HostStatus } from "@guildhall/registry";

/** A desired agent that runs on a live host, and may be moved. */
export interface PlacedAgent {
  readonly guildId: string;
  readonly agentId: string;
  /** The host it runs on. */
  readonly host: string;
}

/** One move of a rebalance: `agent` to the host `to`. */
export interface RebalanceMove {
  readonly agent: PlacedAgent;
  readonly to: string;
}

/**
 * At most `limit` moves, each from the host fullest by share of its capacity to the emptiest,
 * among the live hosts that take agents (not draining), while their shares differ by more than
 * `threshold` (0 to 1). Each move is counted before the next is chosen. No move is made that
 * would leave the receiving host fuller than the giving one: it would only swap the two. Agents
 * come from `placed`, each host's in the order given.
 */
export function pickRebalanceMoves(
  hosts: readonly HostStatus[],
  placed: readonly PlacedAgent[],
  threshold: number,
  limit: number,
): RebalanceMove[] {
  const open = hosts.filter((h) => !h.draining && h.maxAgents > 0);
  const load = new Map(open.map((h) => [h.address, h.load]));
  const share = (h: HostStatus): number => (load.get(h.address) ?? 0) / h.maxAgents;
  const movable = new Map<string, PlacedAgent[]>();
  for (const agent of placed) {
    if (!load.has(agent.host)) continue;
    movable.set(agent.host, [...(movable.get(agent.host) ?? []), agent]);
  }
  const moves: RebalanceMove[] = [];
  while (moves.length < limit && open.length > 1) {
    const byShare = [...open].sort((a, b) => share(a) - share(b));
    const emptiest = byShare[0]!;
    const fullest = byShare[byShare.length - 1]!;
    const from = fullest.address;
    const to = emptiest.address;
    const fromLoad = load.get(from) ?? 0;
    const toLoad = load.get(to) ?? 0;
    if (share(fullest) - share(emptiest) <= threshold) break;
    if ((fromLoad - 1) / fullest.maxAgents < (toLoad + 1) / emptiest.maxAgents) break;
    if (toLoad >= emptiest.maxAgents) break;
    const agent = movable.get(from)?.shift();
    // Its agents are not the engine's to move (created on the host directly) or already chosen.
    if (agent === undefined) break;
    moves.push({ agent, to });
    load.set(from, fromLoad - 1);
    load.set(to, toLoad + 1);
  }
  return moves;
}
