// The contract every location registry keeps (DESIGN sections 6, 7 and 9). Agent hosts register
// themselves and their agents and heartbeat; the engine looks agents up, lists guilds and records
// desired state; one reconciler at a time heals what hosts lost. RedisLocationRegistry and
// MemoryLocationRegistry both pass one contract test suite against this interface.
import type { AgentSpec, GuildSpec } from "@guildhall/core";

/**
 * An agent host as it announces itself.
 *
 * The address is opaque: `10.0.0.7:50051`, `[::1]:50051` and `host-a:2` are three hosts, and
 * nothing ever splits an address on `:`.
 */
export interface HostRegistration {
  /** Where the host serves the agent host API, exactly as engines dial it. */
  readonly address: string;
  /** How many agents the host runs at most; registrations beyond it are refused. */
  readonly maxAgents: number;
  /**
   * How long the host stays alive without a heartbeat, in milliseconds. When it lapses the host
   * and all its agents become invisible. Default: the registry's `hostLeaseMs`.
   */
  readonly leaseMs?: number;
  /**
   * How long each agent location lives without a heartbeat, in milliseconds; capped at `leaseMs`,
   * since a location never outlives its host's lease. Default: the registry's `agentTtlMs`, or
   * the lease.
   */
  readonly agentTtlMs?: number;
  /** Whether the host takes no new agents. Default false. */
  readonly draining?: boolean;
}

/** A live host as the registry sees it. */
export interface HostStatus {
  /** The address the host registered with, unchanged. */
  readonly address: string;
  /** The most agents the host takes. */
  readonly maxAgents: number;
  /** Agents registered at the host. */
  readonly load: number;
  /** Whether the host takes no new agents. */
  readonly draining: boolean;
  /** The host's lease, in milliseconds. */
  readonly leaseMs: number;
  /** The TTL of the host's agent locations, in milliseconds (at most `leaseMs`). */
  readonly agentTtlMs: number;
  /**
   * How much of the host's lease was left when the registry answered, in milliseconds: unless
   * the host heartbeats, it and its agents count as dead this long afterwards. A reconciler
   * wakes up then instead of polling.
   */
  readonly leaseRemainingMs: number;
}

/** What {@link LocationRegistry.registerAgent} needs. */
export interface AgentRegistration {
  /** The guild the agent belongs to. An agent is identified by its guild id and its agent id. */
  readonly guildId: string;
  /** The agent's full spec, kept so that guild listings need no host. */
  readonly spec: AgentSpec;
  /** The host that runs the agent; it must be registered, live and not draining. */
  readonly hostAddress: string;
}

/** Where an agent runs, and under which placement. */
export interface AgentLocation {
  /** The agent's guild. */
  readonly guildId: string;
  /** The agent's id within its guild. */
  readonly agentId: string;
  /** The host that runs it, as the host registered its address. */
  readonly hostAddress: string;
  /**
   * The placement epoch: strictly increasing per agent across every registration, move and
   * restore. Deregistration and host heartbeats are fenced by it, so a host that lost an agent
   * can neither refresh nor delete the agent's newer location.
   */
  readonly epoch: number;
}

/** A live agent with its full spec. */
export interface RegisteredAgent extends AgentLocation {
  /** The spec it was registered with. */
  readonly spec: AgentSpec;
}

/** The outcome of a registration. */
export interface Placement {
  /** The new placement epoch; hand it to whatever will deregister the agent. */
  readonly epoch: number;
  /**
   * The placement this one replaced, if the agent was registered before (on this or another
   * host). Its host learns about the move on its next heartbeat; an engine may tell it sooner.
   */
  readonly previous?: { readonly hostAddress: string; readonly epoch: number };
}

/** The outcome of {@link LocationRegistry.deregisterAgent}. */
export type DeregisterResult =
  /** The location was removed. */
  | "deregistered"
  /** The agent is registered under another epoch (it moved, or was registered again): nothing was removed. */
  | "stale-epoch"
  /** No live location exists for the agent. */
  | "not-found";

/** An agent a host believed it ran but no longer owns in the registry. */
export interface LostAgent {
  /** The agent's guild. */
  readonly guildId: string;
  /** The agent's id within its guild. */
  readonly agentId: string;
  /**
   * The epoch under which the host ran the agent. A host that has since registered the agent
   * again under a newer epoch ignores the report.
   */
  readonly epoch: number;
  /**
   * `moved`: a newer placement owns the agent; stop the local copy.
   * `expired`: the location's TTL lapsed and nobody owns the agent; re-register it with
   * {@link LocationRegistry.restoreHost} to keep it, or stop it.
   */
  readonly reason: "moved" | "expired";
}

