// The location registry in this process's memory, for startLocalCluster and tests. It mirrors the
// Lua scripts step for step (each method runs without awaiting, so it is as atomic as a script)
// and passes the same contract suite as RedisLocationRegistry. Expiry is lazy: a record past its
// deadline is treated as absent and dropped when next touched, so no timers keep a process alive.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { GuildhallError, type AgentSpec } from "@guildhall/core";
import { agentMember, parseAgentMember } from "./keys.js";
import type {
  AgentLocation,
  AgentRegistration,
  DeregisterResult,
  DesiredAgent,
  GuildContext,
  HeartbeatResult,
  HostRegistration,
  HostStatus,
  LocationRegistry,
  LostAgent,
  Placement,
  ReconcilerLease,
  RegisteredAgent,
  RestoreResult,
  RestoredAgent,
  SetDesiredAgentOptions,
} from "./location-registry.js";
import { resolveMemoryOptions, type MemoryLocationRegistryOptions } from "./options.js";
import { findByName, hostLoad } from "./queries.js";
import { ScriptError, registrationError } from "./script-error.js";
import { byAddress, byAgentId, byGuildIdThenAgentId, byGuildThenAgent } from "./sort.js";
import {
  checkAddress,
  checkAgentSpec,
  checkDurationMs,
  checkEpoch,
  checkGuildContext,
  checkId,
  resolveHost,
  type HostDefaults,
  type ResolvedHost,
} from "./validate.js";

interface HostEntry extends ResolvedHost {
  expiresAt: number;
  draining: boolean;
  /** Agent member to the epoch the host holds it under. */
  readonly agents: Map<string, number>;
  /** Agent member to the epoch the host held before the agent moved away. */
  readonly lost: Map<string, number>;
}

interface AgentEntry {
  readonly guildId: string;
  readonly agentId: string;
  readonly hostAddress: string;
  readonly epoch: number;
  readonly spec: AgentSpec;
  expiresAt: number;
}

function closedError(): GuildhallError {
  return new GuildhallError(
    "unavailable",
    "the location registry is closed; create a new MemoryLocationRegistry to use it again",
  );
}

/**
 * A {@link LocationRegistry} held in this process: no Redis needed, nothing shared between
 * processes. It is what `startLocalCluster` uses, and it keeps the same contract as
 * {@link RedisLocationRegistry}, leases and TTLs included (measured on a monotonic clock).
 *
 * @example
 * ```ts
 * const registry = new MemoryLocationRegistry();
 * await registry.registerHost({ address: "127.0.0.1:50051", maxAgents: 10 });
 * ```
 */
export class MemoryLocationRegistry implements LocationRegistry {
  readonly #defaults: HostDefaults;
  readonly #hosts = new Map<string, HostEntry>();
  readonly #agents = new Map<string, AgentEntry>();
  readonly #guilds = new Map<string, Set<string>>();
  readonly #desired = new Map<string, Map<string, DesiredAgent>>();
  #lease: { token: string; expiresAt: number } | undefined;
  #epoch = 0;
  #closed = false;

  /** @throws GuildhallError `invalid-argument` if an option is invalid. */
  constructor(options: MemoryLocationRegistryOptions = {}) {
    this.#defaults = resolveMemoryOptions(options);
  }

  #open(): number {
    if (this.#closed) throw closedError();
    return performance.now();
  }

