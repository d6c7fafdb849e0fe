// Which agents of draining hosts a reconcile pass moves (DESIGN section 14): a few at a time, no
// more than the hosts that take new agents have room for, and taken from each draining host in
// turn, so one host with many agents does not hold up the drain of another.
import type { HostStatus } from "@guildhall/registry";

/** A desired agent that runs on a draining host. */
export interface AgentOnDrainingHost {
  readonly guildId: string;
  readonly agentId: string;
  /** The draining host it runs on. */
  readonly host: string;
}

/** How many more agents the live hosts that take new ones (not draining) have room for. */
export function spareCapacity(hosts: readonly HostStatus[]): number {
  let room = 0;
  for (const host of hosts) {
    if (!host.draining) room += Math.max(0, host.maxAgents - host.load);
  }
  return room;
}

/**
 * The agents to move in one pass: at most `limit`, taken from each draining host in turn (each
 * host's agents in the order given).
 */
export function pickDrainMoves(
  candidates: readonly AgentOnDrainingHost[],
  limit: number,
): AgentOnDrainingHost[] {
  const byHost = new Map<string, AgentOnDrainingHost[]>();
  for (const candidate of candidates) {
    const list = byHost.get(candidate.host);
    if (list === undefined) byHost.set(candidate.host, [candidate]);
    else list.push(candidate);
  }
  const queues = [...byHost.values()];
  const picked: AgentOnDrainingHost[] = [];
  for (let round = 0; picked.length < limit; round++) {
    let any = false;
    for (const queue of queues) {
      const next = queue[round];
      if (next === undefined) continue;
      any = true;
      picked.push(next);
      if (picked.length === limit) break;
    }
    if (!any) break;
  }
  return picked;
}
