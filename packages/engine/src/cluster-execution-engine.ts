// ClusterExecutionEngine: the ExecutionEngine that places agents on agent hosts over the host API
// (DESIGN sections 5, 8, 9). It is a thin client: the registry answers every question about where
// agents run and what they are, the hosts run them, and the engine only decides where to put each
// agent (AgentPlacer), records what should run, and heals what was lost (Reconciler).
import { setMaxListeners } from "node:events";
import {
  GuildhallError,
  checkId,
  isDurableBus,
  validateAgentSpec,
  validateGuildSpec,
  type AgentSpec,
  type ExecutionEngine,
  type GuildSpec,
  type MessageBus,
  type MoveAgentOptions,
  type MoveAgentResult,
  type RunAgentOptions,
  type ShutdownOptions,
  errorMessage,
  agentKey,
  traced,
} from "@guildhall/core";
import { AgentState } from "@guildhall/proto";
import type { AgentLocation, DesiredAgent, GuildContext } from "@guildhall/registry";
import { AgentMover } from "./agent-mover.js";
import { AgentPlacer, type Placed } from "./agent-placer.js";
import { settleWithConcurrency } from "./bounded-concurrency.js";
import {
  resolveClusterExecutionEngineOptions,
  type ClusterExecutionEngineOptions,
  type ResolvedClusterExecutionEngineOptions,
} from "./engine-options.js";
import { toGuildhallError } from "./error-mapping.js";
import { HostClients } from "./host-clients.js";
import { KeyedLock } from "./keyed-lock.js";
import { PlacementRun } from "./placement-run.js";
import { guildContextOf } from "./proto-conversion.js";
import { Reconciler, type AgentOnHost } from "./reconciler.js";
import { stopOnHost } from "./stop-on-host.js";

/** Agents stopped at once by `shutdown({ stopAgents: true })`. */
const SHUTDOWN_STOP_CONCURRENCY = 16;

/**
 * An {@link ExecutionEngine} that runs each agent as a process on one of a fleet of agent hosts
 * (`guildhall host`, or `createAgentHost` of `@guildhall/host-server`), reached over gRPC/HTTP/2.
 *
 * - `runAgent` validates the spec, records it as desired, picks a host (`placement` over the
 *   discovered hosts that are live, not draining and not full), and calls CreateAgent there; it
 *   resolves when the host answers, which it does once the agent is ready and registered. A full
 *   or unavailable host is skipped for the next one (unavailable ones after a backoff with
 *   jitter); a bad spec, a module the host does not allow or a duplicate id is not retried. On
 *   failure nothing is left behind: no process, no location, no desired-state entry.
 * - Listings (`getAgentsInGuild`, `findAgentsByName`, `isAgentRunning`) read the registry's guild
 *   index: full specs, no call to any host.
 * - `stopAgent` forgets the desired agent first, then stops it on its host; it is idempotent.
 * - `moveAgent` stops an agent on its host keeping its durable state, then starts it on another
 *   host from that state (see its documentation).
 * - A reconciler re-places desired agents whose host died (its lease expired) on another host.
 * - `shutdown()` leaves the agents running (they belong to the cluster, not to this process): a
 *   new engine on the same registry finds them. `shutdown({ stopAgents: true })` stops the agents
 *   this engine started first.
 *
 * Errors are {@link GuildhallError}s with the codes of the host API: `invalid-argument`,
 * `permission-denied`, `already-exists`, `resource-exhausted` (every host is full),
 * `unavailable` (no host reachable, or after shutdown), `deadline-exceeded`, `aborted`.
 *
 * @example
 * ```ts
 * const engine = new ClusterExecutionEngine({
 *   registry: new RedisLocationRegistry({ url: "redis://127.0.0.1:6379" }),
 *   discovery: new StaticDiscovery(["10.0.0.7:50051", "10.0.0.8:50051"]),
 * });
 * await engine.runAgent(guild, { id: "echo", name: "Echo", className: "@acme/agents#Echo" });
 * console.log(await engine.getAgentsInGuild(guild.id));
 * await engine.shutdown();
 * ```
 */
