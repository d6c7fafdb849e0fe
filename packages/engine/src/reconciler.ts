// Self-healing (DESIGN section 9): the desired agents that have no live location are placed again.
// One reconciler per registry is active at a time, by lease, so engines that share a registry do
// not place the same lost agent twice; should two placements still race, the registry's epochs
// leave one owner and the other host stops its copy on its next heartbeat. The active reconciler
// also empties draining hosts (DESIGN section 14): hosts have no client for each other and
// placement lives in the engine, so it moves their agents on their behalf; and, when asked to,
// evens out the fleet the same way.
import { GuildhallError, errorMessage, agentKey } from "@guildhall/core";
import type { AgentLogger } from "@guildhall/core";
import type {
  DesiredAgent,
  HostStatus,
  LocationRegistry,
  ReconcilerLease,
} from "@guildhall/registry";
import { settleWithConcurrency } from "./bounded-concurrency.js";
import { pickDrainMoves, spareCapacity, type AgentOnDrainingHost } from "./drain-moves.js";
import { DRAIN_PASS_DELAY_MS, type ResolvedReconcileOptions } from "./engine-options.js";
import { pickRebalanceMoves, type PlacedAgent, type RebalanceMove } from "./rebalance-moves.js";
import { backoffDelayMs } from "./retry-policy.js";

/** What the reconciler needs of its engine. */
export interface ReconcilerDependencies {
  readonly registry: LocationRegistry;
  readonly options: ResolvedReconcileOptions;
  readonly logger: AgentLogger;
  /** Whether the engine is running or stopping this agent right now (it must not be touched). */
  readonly busy: (guildId: string, agentId: string) => boolean;
  /**
   * Places a desired agent again. Resolves with the host it runs on now, or undefined when there
   * was nothing to do after all (it runs, or it is no longer desired).
   */
  readonly replace: (desired: DesiredAgent) => Promise<string | undefined>;
  /** What a live host says of an agent it ran (see {@link AgentOnHost}). */
  readonly probe: (hostAddress: string, guildId: string, agentId: string) => Promise<AgentOnHost>;
  /**
   * Moves a running agent to `toHost`, or to a host placement picks other than its own (the
   * engine's `moveAgent`). Rejects, changing nothing, when the host cannot take it.
   */
  readonly moveAgent: (
    guildId: string,
    agentId: string,
    toHost?: string,
  ) => Promise<{ readonly from: string; readonly to: string }>;
  /** The hosts the engine can reach (its discovery): the only ones a rebalance moves agents to. */
  readonly discoveredHosts: () => readonly string[];
}

/** What a pass found to do. */
interface PassPlan {
  /** Desired agents to place again. */
  readonly lost: DesiredAgent[];
  /** Desired agents running on draining hosts, to move elsewhere. */
  readonly onDraining: AgentOnDrainingHost[];
  /** Desired agents the engine is not busy with, running on live hosts that take agents. */
  readonly placed: PlacedAgent[];
  /** The live hosts, as read for this pass. */
  readonly hosts: readonly HostStatus[];
}

/**
 * What a host that is still live says of an agent whose location is gone:
 * - `running`: it still runs it; its next heartbeat registers it again;
 * - `ended`: its process exited for good under its restart policy; it is not re-placed;
 * - `unknown`: the host does not know it (it restarted, or lost it); it is re-placed;
 * - `unreachable`: the host cannot be asked; it is re-placed (the host, should it still run the
 *   agent, stops its copy when its heartbeat reports the move).
 */
export type AgentOnHost = "running" | "ended" | "unknown" | "unreachable";

/** Failed re-placements of one agent, for its backoff. */
interface Failures {
  count: number;
  retryAt: number;
}

/** Intervals before an agent whose move to even out the hosts failed is picked again. */
const REBALANCE_RETRY_INTERVALS = 30;

/** The longest wait between two re-placement attempts of one failing agent. */
const MAX_FAILURE_BACKOFF_MS = 60_000;

/**
 * How long after a host's lease should have lapsed the next pass runs, in milliseconds: the
 * registry's clock and this one's timers need not agree to the millisecond, and a pass that came
 * too early would only wait again.
 */
export const LEASE_EXPIRY_MARGIN_MS = 25;

/**
 * The registry calls of a pass taking longer than this share of the longest host lease mean the
 * registry stalled, and with it every host's heartbeat: leases that lapsed then do not prove a
 * host dead. A host heartbeats at least three times per lease, so a stall shorter than half a
 * lease lapses no lease of a live host; an engine that only paused itself is not mistaken for a
 * stalled registry unless its pause was that long.
 */
