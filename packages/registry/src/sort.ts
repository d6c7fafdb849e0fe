// The orders listings come in, shared so both registries list alike. Ids and addresses compare by
// code unit, independent of locale.

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders agents by agent id. */
export function byAgentId(
  a: { readonly agentId: string },
  b: { readonly agentId: string },
): number {
  return compare(a.agentId, b.agentId);
}

/** Orders desired agents by guild id, then agent id. */
export function byGuildThenAgent(
  a: { readonly guild: { readonly id: string }; readonly spec: { readonly id: string } },
  b: { readonly guild: { readonly id: string }; readonly spec: { readonly id: string } },
): number {
  return compare(a.guild.id, b.guild.id) || compare(a.spec.id, b.spec.id);
}

/** Orders lost agents by guild id, then agent id. */
export function byGuildIdThenAgentId(
  a: { readonly guildId: string; readonly agentId: string },
  b: { readonly guildId: string; readonly agentId: string },
): number {
  return compare(a.guildId, b.guildId) || compare(a.agentId, b.agentId);
}

/** Orders hosts by address. */
export function byAddress(
  a: { readonly address: string },
  b: { readonly address: string },
): number {
  return compare(a.address, b.address);
}
