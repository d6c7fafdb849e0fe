// The parts of two LocationRegistry queries that need no backend, so both registries answer them
// alike: what an empty name finds, and a host's load from its status.
import type { HostStatus, LocationRegistry, RegisteredAgent } from "./location-registry.js";
import { checkId } from "./validate.js";

/**
 * `findAgentsByName` on top of a registry's own listing by name. No spec has an empty name (the
 * schema refuses one), so `""` (or a non-string from plain JavaScript) finds nothing without a
 * lookup; the guild id is still checked, so a bad one is refused whatever the name. The caller
 * checks that it is open first, so a closed registry refuses this call like every other.
 *
 * @throws GuildhallError `invalid-argument` for a malformed guild id
 */
export async function findByName(
  guildId: string,
  name: string,
  list: (guildId: string, name: string) => RegisteredAgent[] | Promise<RegisteredAgent[]>,
): Promise<RegisteredAgent[]> {
  if (typeof name !== "string" || name === "") {
    checkId("guild id", guildId);
    return [];
  }
  return list(guildId, name);
}

/** `getHostLoad`: the host's load from its status; 0 when it is not live. */
export async function hostLoad(
  registry: Pick<LocationRegistry, "getHost">,
  address: string,
): Promise<number> {
  const host: HostStatus | undefined = await registry.getHost(address);
  return host?.load ?? 0;
}