const REGISTRY_STALL_SHARE_OF_LEASE = 0.5;

/**
 * The codes with which a move is refused before anything changed because no other host can take
 * the agent now (see ClusterExecutionEngine.moveAgent): the agent waits on its draining host.
 */
const NO_ROOM_CODES: ReadonlySet<string> = new Set([
  "unavailable",
  "resource-exhausted",
  "failed-precondition",
]);

/**
 * The agents of `candidates` not waiting out a failed move (`retryAt`, by agent key); forgets the
 * retry times of agents no longer among them, so one that comes back starts over.
 */
function dueForMove<T extends { readonly guildId: string; readonly agentId: string }>(
  candidates: readonly T[],
  retryAt: Map<string, number>,
): T[] {
  const now = Date.now();
  const keys = candidates.map((a) => agentKey(a.guildId, a.agentId));
  const present = new Set(keys);
  for (const key of [...retryAt.keys()]) if (!present.has(key)) retryAt.delete(key);
  return candidates.filter((_, i) => (retryAt.get(keys[i] ?? "") ?? 0) <= now);
}

/**
 * Re-places desired agents whose host's lease expired, and moves desired agents off draining
 * hosts, `drainMoveConcurrency` per pass, passing again {@link DRAIN_PASS_DELAY_MS} later while
 * more of them can move. A pass runs every `intervalMs`, and also
 * as soon as the earliest lease of a host that runs agents lapses (plus
 * {@link LEASE_EXPIRY_MARGIN_MS}), so the agents of a dead host are placed again right after its
 * lease, not up to an interval later. Nothing is re-placed before a lease lapsed: a host that is
 * only slow or cut off owns its agents until then. And after the registry itself failed or
 * stalled, which lapses the leases of live hosts too, the agents of vanished hosts are left alone
 * until the registry has answered steadily for a whole lease, so live hosts restore them first
 * (docs/decisions/0004-failover-timing.md).
 */
export class Reconciler {
  readonly #deps: ReconcilerDependencies;
  /** Agents seen running: once lost they are re-placed at once, with no grace period. */
  readonly #seen = new Set<string>();
  /** The host each agent was last seen running on. */
  readonly #lastHost = new Map<string, string>();
  /** When each agent never seen running was first found missing. */
  readonly #missingSince = new Map<string, number>();
  readonly #failures = new Map<string, Failures>();
  /** Agents reported as ended on their host, so the report is logged once. */
  readonly #ended = new Set<string>();
  /** When an agent whose move off a draining host failed may be tried again. */
  readonly #moveRetryAt = new Map<string, number>();
  /** When an agent whose move to even out the hosts failed may be tried again. */
  readonly #rebalanceRetryAt = new Map<string, number>();
  #lease: ReconcilerLease | undefined;
  /**
   * When the next pass is due before the interval ends, by this process's clock: when the
   * earliest lease of a host with agents lapses, or when the registry will have been steady long
   * enough to trust a lapse. Undefined when nothing is awaited.
   */
  #wakeAt: number | undefined;
  /**
   * Since when every registry call of the passes answered, promptly; undefined after a failure.
   * Nothing was seen to go wrong before the first pass.
   */
  #registrySteadySince: number | undefined = Number.NEGATIVE_INFINITY;
  /** The longest host lease seen, in milliseconds. */
  #longestLeaseMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #running = false;

  constructor(deps: ReconcilerDependencies) {
    this.#deps = deps;
  }

  /** Runs passes from now on: when a host lease runs out, and at least every `intervalMs`. */
  start(): void {
    this.#running = true;
    this.#schedule();
  }

  /** Stops passing, waits for a pass in progress and gives the lease up. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#pass;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease !== undefined) {
      await this.#deps.registry.releaseReconcilerLease(lease).catch(() => false);
    }
  }

  /** Records that an agent runs on `hostAddress` (the engine just placed it), so its loss is healed at once. */
  noteRunning(guildId: string, agentId: string, hostAddress: string): void {
    const key = agentKey(guildId, agentId);
    this.#seen.add(key);
    this.#lastHost.set(key, hostAddress);
    this.#missingSince.delete(key);
    this.#failures.delete(key);
    this.#ended.delete(key);
  }

  /** Forgets an agent that was stopped. */
  forget(guildId: string, agentId: string): void {
    const key = agentKey(guildId, agentId);
    for (const tracked of this.#tracked()) tracked.delete(key);
  }

  #tracked(): { delete(key: string): boolean; keys(): Iterable<string> }[] {
    return [
      this.#seen,
      this.#lastHost,
      this.#missingSince,
      this.#failures,
      this.#ended,
      this.#moveRetryAt,
      this.#rebalanceRetryAt,
    ];
  }