export class ClusterExecutionEngine implements ExecutionEngine {
  /** The bus the cluster's hosts use, if it was given (the engine sends nothing on it). */
  readonly bus: MessageBus | undefined;
  readonly #options: ResolvedClusterExecutionEngineOptions;
  readonly #clients: HostClients;
  readonly #placer: AgentPlacer;
  readonly #mover: AgentMover;
  readonly #locks = new KeyedLock();
  /** The agents this engine started and has not stopped: what `shutdown({ stopAgents })` stops. */
  readonly #started = new Map<string, { guildId: string; agentId: string }>();
  readonly #operations = new Set<Promise<unknown>>();
  readonly #shutdown = new AbortController();
  readonly #reconciler: Reconciler | undefined;
  readonly #stopWatchingHosts: () => void;
  #closing: Promise<void> | undefined;

  /**
   * @throws GuildhallError `invalid-argument` naming a bad option
   */
  constructor(options: ClusterExecutionEngineOptions) {
    this.#options = resolveClusterExecutionEngineOptions(options);
    // Every placement in flight listens on this signal; hundreds at once are expected, not a leak.
    setMaxListeners(0, this.#shutdown.signal);
    this.bus = this.#options.bus;
    this.#clients = new HostClients({ tls: this.#options.tls, token: this.#options.token });
    const { registry, discovery, placement, retry } = this.#options;
    this.#placer = new AgentPlacer({
      registry,
      discovery,
      placement,
      retry,
      clients: this.#clients,
    });
    this.#mover = new AgentMover({
      registry,
      discovery,
      placer: this.#placer,
      clients: this.#clients,
      retry,
      rpcTimeoutMs: this.#options.rpcTimeoutMs,
      logger: this.#options.logger,
      signal: this.#shutdown.signal,
      placed: (guildId, agentId, address) =>
        this.#reconciler?.noteRunning(guildId, agentId, address),
    });
    // Connections to hosts that left discovery are closed; a later call reopens one if needed.
    this.#stopWatchingHosts = discovery.onChange((hosts) => this.#clients.retain(new Set(hosts)));
    const reconcile = this.#options.reconcile;
    if (reconcile !== false) {
      this.#reconciler = new Reconciler({
        registry,
        options: reconcile,
        logger: this.#options.logger,
        busy: (guildId, agentId) => this.#locks.isLocked(agentKey(guildId, agentId)),
        replace: (desired) => this.#replace(desired),
        probe: (address, guildId, agentId) => this.#probe(address, guildId, agentId),
        // Draining hosts are emptied with the same move a caller makes (DESIGN section 14).
        moveAgent: (guildId, agentId, toHost) =>
          this.moveAgent(guildId, agentId, toHost === undefined ? {} : { toHost }),
        discoveredHosts: () => discovery.hosts(),
      });
      this.#reconciler.start();
    }
  }

  /**
   * Starts `agent` in `guild` on a host and resolves once it is ready: its process runs, its
   * class is loaded, its `onStart` ran, it is subscribed and its location is registered.
   *
   * @throws GuildhallError `invalid-argument` (bad spec or className), `permission-denied`
   *   (module not allowed by the hosts), `already-exists` (the agent runs), `resource-exhausted`
   *   (every host is full), `unavailable` (no host reachable; the engine is shut down),
   *   `deadline-exceeded` (not ready within `timeoutMs`), `aborted` (`signal`), or the host's
   *   error when the agent fails to start
   */
  runAgent(guild: GuildSpec, agent: AgentSpec, opts: RunAgentOptions = {}): Promise<void> {
    return this.#track(async () => {
      this.#assertOpen("run an agent");
      const context = this.#validateGuild(guild);
      const spec = validateAgentSpec(agent, { source: "runAgent" });
      const budgetMs = opts.timeoutMs ?? this.#options.rpcTimeoutMs;
      if (!Number.isSafeInteger(budgetMs) || budgetMs <= 0) {
        throw new GuildhallError(
          "invalid-argument",
          `runAgent: timeoutMs must be a positive whole number of milliseconds, got ${JSON.stringify(opts.timeoutMs)}`,
        );
      }
      const signal =
        opts.signal === undefined
          ? this.#shutdown.signal
          : AbortSignal.any([this.#shutdown.signal, opts.signal]);
      const run = new PlacementRun(spec.id, budgetMs, signal);
      run.check();
      await traced(
        "runAgent",
        { attributes: { "guildhall.guild_id": context.id, "guildhall.agent_id": spec.id } },
        () =>
          this.#locks.run(agentKey(context.id, spec.id), () =>
            this.#run(context, spec, run, opts.lazy === true),
          ),
      );
    });
  }

  /**
   * Stops an agent gracefully (its `onStop` runs) and resolves once it is stopped and no longer
   * listed. The agent is removed from the desired state first, so nothing re-places it.
   * Idempotent: an unknown or stopped agent resolves at once. When the agent's host cannot be
   * reached (after retries), its location is removed from the registry, fenced by its epoch so a
   * newer placement is kept: a dead host's agent disappears from listings at once. (A host that
   * was only cut off keeps its copy running, unlisted, until it restarts; a warning is logged.)
   * When the host refuses the stop, the agent keeps running and its desired-state entry is put
   * back, so it stays wanted and healed as before.
   *
   * @throws GuildhallError `invalid-argument` for malformed ids, `unavailable` after shutdown or
   *   when the registry cannot be reached, or the host's refusal (e.g. `unauthenticated`)
   */
  stopAgent(guildId: string, agentId: string): Promise<void> {
    return this.#track(async () => {
      this.#assertOpen("stop an agent");
      checkId("guild id", guildId);
      checkId("agent id", agentId);
      await this.#stop(guildId, agentId);
    });
  }

  /**
   * Moves a running agent to another host and resolves with where it ran and where it runs now,
   * once it is ready there. Its host stops handing it messages, lets the handler in progress
   * finish and commit, and stops its process keeping its durable state and read positions; then
   * the new host claims that state under a newer placement epoch and starts it. Stop first,
   * then start: at no moment do two copies handle its messages, and messages published
   * meanwhile wait on the bus for the new copy. None is lost and none is handled twice.
   *
   * - `toHost` names the host (as it registered, `10.0.0.8:50051`); without it, placement picks
   *   an eligible host other than the agent's own.
   * - The agent stays desired throughout, and the engine holds its lock, so this engine's
   *   reconciler never places it meanwhile. Between the stop and the start (a warm start's time)
   *   `isAgentRunning` is false and listings omit it; other engines' reconcilers may place it in
   *   that window, as after any loss, and epochs then leave one copy.
   * - A handler stuck past its host's stop timeout is killed there; its message is handled again
   *   on the new host, whose copy starts from the last commit. The move then takes the stop
   *   timeout plus a start.
   * - Everything is checked before the agent is stopped: a refused move changes nothing.
   * - When the start on the new host fails after the stop, the agent is started again on its
   *   old host if it can (it ran there a moment ago), else wherever placement finds room, and the
   *   move still rejects with the code of that failure, its message naming where the agent runs
   *   now. Only if no host at all can take it does it stay stopped, still desired with its
   *   state, for a reconciler to place later.
   * - Shutting the engine down waits for a move in progress: a move is never left halfway.
   *
   * @throws GuildhallError `invalid-argument` (malformed ids or `toHost`, or `toHost` is the
   *   host the agent runs on), `not-found` (the agent does not run, or `toHost` is no live host
   *   of this engine's discovery), `unavailable` (`toHost` or every other host is draining; the
   *   agent's host cannot be reached to stop it; after shutdown), `resource-exhausted` (`toHost`
   *   or every other host is full), `failed-precondition` (no other host; the agent was not
   *   started through an engine), `aborted` (another engine placed it meanwhile), or the new
   *   host's refusal after the agent was put back
   */
  moveAgent(
    guildId: string,
    agentId: string,
    opts: MoveAgentOptions = {},
  ): Promise<MoveAgentResult> {
    return this.#track(async () => {
      this.#assertOpen("move an agent");
      checkId("guild id", guildId);
      checkId("agent id", agentId);
      const toHost: unknown = opts.toHost;
      if (toHost !== undefined && (typeof toHost !== "string" || toHost.trim() === "")) {
        throw new GuildhallError(
          "invalid-argument",
          `moveAgent: toHost must be a host address as the host registered it (e.g. "10.0.0.8:50051"), got ${JSON.stringify(toHost)}`,
        );
      }
      return this.#locks.run(agentKey(guildId, agentId), async () => {
        this.#assertOpen("move an agent");
        const moved = await this.#mover.move(guildId, agentId, toHost);
        return { from: moved.from, to: moved.to };
      });
    });
  }

  /** Whether the agent runs: its location is registered and its host's lease is live. */
  isAgentRunning(guildId: string, agentId: string): Promise<boolean> {
    return this.#track(async () => {
      this.#assertOpen("look agents up");
      return (await this.#options.registry.getLocation(guildId, agentId)) !== undefined;
    });
  }

  /** The running agents of a guild by id, with their full specs, from the registry's guild index. */
  getAgentsInGuild(guildId: string): Promise<Map<string, AgentSpec>> {
    return this.#track(async () => {
      this.#assertOpen("list agents");
      const agents = await this.#options.registry.listGuildAgents(guildId);
      return new Map(agents.map((a) => [a.agentId, structuredClone(a.spec)]));
    });
  }

  /** The full specs of the guild's running agents named `name`. */
  findAgentsByName(guildId: string, name: string): Promise<AgentSpec[]> {
    return this.#track(async () => {
      this.#assertOpen("look agents up");
      const agents = await this.#options.registry.findAgentsByName(guildId, name);
      return agents.map((a) => structuredClone(a.spec));
    });
  }

  /**
   * Releases the engine: stops reconciling (giving the lease up for another engine), cancels
   * placements in flight (their hosts undo them) and closes the connections to the hosts. The
   * registry, discovery and bus it was given stay open.
   *
   * By default the agents keep running, detached: they belong to the cluster, and an engine
   * started later on the same registry finds them, stops them, and heals them. With
   * `stopAgents: true`, the agents this engine started (and did not stop) are stopped first.
   *
   * Afterwards every method rejects with `unavailable`. Idempotent: later calls return the first
   * call's promise.
   *
   * @throws GuildhallError `unavailable` listing agents that could not be stopped (the engine is
   *   closed all the same)
   */
  shutdown(opts: ShutdownOptions = {}): Promise<void> {
    this.#closing ??= this.#close(opts.stopAgents === true);
    return this.#closing;
  }

  // ---- running -------------------------------------------------------------------------------

  #validateGuild(guild: GuildSpec): GuildContext {
    if (typeof guild !== "object" || (guild as unknown) === null || Array.isArray(guild)) {
      throw new GuildhallError(
        "invalid-argument",
        "runAgent: guild must be a GuildSpec object with at least id and name",
      );
    }
    // The guild's own agent list is not this call's business; only the guild fields are checked.
    return guildContextOf(validateGuildSpec({ ...guild, agents: [] }, { source: "runAgent" }));
  }

  async #run(
    guild: GuildContext,
    spec: AgentSpec,
    run: PlacementRun,
    lazy: boolean,
  ): Promise<void> {
    this.#assertOpen("run an agent");
    const { registry } = this.#options;
    // Read alongside the checks below: each registry round trip is on the path of every create.
    const hosts = registry.listHosts();
    hosts.catch(() => undefined);
    const existing = await registry.getLocation(guild.id, spec.id);
    if (existing !== undefined) {
      throw new GuildhallError(
        "already-exists",
        `agent "${spec.id}" already runs in guild "${guild.id}" (on host ${existing.hostAddress}); stop it first or choose another id`,
      );
    }
    // Recorded before placing, so an agent that is placed and then loses its host is healed even
    // if this process dies right after the host answered.
    await registry.setDesiredAgent(guild, spec, { lazy });
    let placed: Placed;
    try {
      placed = await this.#placer.place(guild, spec, run, { hosts, lazy });
    } catch (error) {
      await registry.removeDesiredAgent(guild.id, spec.id).catch((removeError: unknown) => {
        this.#options.logger.error(
          "could not remove the desired-state entry of an agent that failed to start; the reconciler may place it later",
          { guild_id: guild.id, agent_id: spec.id, err: errorMessage(removeError) },
        );
      });
      throw error;
    }
    this.#started.set(agentKey(guild.id, spec.id), { guildId: guild.id, agentId: spec.id });
    this.#reconciler?.noteRunning(guild.id, spec.id, placed.address);
  }

  /** Re-places a desired agent for the reconciler; undefined when there was nothing to do. */
  async #replace(desired: DesiredAgent): Promise<string | undefined> {
    const guild = desired.guild;
    const spec = desired.spec;
    const key = agentKey(guild.id, spec.id);
    if (this.#locks.isLocked(key) || this.#closing !== undefined) return undefined;
    return this.#locks.run(key, async () => {
      const { registry, rpcTimeoutMs } = this.#options;
      if ((await registry.getLocation(guild.id, spec.id)) !== undefined) return undefined;
      const run = new PlacementRun(spec.id, rpcTimeoutMs, this.#shutdown.signal);
      const placed = await this.#placer.place(guild, spec, run, { lazy: desired.lazy === true });
      // Another engine may have stopped the agent while this placement ran: undo it then.
      if ((await registry.getDesiredAgent(guild.id, spec.id)) === undefined) {
        await this.#stopAt({
          guildId: guild.id,
          agentId: spec.id,
          hostAddress: placed.address,
          epoch: placed.epoch,
        });
        return undefined;
      }
      return placed.address;
    });
  }

  /** What a live host says of an agent whose location is gone (for the reconciler). */
  async #probe(address: string, guildId: string, agentId: string): Promise<AgentOnHost> {
    try {
      const { agent } = await this.#clients
        .get(address)
        .getAgentInfo({ guildId, agentId }, { timeoutMs: this.#options.rpcTimeoutMs });
      const state = agent?.state;
      return state === AgentState.EXITED || state === AgentState.CRASHED ? "ended" : "running";
    } catch (thrown) {
      const error = toGuildhallError(thrown, { host: address, method: "GetAgentInfo" });
      return error.code === "not-found" ? "unknown" : "unreachable";
    }
  }

  // ---- stopping ------------------------------------------------------------------------------

  async #stop(guildId: string, agentId: string): Promise<void> {
    const key = agentKey(guildId, agentId);
    await this.#locks.run(key, async () => {
      const { registry } = this.#options;
      // Kept to be put back if the host refuses the stop: a failed stop leaves the agent wanted
      // and findable, as it was, rather than running unwanted.
      const desired = await registry.getDesiredAgent(guildId, agentId);
      const started = this.#started.get(key);
      // Forgotten first, so the reconciler cannot place the agent again while it stops.
      await registry.removeDesiredAgent(guildId, agentId);
      this.#started.delete(key);
      this.#reconciler?.forget(guildId, agentId);
      const location = await registry.getLocation(guildId, agentId);
      if (location === undefined) {
        await this.#forgetState(guildId, agentId);
        return;
      }
      try {
        await this.#stopAt(location);
        await this.#forgetState(guildId, agentId);
      } catch (error) {
        if (started !== undefined) this.#started.set(key, started);
        if (desired !== undefined) {
          const options = { lazy: desired.lazy === true };
          await registry
            .setDesiredAgent(desired.guild, desired.spec, options)
            .catch((restoreError) => {
              this.#options.logger.error(
                "a stop failed and the agent's desired-state entry could not be put back; it runs but is no longer wanted",
                { guild_id: guildId, agent_id: agentId, err: errorMessage(restoreError) },
              );
            });
        }
        throw error;
      }
    });
  }

  /**
   * Deletes the agent's durable state and fences every copy of it, when the engine was given the
   * cluster's bus. The host deletes it too when it stops the agent; this covers a host that could
   * not be reached, whose copy may still run and must never commit again.
   */
  async #forgetState(guildId: string, agentId: string): Promise<void> {
    const bus = this.bus;
    if (bus !== undefined && isDurableBus(bus)) await bus.deleteAgent(guildId, agentId);
  }

  /** Stops an agent on its host, retrying an unreachable host; deregisters it if it stays so. */
  async #stopAt(location: AgentLocation): Promise<void> {
    const { guildId, agentId, hostAddress } = location;
    const { retry, rpcTimeoutMs } = this.#options;
    const error = await stopOnHost(location, { clients: this.#clients, retry, rpcTimeoutMs });
    if (error !== undefined) {
      if (error.code !== "unavailable" && error.code !== "deadline-exceeded") throw error;
      this.#options.logger.warn(
        "agent host unreachable while stopping an agent; removing its location from the registry",
        { guild_id: guildId, agent_id: agentId, host: hostAddress, err: error.message },
      );
    }
    // The host does not run it (or cannot be reached): its location must not outlive it. The
    // epoch fences this, so a placement made since is kept.
    await this.#options.registry.deregisterAgent(guildId, agentId, location.epoch);
  }

  async #close(stopAgents: boolean): Promise<void> {
    this.#shutdown.abort(
      new GuildhallError("unavailable", "the engine shut down while the agent was being placed"),
    );
    await this.#reconciler?.stop();
    await Promise.allSettled([...this.#operations]);
    const failures: string[] = [];
    if (stopAgents) {
      const agents = [...this.#started.values()];
      const results = await settleWithConcurrency(agents, SHUTDOWN_STOP_CONCURRENCY, (a) =>
        this.#stop(a.guildId, a.agentId),
      );
      results.forEach((result, index) => {
        const agent = agents[index];
        if (!result.ok && agent !== undefined) {
          failures.push(`${agent.guildId}/${agent.agentId}: ${errorMessage(result.error)}`);
        }
      });
    }
    this.#stopWatchingHosts();
    this.#clients.close();
    if (failures.length > 0) {
      throw new GuildhallError(
        "unavailable",
        `shutdown could not stop ${failures.length} agent(s); they may still run (stop them with a new engine):\n  ${failures.join("\n  ")}`,
      );
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  #assertOpen(what: string): void {
    if (this.#closing !== undefined) {
      throw new GuildhallError(
        "unavailable",
        `the engine is shut down and cannot ${what}; create a new ClusterExecutionEngine`,
      );
    }
  }

  /** Runs an operation that shutdown waits for. */
  #track<T>(operation: () => Promise<T>): Promise<T> {
    const promise = operation();
    this.#operations.add(promise);
    void promise.then(
      () => this.#operations.delete(promise),
      () => this.#operations.delete(promise),
    );
    return promise;
  }
}

/**
 * The same class under the name of the original design, for code that targets Kubernetes.
 * Nothing in it is Kubernetes-specific: give it a `KubernetesDiscovery`.
 */
export const K8sExecutionEngine = ClusterExecutionEngine;
/** The instance type of {@link K8sExecutionEngine}. */
export type K8sExecutionEngine = ClusterExecutionEngine;