/** The outcome of a host heartbeat. */
export type HeartbeatResult =
  | {
      /** The host's lease and its agents' TTLs were renewed. */
      readonly status: "ok";
      /** Agent locations renewed. */
      readonly renewed: number;
      /** Agents the host no longer owns, each reported once. */
      readonly lost: readonly LostAgent[];
    }
  | {
      /**
       * The registry does not know the host: its lease lapsed, it was deregistered, or Redis lost
       * its data. Nothing was renewed; the host must call {@link LocationRegistry.restoreHost}
       * with everything it runs.
       */
      readonly status: "unknown-host";
    };

/** An agent a host still runs, re-registered under the epoch it already holds. */
export interface RestoredAgent {
  /** The agent's guild. */
  readonly guildId: string;
  /** The agent's full spec. */
  readonly spec: AgentSpec;
  /** The epoch the host holds for it, from `registerAgent` (or an earlier restore). */
  readonly epoch: number;
}

/** The outcome of {@link LocationRegistry.restoreHost}. */
export interface RestoreResult {
  /** Agents registered again under their epochs. */
  readonly restored: number;
  /** Agents another placement owns: stop them. Every entry has reason `moved`. */
  readonly refused: readonly LostAgent[];
}

/** What a reconciler needs to place an agent again: its guild without the agent list. */
export type GuildContext = Omit<GuildSpec, "agents">;

/** An agent the engine wants running, recorded so a reconciler can re-place it. */
export interface DesiredAgent {
  /** The guild the agent belongs to, without its agent list. */
  readonly guild: GuildContext;
  /** The agent to run. */
  readonly spec: AgentSpec;
  /**
   * Declared asleep (`runAgent` with `lazy`): wherever it is placed, it is placed asleep, and its
   * first message or timer starts it. Absent means false.
   */
  readonly lazy?: boolean;
}

/** Options of {@link LocationRegistry.setDesiredAgent}. */
export interface SetDesiredAgentOptions {
  /** See {@link DesiredAgent.lazy}. Default false. */
  readonly lazy?: boolean;
}

/**
 * Proof of holding the reconciler lease. Only the holder of the token can renew or release it, so
 * a reconciler that paused past its lease cannot release its successor's.
 */
export interface ReconcilerLease {
  /** Unique per acquisition. */
  readonly token: string;
  /** The lease length, in milliseconds; each renewal extends the lease by this much from now. */
  readonly leaseMs: number;
}

/**
 * Where every agent runs, which hosts are alive, and what the engine wants running.
 *
 * Every operation is atomic. Agents are identified by guild id and agent id (both must match
 * `ID_PATTERN` of `@guildhall/core`), so two guilds may both run an agent `echo`. An agent is
 * visible only while its location's TTL runs, and that TTL never outlasts its host's lease: when
 * a host's lease lapses, its agents vanish with it.
 *
 * Errors are {@link GuildhallError}s: `invalid-argument` for bad input, `failed-precondition` for
 * an unknown host, `unavailable` for a draining host or an unreachable backend,
 * `resource-exhausted` for a full host.
 *
 * @example A host's life
 * ```ts
 * await registry.registerHost({ address: "10.0.0.7:50051", maxAgents: 100 });
 * const { epoch } = await registry.registerAgent({ guildId, spec, hostAddress: "10.0.0.7:50051" });
 * // every few seconds:
 * const beat = await registry.heartbeat("10.0.0.7:50051");
 * if (beat.status === "unknown-host") await registry.restoreHost(self, runningAgents);
 * else for (const lost of beat.lost) stopLocalCopy(lost);
 * // on agent exit:
 * await registry.deregisterAgent(guildId, spec.id, epoch);
 * ```
 */
export interface LocationRegistry {
  /**
   * Announces a host that starts with no agents, with a fresh lease. Whatever an earlier process
   * registered at the same address is removed, so a restarted host leaves no ghosts.
   */
  registerHost(host: HostRegistration): Promise<void>;

  /**
   * Registers a host again after the registry forgot it (see {@link HeartbeatResult}), together
   * with every agent it still runs, each under the epoch it holds; one round trip. An agent is
   * restored unless another placement owns it; the epoch counter is raised to at least every
   * restored epoch, so epochs never go backwards. Unlike {@link registerHost} it keeps the host's
   * current agents, and it never shortens a lease that is still running. Capacity is not checked
   * (the agents already run); pass the host's current `draining` state.
   */
  restoreHost(host: HostRegistration, agents: readonly RestoredAgent[]): Promise<RestoreResult>;

