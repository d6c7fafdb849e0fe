// Whether an agent can move where it was asked to, judged from the registry's view of the hosts
// before anything is stopped: a move refused here changes nothing.
import { GuildhallError } from "@guildhall/core";
import { eligibleHosts } from "@guildhall/placement";
import type { HostStatus } from "@guildhall/registry";

/** The agent a move is about, for messages. */
export interface MovingAgent {
  readonly guildId: string;
  readonly agentId: string;
  /** The host it runs on now. */
  readonly from: string;
}

/** `a, b`, or `none`. */
function listAddresses(addresses: readonly string[]): string {
  return addresses.length === 0 ? "none" : addresses.join(", ");
}

/**
 * Checks that `toHost` (or, without it, some host other than the agent's own) can take the
 * agent: discovered, live, not draining, not full.
 *
 * @throws GuildhallError `invalid-argument` (`toHost` is where the agent runs, or is empty),
 *   `not-found` (`toHost` is no live agent host of this engine), `unavailable` (draining),
 *   `resource-exhausted` (full), `failed-precondition` (no other host at all)
 */
export function checkMoveTarget(
  agent: MovingAgent,
  toHost: string | undefined,
  discovered: readonly string[],
  live: readonly HostStatus[],
): void {
  const what = `cannot move agent "${agent.agentId}" of guild "${agent.guildId}" from host ${agent.from}`;
  const liveByAddress = new Map(live.map((h) => [h.address, h]));
  const known = discovered.filter((address) => liveByAddress.has(address));
  const others = known.filter((address) => address !== agent.from);
  if (toHost !== undefined) {
    if (toHost === agent.from) {
      throw new GuildhallError(
        "invalid-argument",
        `${what}: it already runs on host ${toHost}; name another host, or none to let placement choose`,
      );
    }
    const host = liveByAddress.get(toHost);
    if (host === undefined || !discovered.includes(toHost)) {
      throw new GuildhallError(
        "not-found",
        `${what} to host ${toHost}: no live agent host has that address (live hosts: ${listAddresses(known)}); name one of them as it registered`,
      );
    }
    if (host.draining) {
      throw new GuildhallError(
        "unavailable",
        `${what} to host ${toHost}: that host is draining and takes no new agents; choose another host`,
      );
    }
    if (host.load >= host.maxAgents) {
      throw new GuildhallError(
        "resource-exhausted",
        `${what} to host ${toHost}: that host is full (${host.load} of ${host.maxAgents} agents); choose another host or raise its GUILDHALL_MAX_AGENTS`,
      );
    }
    return;
  }
  if (eligibleHosts(discovered, live, { exclude: new Set([agent.from]) }).length > 0) return;
  if (others.length === 0) {
    throw new GuildhallError(
      "failed-precondition",
      `${what}: there is no other live agent host to move it to (live hosts: ${listAddresses(known)}); start another host first`,
    );
  }
  const open = others.filter((address) => liveByAddress.get(address)?.draining === false);
  if (open.length === 0) {
    throw new GuildhallError(
      "unavailable",
      `${what}: every other agent host is draining (${listAddresses(others)}); wait for the drain to end or add hosts`,
    );
  }
  throw new GuildhallError(
    "resource-exhausted",
    `${what}: every other agent host is full (${listAddresses(open)}); add hosts or raise GUILDHALL_MAX_AGENTS`,
  );
}
