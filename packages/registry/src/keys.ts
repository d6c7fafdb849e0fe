// The Redis key layout (README "Key layout"). A key is the prefix, a type word, then ':' and an id
// or address if it has one. Type words contain no ':', so the first ':' after the prefix ends the
// word and an address such as "x:agents" can never make two keys collide. Lua scripts derive
// agent, guild and host keys from the same words; keep them in step with the scripts in lua/.

/** The member naming an agent in a host's agent hash, and the tail of its location key. */
export function agentMember(guildId: string, agentId: string): string {
  // Ids cannot contain '/', so the member is unambiguous (and is only ever split on '/').
  return `${guildId}/${agentId}`;
}

/** Splits an agent member back into its ids. */
export function parseAgentMember(member: string): { guildId: string; agentId: string } {
  const slash = member.indexOf("/");
  return { guildId: member.slice(0, slash), agentId: member.slice(slash + 1) };
}

/** Names every key of one registry. */
export class RegistryKeys {
  constructor(readonly prefix: string) {}

  /** String: the placement epoch counter, shared by all agents so epochs never repeat. */
  epoch(): string {
    return `${this.prefix}epoch`;
  }
  /** Hash: an agent's location and spec; expires with the agent TTL, never after its host's lease. */
  agent(guildId: string, agentId: string): string {
    return `${this.prefix}agent:${agentMember(guildId, agentId)}`;
  }
  /** Set: the agent ids registered in a guild; outlives its members' TTLs, pruned lazily. */
  guildAgents(guildId: string): string {
    return `${this.prefix}guild-agents:${guildId}`;
  }
  /** Hash: a host's record; expires with its lease. */
  host(address: string): string {
    return `${this.prefix}host:${address}`;
  }
  /** Hash: agent member to epoch for every agent a host owns; expires with its lease. */
  hostAgents(address: string): string {
    return `${this.prefix}host-agents:${address}`;
  }
  /** Hash: agent member to epoch for agents moved away from a host, until its next heartbeat. */
  hostLost(address: string): string {
    return `${this.prefix}host-lost:${address}`;
  }
  /** Set: addresses of registered hosts, so listing hosts needs no SCAN; pruned lazily. */
  hosts(): string {
    return `${this.prefix}hosts`;
  }
  /** Hash: agent id to desired agent JSON for one guild; never expires. */
  desired(guildId: string): string {
    return `${this.prefix}desired:${guildId}`;
  }
  /** Set: guild ids that have desired agents. */
  desiredGuilds(): string {
    return `${this.prefix}desired-guilds`;
  }
  /** String: the reconciler lease token; expires with the lease. */
  reconcilerLease(): string {
    return `${this.prefix}reconciler-lease`;
  }
}