  /**
   * Renews the host's lease and the TTL of every agent it owns, in one round trip whatever the
   * number of agents, and reports the agents it no longer owns. Agents whose epoch moved elsewhere
   * are not renewed.
   */
  heartbeat(address: string): Promise<HeartbeatResult>;

  /**
   * Marks a live host as draining (placement skips it and registrations at it are refused) or
   * takes it back. Resolves false if the host is not registered.
   */
  setHostDraining(address: string, draining: boolean): Promise<boolean>;

  /**
   * Removes a host and every agent location it owns. Resolves with the number of agents removed;
   * 0 if the host was unknown.
   */
  deregisterHost(address: string): Promise<number>;

  /** A live host, or undefined if it is unknown or its lease lapsed. */
  getHost(address: string): Promise<HostStatus | undefined>;

  /** The number of agents at a host; 0 when the host is not live. */
  getHostLoad(address: string): Promise<number>;

  /** Every live host, by address. */
  listHosts(): Promise<HostStatus[]>;

  /**
   * Registers an agent at a host under a new placement epoch. If the agent was registered
   * elsewhere, it moves: its old host loses it in the same atomic step.
   *
   * @throws GuildhallError `failed-precondition` if the host is not registered or not live,
   *   `unavailable` if it is draining, `resource-exhausted` if it is full.
   */
  registerAgent(registration: AgentRegistration): Promise<Placement>;

  /** Where an agent runs, or undefined if it is not registered or its host is not live. */
  getLocation(guildId: string, agentId: string): Promise<AgentLocation | undefined>;

  /** A live agent with its full spec, or undefined. */
  getAgent(guildId: string, agentId: string): Promise<RegisteredAgent | undefined>;

  /**
   * Removes an agent's location if it is still registered under `epoch`. A host that lost the
   * agent to a newer placement gets `stale-epoch` and removes nothing.
   */
  deregisterAgent(guildId: string, agentId: string, epoch: number): Promise<DeregisterResult>;

  /** Every live agent of a guild with its full spec, by agent id; one query. */
  listGuildAgents(guildId: string): Promise<RegisteredAgent[]>;

  /** The live agents of a guild whose spec has this name, by agent id. */
  findAgentsByName(guildId: string, name: string): Promise<RegisteredAgent[]>;

  /** Records (or replaces) an agent the engine wants running. Desired state never expires. */
  setDesiredAgent(
    guild: GuildContext,
    spec: AgentSpec,
    options?: SetDesiredAgentOptions,
  ): Promise<void>;

  /** Forgets a desired agent. Resolves false if it was not recorded. */
  removeDesiredAgent(guildId: string, agentId: string): Promise<boolean>;

  /** Forgets every desired agent of a guild; resolves with how many there were. */
  removeDesiredGuild(guildId: string): Promise<number>;

  /** The desired agents of a guild, by agent id. */
  listDesiredAgents(guildId: string): Promise<DesiredAgent[]>;

  /** One desired agent; `undefined` when it is not desired. One lookup, whatever the guild's size. */
  getDesiredAgent(guildId: string, agentId: string): Promise<DesiredAgent | undefined>;

  /** The desired agents of every guild, by guild id then agent id; one query. */
  listAllDesiredAgents(): Promise<DesiredAgent[]>;

  /**
   * Takes the reconciler lease if nobody holds it. Resolves undefined while another holder's
   * lease runs.
   */
  acquireReconcilerLease(leaseMs: number): Promise<ReconcilerLease | undefined>;

  /**
   * Extends a held lease by its `leaseMs` from now. Resolves false if the lease lapsed or another
   * holder took it: stop reconciling.
   */
  renewReconcilerLease(lease: ReconcilerLease): Promise<boolean>;

  /** Gives the lease up. Resolves false if it was no longer held under this token. */
  releaseReconcilerLease(lease: ReconcilerLease): Promise<boolean>;

  /**
   * Whether anyone holds the reconciler lease now: an engine reconciles, so it moves the agents
   * of a draining host away and re-places lost ones. A host that drains waits for those moves
   * only while this is true. A holder that died without releasing counts until its lease lapses.
   */
  reconcilerActive(): Promise<boolean>;

  /** Releases connections. Later calls reject with `unavailable`. Idempotent. */
  close(): Promise<void>;
}