  /** Runs one pass now, or joins the one in progress. Never rejects. */
  runOnce(): Promise<void> {
    this.#pass ??= this.#runPass().finally(() => {
      this.#pass = undefined;
      // A pass run on demand may have learnt of a lease that lapses before the timer fires.
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#schedule();
      }
    });
    return this.#pass;
  }

  /** How long until the next pass: one interval, or less when a host's lease lapses sooner. */
  nextPassDelayMs(now = Date.now()): number {
    const { intervalMs } = this.#deps.options;
    if (this.#wakeAt === undefined) return intervalMs;
    return Math.min(intervalMs, Math.max(LEASE_EXPIRY_MARGIN_MS, this.#wakeAt - now));
  }

  #wakeUpAt(at: number): void {
    this.#wakeAt = this.#wakeAt === undefined ? at : Math.min(this.#wakeAt, at);
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.runOnce().finally(() => this.#schedule());
    }, this.nextPassDelayMs());
    // An engine someone forgot to shut down must not keep its process alive for this alone.
    this.#timer.unref();
  }

  async #runPass(): Promise<void> {
    let renewal: NodeJS.Timeout | undefined;
    // Forgotten until this pass reads the hosts again: a pass that fails or does not hold the
    // lease waits one interval.
    this.#wakeAt = undefined;
    try {
      if (!(await this.#holdLease())) return;
      // A pass that places many agents outlasts the lease; it is renewed while the pass runs.
      const every = Math.max(10, Math.floor(this.#deps.options.leaseMs / 3));
      renewal = setInterval(() => void this.#renewLease(), every);
      const plan = await this.#plan();
      if (plan.lost.length > 0) {
        this.#deps.logger.info("re-placing agents whose host was lost", {
          agents: plan.lost.length,
        });
        await settleWithConcurrency(plan.lost, this.#deps.options.concurrency, (desired) =>
          this.#replace(desired),
        );
      }
      await this.#moveOffDraining(plan);
      if (plan.lost.length === 0 && plan.onDraining.length === 0) await this.#rebalance(plan);
    } catch (error) {
      this.#registrySteadySince = undefined;
      this.#deps.logger.warn("reconcile pass failed; retrying next interval", {
        err: errorMessage(error),
      });
    } finally {
      clearInterval(renewal);
    }
  }

  /** Takes or renews the lease; false while another engine holds it. */
  async #holdLease(): Promise<boolean> {
    if (!this.#running) return false;
    const { registry, options } = this.#deps;
    if (this.#lease !== undefined) {
      if (await registry.renewReconcilerLease(this.#lease)) return true;
      this.#lease = undefined;
      this.#deps.logger.info("reconciler lease lost to another engine");
    }
    const lease = await registry.acquireReconcilerLease(options.leaseMs);
    if (lease === undefined) return false;
    if (!this.#running) {
      await registry.releaseReconcilerLease(lease).catch(() => false);
      return false;
    }
    this.#lease = lease;
    return true;
  }

  /** Renews the lease during a pass; a lost lease ends the pass's remaining placements. */
  async #renewLease(): Promise<void> {
    const lease = this.#lease;
    if (!this.#running || lease === undefined) return;
    try {
      if (await this.#deps.registry.renewReconcilerLease(lease)) {
        // Renewed.
      } else if (this.#lease === lease) {
        this.#lease = undefined;
        this.#deps.logger.info("reconciler lease lost to another engine");
      }
    } catch {
      // The registry is unreachable: the placements fail too; the next pass renews or re-acquires.
    }
  }

  /**
   * What to do in this pass: the desired agents to place now (not live, not busy, past their
   * grace period and backoff, and not still on, or ended by, a host that is live), and the
   * desired agents that run on draining hosts.
   */
  async #plan(): Promise<PassPlan> {
    const { registry, options, busy } = this.#deps;
    const askedAt = Date.now();
    const desired = await registry.listAllDesiredAgents();
    const hosts = await registry.listHosts();
    const now = Date.now();
    this.#noteLeases(hosts, now);
    const stalled = now - askedAt > this.#longestLeaseMs * REGISTRY_STALL_SHARE_OF_LEASE;
    if (this.#registrySteadySince === undefined || stalled) {
      this.#registrySteadySince = now;
    }
    const trustLapsesFrom = this.#registrySteadySince + this.#longestLeaseMs;
    const liveHosts = new Set(hosts.map((h) => h.address));
    const drainingHosts = new Set(hosts.filter((h) => h.draining).map((h) => h.address));
    const onDraining: AgentOnDrainingHost[] = [];
    const placed: PlacedAgent[] = [];
    const byGuild = new Map<string, DesiredAgent[]>();
    for (const agent of desired) {
      const list = byGuild.get(agent.guild.id);
      if (list === undefined) byGuild.set(agent.guild.id, [agent]);
      else list.push(agent);
    }
    const wanted = new Set<string>();
    const due: DesiredAgent[] = [];
    const onLiveHost: { agent: DesiredAgent; host: string }[] = [];
    for (const [guildId, agents] of byGuild) {
      const live = new Map(
        (await registry.listGuildAgents(guildId)).map((a) => [a.agentId, a.hostAddress]),
      );
      for (const agent of agents) {
        const key = agentKey(guildId, agent.spec.id);
        wanted.add(key);
        const host = live.get(agent.spec.id);
        if (host !== undefined) {
          this.noteRunning(guildId, agent.spec.id, host);
          if (!busy(guildId, agent.spec.id)) {
            const at = { guildId, agentId: agent.spec.id, host };
            (drainingHosts.has(host) ? onDraining : placed).push(at);
          }
          continue;
        }
        if (busy(guildId, agent.spec.id)) continue;
        const since = this.#missingSince.get(key) ?? now;
        this.#missingSince.set(key, since);
        // Never seen running: an engine may be starting it right now; give it time to finish.
        if (!this.#seen.has(key) && now - since < options.placementGraceMs) continue;
        const failures = this.#failures.get(key);
        if (failures !== undefined && failures.retryAt > now) continue;
        const last = this.#lastHost.get(key);
        if (last !== undefined && liveHosts.has(last)) onLiveHost.push({ agent, host: last });
        else if (now >= trustLapsesFrom) due.push(agent);
        else this.#wakeUpAt(trustLapsesFrom + LEASE_EXPIRY_MARGIN_MS);
      }
    }
    for (const tracked of this.#tracked()) {
      for (const key of [...tracked.keys()]) if (!wanted.has(key)) tracked.delete(key);
    }
    // Its host is live, so the agent was not lost with a host: ask the host what became of it.
    const answers = await settleWithConcurrency(
      onLiveHost,
      options.concurrency,
      ({ agent, host }) => this.#deps.probe(host, agent.guild.id, agent.spec.id),
    );
    onLiveHost.forEach(({ agent, host }, index) => {
      const answer = answers[index];
      const state = answer?.ok === true ? answer.value : "unreachable";
      if (state === "unknown" || state === "unreachable") {
        due.push(agent);
        return;
      }
      const key = agentKey(agent.guild.id, agent.spec.id);
      if (state === "ended" && !this.#ended.has(key)) {
        this.#ended.add(key);
        this.#deps.logger.warn(
          "agent ended on its host under its restart policy and is not re-placed; see its logs (GetAgentLogs), then stop it or run it again",
          { guild_id: agent.guild.id, agent_id: agent.spec.id, host },
        );
      }
    });
    return { lost: due, onDraining, placed, hosts };
  }

  /** Remembers when the first lease of a host with agents lapses, to pass again right then. */
  #noteLeases(hosts: readonly HostStatus[], readAt: number): void {
    for (const host of hosts) {
      this.#longestLeaseMs = Math.max(this.#longestLeaseMs, host.leaseMs);
      // A host without agents leaves nothing to heal when it dies.
      if (host.load > 0) this.#wakeUpAt(readAt + host.leaseRemainingMs + LEASE_EXPIRY_MARGIN_MS);
    }
  }

  /**
   * Moves the next few agents off draining hosts, as many as the other hosts have room for, and
   * asks for the next pass soon while more could follow.
   */
  async #moveOffDraining(plan: PassPlan): Promise<void> {
    // An agent no longer on a draining host (moved, stopped, its host back to serving) starts over.
    const ready = dueForMove(plan.onDraining, this.#moveRetryAt);
    const room = spareCapacity(plan.hosts);
    const batch = pickDrainMoves(ready, Math.min(this.#deps.options.drainMoveConcurrency, room));
    if (batch.length === 0) return;
    this.#deps.logger.info("moving agents off draining hosts", {
      agents: batch.length,
      waiting: plan.onDraining.length,
    });
    await settleWithConcurrency(batch, batch.length, (agent) => this.#move(agent));
    // Once the other hosts are full, passing sooner moves nothing: the interval finds new room.
    if (ready.length > batch.length && room > batch.length) {
      this.#wakeUpAt(Date.now() + DRAIN_PASS_DELAY_MS);
    }
  }

  /**
   * With `rebalanceThreshold`, moves a few agents from the fullest host to the emptiest while the
   * fleet is that uneven, and asks for the next pass soon while it still is.
   */
  async #rebalance(plan: PassPlan): Promise<void> {
    const threshold = this.#deps.options.rebalanceThreshold;
    if (threshold === undefined) return;
    const ready = dueForMove(plan.placed, this.#rebalanceRetryAt);
    const limit = this.#deps.options.drainMoveConcurrency;
    const reachable = new Set(this.#deps.discoveredHosts());
    const hosts = plan.hosts.filter((h) => reachable.has(h.address));
    const moves = pickRebalanceMoves(hosts, ready, threshold, limit);
    if (moves.length === 0) return;
    this.#deps.logger.info("moving agents to even out the hosts", { agents: moves.length });
    const done = await settleWithConcurrency(moves, moves.length, (move) =>
      this.#moveToEvenOut(move),
    );
    if (moves.length === limit && done.every((d) => d.ok && d.value)) {
      this.#wakeUpAt(Date.now() + DRAIN_PASS_DELAY_MS);
    }
  }

  /** One move of a rebalance; resolves with whether it happened. */
  async #moveToEvenOut({ agent, to }: RebalanceMove): Promise<boolean> {
    if (!this.#running || this.#lease === undefined) return false;
    const { guildId, agentId, host } = agent;
    try {
      await this.#deps.moveAgent(guildId, agentId, to);
      this.#deps.logger.info("agent moved to even out the hosts", {
        guild_id: guildId,
        agent_id: agentId,
        from: host,
        to,
      });
      return true;
    } catch (error) {
      if (!this.#running) return false;
      // A move that failed after its stop put the agent back where it was, a short outage that
      // evening out is not worth repeating every pass.
      const retryAt = Date.now() + REBALANCE_RETRY_INTERVALS * this.#deps.options.intervalMs;
      this.#rebalanceRetryAt.set(agentKey(guildId, agentId), retryAt);
      this.#deps.logger.info("moving an agent to even out the hosts failed; it stays for now", {
        guild_id: guildId,
        agent_id: agentId,
        from: host,
        to,
        err: errorMessage(error),
      });
      return false;
    }
  }

  async #move(agent: AgentOnDrainingHost): Promise<void> {
    if (!this.#running || this.#lease === undefined) return;
    const { guildId, agentId, host } = agent;
    const key = agentKey(guildId, agentId);
    try {
      const moved = await this.#deps.moveAgent(guildId, agentId);
      this.#moveRetryAt.delete(key);
      this.#deps.logger.info("agent moved off its draining host", {
        guild_id: guildId,
        agent_id: agentId,
        from: moved.from,
        to: moved.to,
      });
    } catch (error) {
      // Moves cut short by the engine's shutdown are not failures of the agent.
      if (!this.#running) return;
      // Tried again after an interval: room may appear (a host starts), or the move may succeed.
      this.#moveRetryAt.set(key, Date.now() + this.#deps.options.intervalMs);
      const fields = { guild_id: guildId, agent_id: agentId, host, err: errorMessage(error) };
      if (error instanceof GuildhallError && NO_ROOM_CODES.has(error.code)) {
        this.#deps.logger.info(
          "no other host can take an agent of a draining host now; it stays there for now",
          fields,
        );
      } else {
        this.#deps.logger.warn(
          "moving an agent off its draining host failed; trying again later",
          fields,
        );
      }
    }
  }

  async #replace(desired: DesiredAgent): Promise<void> {
    if (!this.#running || this.#lease === undefined) return;
    const guildId = desired.guild.id;
    const agentId = desired.spec.id;
    const key = agentKey(guildId, agentId);
    try {
      const host = await this.#deps.replace(desired);
      if (host === undefined) return;
      this.noteRunning(guildId, agentId, host);
      this.#deps.logger.info("agent re-placed", { guild_id: guildId, agent_id: agentId, host });
    } catch (error) {
      // Placements cut short by the engine's shutdown are not failures of the agent.
      if (!this.#running) return;
      const count = (this.#failures.get(key)?.count ?? 0) + 1;
      const delayMs = backoffDelayMs(count - 1, {
        maxAttempts: 1,
        initialBackoffMs: this.#deps.options.intervalMs,
        maxBackoffMs: Math.max(MAX_FAILURE_BACKOFF_MS, this.#deps.options.intervalMs),
      });
      this.#failures.set(key, { count, retryAt: Date.now() + delayMs });
      this.#deps.logger.warn("re-placing agent failed; trying again later", {
        guild_id: guildId,
        agent_id: agentId,
        attempt: count,
        retry_in_ms: delayMs,
        err: errorMessage(error),
      });
    }
  }
}