  #host(address: string, now: number): HostEntry | undefined {
    return this.#live(this.#hosts, address, now);
  }

  #agent(member: string, now: number): AgentEntry | undefined {
    return this.#live(this.#agents, member, now);
  }

  /** The entry under `key` unless it expired by `now`; an expired one is dropped (lazy expiry). */
  #live<T extends { readonly expiresAt: number }>(
    entries: Map<string, T>,
    key: string,
    now: number,
  ): T | undefined {
    const entry = entries.get(key);
    if (entry !== undefined && entry.expiresAt <= now) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Stores a location; like the scripts, never past its host's lease, so stored means live. */
  #store(agent: Omit<AgentEntry, "expiresAt">, host: HostEntry, now: number): void {
    const member = agentMember(agent.guildId, agent.agentId);
    const expiresAt = Math.min(now + host.agentTtlMs, host.expiresAt);
    this.#agents.set(member, { ...agent, expiresAt });
    host.agents.set(member, agent.epoch);
    host.lost.delete(member);
    let guild = this.#guilds.get(agent.guildId);
    if (guild === undefined) {
      guild = new Set<string>();
      this.#guilds.set(agent.guildId, guild);
    }
    guild.add(agent.agentId);
  }

  #remove(member: string, agent: AgentEntry): void {
    this.#agents.delete(member);
    const guild = this.#guilds.get(agent.guildId);
    guild?.delete(agent.agentId);
    if (guild?.size === 0) this.#guilds.delete(agent.guildId);
  }

  /** Removes the agents a host owns, as register-host and deregister-host do. */
  #dropAgents(host: HostEntry, now: number): number {
    let removed = 0;
    for (const [member, epoch] of host.agents) {
      const agent = this.#agent(member, now);
      if (agent !== undefined && agent.hostAddress === host.address && agent.epoch === epoch) {
        this.#remove(member, agent);
        removed++;
      }
    }
    return removed;
  }

  #newHost(resolved: ResolvedHost, now: number): HostEntry {
    return {
      ...resolved,
      expiresAt: now + resolved.leaseMs,
      agents: new Map(),
      lost: new Map(),
    };
  }

  async registerHost(host: HostRegistration): Promise<void> {
    const now = this.#open();
    const resolved = resolveHost(host, this.#defaults);
    const previous = this.#host(resolved.address, now);
    if (previous !== undefined) this.#dropAgents(previous, now);
    this.#hosts.set(resolved.address, this.#newHost(resolved, now));
  }

  async restoreHost(
    host: HostRegistration,
    agents: readonly RestoredAgent[],
  ): Promise<RestoreResult> {
    const now = this.#open();
    const resolved = resolveHost(host, this.#defaults);
    const checked = agents.map((agent) => ({
      guildId: checkId("guild id", agent.guildId),
      spec: checkAgentSpec(agent.spec),
      epoch: checkEpoch(agent.epoch),
    }));
    const current = this.#host(resolved.address, now);
    // A running lease is never shortened: the host's current locations must not outlive it.
    const expiresAt = Math.max(current?.expiresAt ?? 0, now + resolved.leaseMs);
    const entry: HostEntry =
      current === undefined
        ? this.#newHost(resolved, now)
        : Object.assign(current, resolved, { expiresAt });
    this.#hosts.set(resolved.address, entry);

    let restored = 0;
    const refused: LostAgent[] = [];
    for (const { guildId, spec, epoch } of checked) {
      const member = agentMember(guildId, spec.id);
      const existing = this.#agent(member, now);
      const accept =
        existing === undefined ||
        (existing.hostAddress === resolved.address && existing.epoch === epoch);
      if (accept) {
        this.#store(
          {
            guildId,
            agentId: spec.id,
            hostAddress: resolved.address,
            epoch,
            spec: structuredClone(spec),
          },
          entry,
          now,
        );
        this.#epoch = Math.max(this.#epoch, epoch);
        restored++;
      } else {
        if (entry.agents.get(member) === epoch) entry.agents.delete(member);
        refused.push({ guildId, agentId: spec.id, epoch, reason: "moved" });
      }
    }
    return { restored, refused: refused.sort(byGuildIdThenAgentId) };
  }

  async heartbeat(address: string): Promise<HeartbeatResult> {
    const now = this.#open();
    checkAddress(address);
    const host = this.#host(address, now);
    if (host === undefined) return { status: "unknown-host" };
    host.expiresAt = now + host.leaseMs;
    let renewed = 0;
    const lost: LostAgent[] = [];
    for (const [member, epoch] of host.agents) {
      const agent = this.#agent(member, now);
      if (agent !== undefined && agent.hostAddress === address && agent.epoch === epoch) {
        agent.expiresAt = Math.min(now + host.agentTtlMs, host.expiresAt);
        renewed++;
      } else {
        host.agents.delete(member);
        lost.push(lostAgent(member, epoch, agent === undefined ? "expired" : "moved"));
      }
    }
    for (const [member, epoch] of host.lost) lost.push(lostAgent(member, epoch, "moved"));
    host.lost.clear();
    return { status: "ok", renewed, lost: lost.sort(byGuildIdThenAgentId) };
  }

  async setHostDraining(address: string, draining: boolean): Promise<boolean> {
    const now = this.#open();
    checkAddress(address);
    const host = this.#host(address, now);
    if (host === undefined) return false;
    host.draining = draining;
    return true;
  }

  async deregisterHost(address: string): Promise<number> {
    const now = this.#open();
    checkAddress(address);
    const host = this.#host(address, now);
    if (host === undefined) return 0;
    const removed = this.#dropAgents(host, now);
    this.#hosts.delete(address);
    return removed;
  }

  async getHost(address: string): Promise<HostStatus | undefined> {
    const now = this.#open();
    checkAddress(address);
    const host = this.#host(address, now);
    return host === undefined ? undefined : hostStatus(host, now);
  }

  getHostLoad(address: string): Promise<number> {
    return hostLoad(this, address);
  }

  async listHosts(): Promise<HostStatus[]> {
    const now = this.#open();
    const live: HostStatus[] = [];
    for (const address of [...this.#hosts.keys()]) {
      const host = this.#host(address, now);
      if (host !== undefined) live.push(hostStatus(host, now));
    }
    return live.sort(byAddress);
  }

  async registerAgent(registration: AgentRegistration): Promise<Placement> {
    const now = this.#open();
    const guildId = checkId("guild id", registration.guildId);
    const spec = checkAgentSpec(registration.spec);
    const address = checkAddress(registration.hostAddress);
    const member = agentMember(guildId, spec.id);
    const host = this.#host(address, now);
    if (host === undefined) throw registrationError(ScriptError.HostNotRegistered, member, address);
    if (host.draining) throw registrationError(ScriptError.HostDraining, member, address);
    const previous = this.#agent(member, now);
    if (previous?.hostAddress !== address && host.agents.size >= host.maxAgents) {
      throw registrationError(ScriptError.HostFull, member, address);
    }
    const epoch = ++this.#epoch;
    if (previous !== undefined && previous.hostAddress !== address) {
      const old = this.#host(previous.hostAddress, now);
      const held = old?.agents.get(member);
      if (old !== undefined && held !== undefined) {
        old.agents.delete(member);
        old.lost.set(member, held);
      }
    }
    this.#store(
      { guildId, agentId: spec.id, hostAddress: address, epoch, spec: structuredClone(spec) },
      host,
      now,
    );
    if (previous === undefined) return { epoch };
    return { epoch, previous: { hostAddress: previous.hostAddress, epoch: previous.epoch } };
  }

  #visibleAgent(guildId: string, agentId: string): AgentEntry | undefined {
    const now = this.#open();
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    return this.#agent(agentMember(guildId, agentId), now);
  }

  async getLocation(guildId: string, agentId: string): Promise<AgentLocation | undefined> {
    const agent = this.#visibleAgent(guildId, agentId);
    return agent === undefined ? undefined : location(agent);
  }

  async getAgent(guildId: string, agentId: string): Promise<RegisteredAgent | undefined> {
    const agent = this.#visibleAgent(guildId, agentId);
    return agent === undefined ? undefined : registered(agent);
  }

  async deregisterAgent(
    guildId: string,
    agentId: string,
    epoch: number,
  ): Promise<DeregisterResult> {
    const now = this.#open();
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    checkEpoch(epoch);
    const member = agentMember(guildId, agentId);
    const agent = this.#agent(member, now);
    if (agent === undefined) return "not-found";
    if (agent.epoch !== epoch) return "stale-epoch";
    this.#remove(member, agent);
    const host = this.#host(agent.hostAddress, now);
    if (host?.agents.get(member) === epoch) host.agents.delete(member);
    return "deregistered";
  }

  #listGuild(guildId: string, name: string | undefined): RegisteredAgent[] {
    const now = this.#open();
    checkId("guild id", guildId);
    const ids = this.#guilds.get(guildId);
    if (ids === undefined) return [];
    const out: RegisteredAgent[] = [];
    for (const agentId of [...ids]) {
      const member = agentMember(guildId, agentId);
      const agent = this.#agent(member, now);
      if (agent === undefined) {
        ids.delete(agentId);
      } else if (name === undefined || agent.spec.name === name) {
        out.push(registered(agent));
      }
    }
    if (ids.size === 0) this.#guilds.delete(guildId);
    return out.sort(byAgentId);
  }

  async listGuildAgents(guildId: string): Promise<RegisteredAgent[]> {
    return this.#listGuild(guildId, undefined);
  }

  async findAgentsByName(guildId: string, name: string): Promise<RegisteredAgent[]> {
    this.#open();
    return findByName(guildId, name, (id, byName) => this.#listGuild(id, byName));
  }

  async setDesiredAgent(
    guild: GuildContext,
    spec: AgentSpec,
    options: SetDesiredAgentOptions = {},
  ): Promise<void> {
    this.#open();
    const context = checkGuildContext(guild);
    const checked = checkAgentSpec(spec);
    let agents = this.#desired.get(context.id);
    if (agents === undefined) {
      agents = new Map<string, DesiredAgent>();
      this.#desired.set(context.id, agents);
    }
    agents.set(
      checked.id,
      structuredClone({
        guild: context,
        spec: checked,
        ...(options.lazy === true && { lazy: true }),
      }),
    );
  }

  async removeDesiredAgent(guildId: string, agentId: string): Promise<boolean> {
    this.#open();
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    const agents = this.#desired.get(guildId);
    const removed = agents?.delete(agentId) ?? false;
    if (agents?.size === 0) this.#desired.delete(guildId);
    return removed;
  }

  async removeDesiredGuild(guildId: string): Promise<number> {
    this.#open();
    checkId("guild id", guildId);
    const count = this.#desired.get(guildId)?.size ?? 0;
    this.#desired.delete(guildId);
    return count;
  }

  async listDesiredAgents(guildId: string): Promise<DesiredAgent[]> {
    this.#open();
    checkId("guild id", guildId);
    const agents = [...(this.#desired.get(guildId)?.values() ?? [])];
    return structuredClone(agents).sort(byGuildThenAgent);
  }

  async getDesiredAgent(guildId: string, agentId: string): Promise<DesiredAgent | undefined> {
    this.#open();
    checkId("guild id", guildId);
    checkId("agent id", agentId);
    const desired = this.#desired.get(guildId)?.get(agentId);
    return desired === undefined ? undefined : structuredClone(desired);
  }

  async listAllDesiredAgents(): Promise<DesiredAgent[]> {
    this.#open();
    const all = [...this.#desired.values()].flatMap((agents) => [...agents.values()]);
    return structuredClone(all).sort(byGuildThenAgent);
  }

  async acquireReconcilerLease(leaseMs: number): Promise<ReconcilerLease | undefined> {
    const now = this.#open();
    checkDurationMs("leaseMs", leaseMs);
    if (this.#lease !== undefined && this.#lease.expiresAt > now) return undefined;
    const token = randomUUID();
    this.#lease = { token, expiresAt: now + leaseMs };
    return { token, leaseMs };
  }

  async renewReconcilerLease(lease: ReconcilerLease): Promise<boolean> {
    const now = this.#open();
    checkDurationMs("leaseMs", lease.leaseMs);
    if (!this.#holds(lease, now)) return false;
    this.#lease = { token: lease.token, expiresAt: now + lease.leaseMs };
    return true;
  }

  async releaseReconcilerLease(lease: ReconcilerLease): Promise<boolean> {
    const now = this.#open();
    if (!this.#holds(lease, now)) return false;
    this.#lease = undefined;
    return true;
  }

  async reconcilerActive(): Promise<boolean> {
    const now = this.#open();
    return this.#lease !== undefined && this.#lease.expiresAt > now;
  }

  #holds(lease: ReconcilerLease, now: number): boolean {
    return (
      this.#lease !== undefined && this.#lease.expiresAt > now && this.#lease.token === lease.token
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

function lostAgent(member: string, epoch: number, reason: LostAgent["reason"]): LostAgent {
  return { ...parseAgentMember(member), epoch, reason };
}

function hostStatus(host: HostEntry, now: number): HostStatus {
  return {
    address: host.address,
    maxAgents: host.maxAgents,
    load: host.agents.size,
    draining: host.draining,
    leaseMs: host.leaseMs,
    agentTtlMs: host.agentTtlMs,
    leaseRemainingMs: Math.max(0, host.expiresAt - now),
  };
}

function location(agent: AgentEntry): AgentLocation {
  return {
    guildId: agent.guildId,
    agentId: agent.agentId,
    hostAddress: agent.hostAddress,
    epoch: agent.epoch,
  };
}

function registered(agent: AgentEntry): RegisteredAgent {
  return { ...location(agent), spec: structuredClone(agent.spec) };
}
