// The agents of one host: the process manager runs them; this adds their registry placements
// (epochs), their durable sessions (claim, delivery, commits; see agent-session.ts) and the host's
// state. It is what the RPC handlers call, and it keeps the rule of DESIGN section 11: bad input
// leaves no process, no registry key and no subscription behind.
import {
  GuildhallError,
  createMessage,
  validateMessage,
  inboxTopic,
  type AgentSpec,
  type DurableMessageBus,
  type JsonValue,
  type Message,
  type TopicPosition,
  errorMessage,
  agentKey,
} from "@guildhall/core";
import type {
  AgentInfo,
  AgentLifecycleEvent,
  AgentProcessManager,
  AgentRef,
  LogLine,
  PublishRequest,
} from "@guildhall/process-manager";
import type { LocationRegistry, LostAgent, RestoredAgent } from "@guildhall/registry";
import type { Logger } from "pino";
import { AgentSession } from "./agent-session.js";
import type { HostMetrics } from "./metrics.js";
import type { CreateAgentInput, EventAgentFacts, HostedGuild } from "./proto-conversion.js";

/** Whether the host takes new agents. */
export type HostPhase = "serving" | "draining" | "stopping";

/** One agent of this host, beyond what the process manager knows. */
interface HostedAgent {
  readonly key: string;
  readonly guild: HostedGuild;
  readonly spec: AgentSpec;
  /** The bus topics the agent receives. */
  readonly topics: readonly string[];
  readonly createdAt: number;
  /**
   * `creating`: CreateAgent runs; `running`: ready and registered; `ended`: its process exited
   * for good (kept for GetAgentInfo until stopped or replaced); `removing`: being stopped.
   */
  phase: "creating" | "running" | "ended" | "removing";
  /** The placement epoch the registry granted; 0 until registered. */
  epoch: number;
  /** The durable side of the agent's current process; replaced at each local restart. */
  session: AgentSession | undefined;
  /** Per topic, the furthest position handed to the agent on this host (to count redeliveries). */
  readonly handedOut: Map<string, TopicPosition>;
  /** Messages whose handling ended the agent's process, by topic and position: how often. */
  readonly crashes: Map<string, number>;
  /** Whether the host holds a registry location for the agent that it must deregister. */
  registered: boolean;
  removal: Promise<void> | undefined;
}

/** A registry deregistration that failed and is retried on the next heartbeat. */
interface PendingDeregistration {
  readonly guildId: string;
  readonly agentId: string;
  readonly epoch: number;
}

/** What {@link HostedAgents} works with. */
export interface HostedAgentsDependencies {
  readonly manager: AgentProcessManager;
  readonly registry: LocationRegistry;
  readonly bus: DurableMessageBus;
  /** The largest agent state, in bytes of its JSON. */
  readonly maxStateBytes: number;
  /** Whether the host's registry lease is current: a host that lapsed delivers nothing. */
  readonly mayDeliver: () => boolean;
  readonly metrics: HostMetrics;
  readonly logger: Logger;
  /** The host's advertised address. */
  readonly address: () => string;
  readonly stopTimeoutMs: number;
  /** Makes the host known to the registry again now (a heartbeat, restoring if needed). */
  readonly recoverRegistration: () => Promise<void>;
}

/** Options of {@link HostedAgents.stop}. */
export interface StopHostedAgentOptions {
  /** SIGTERM to SIGKILL for this stop, when shorter than the host's `stopTimeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * Skip deregistration: another placement owns the agent (fencing), or the whole host is being
   * deregistered.
   */
  readonly keepRegistration?: boolean;
  /**
   * Delete the agent's durable state and read positions too: the agent is stopped for good
   * (StopAgent), not moved or shut down with its host.
   */
  readonly forget?: boolean;
}

/** The topics an agent receives (DESIGN section 4). */
export function topicsOf(guild: HostedGuild, spec: AgentSpec): string[] {
  const topics = new Set<string>();
  if (spec.listenToDefaultTopic !== false) topics.add(guild.defaultTopic);
  for (const topic of spec.additionalTopics ?? []) topics.add(topic);
  topics.add(inboxTopic(spec.id));
  return [...topics];
}

/** The agents of one host and what the host does with them. */
export class HostedAgents {
  readonly #deps: HostedAgentsDependencies;
  readonly #agents = new Map<string, HostedAgent>();
  readonly #pendingDeregistrations: PendingDeregistration[] = [];
  readonly #phaseListeners = new Set<(phase: HostPhase) => void>();
  #phase: HostPhase = "serving";
  #logger: Logger;

  constructor(deps: HostedAgentsDependencies) {
    this.#deps = deps;
    this.#logger = deps.logger;
    deps.manager.on("lifecycle", (event) => this.#onLifecycle(event));
  }

  /** Logs with `logger` from now on (the host's, once its address is known). */
  setLogger(logger: Logger): void {
    this.#logger = logger;
  }

  /** Whether the host takes new agents. */
  get phase(): HostPhase {
    return this.#phase;
  }

  /** Agents holding a process now (starting, ready, stopping, restarting). */
  get activeCount(): number {
    return this.#deps.manager.status().activeAgents;
  }

  /** Agents holding a process, by guild. */
  runningByGuild(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const agent of this.#agents.values()) {
      if (agent.phase === "ended") continue;
      counts.set(agent.guild.id, (counts.get(agent.guild.id) ?? 0) + 1);
    }
    return counts;
  }

  /** Moves the host to `phase`; a host that is stopping stays so. */
  setPhase(phase: HostPhase): void {
    if (this.#phase === "stopping" || this.#phase === phase) return;
    this.#phase = phase;
    for (const listener of this.#phaseListeners) listener(phase);
  }

  /** Calls `listener` with each new phase; returns its removal. */
  onPhaseChange(listener: (phase: HostPhase) => void): () => void {
    this.#phaseListeners.add(listener);
    return () => {
      this.#phaseListeners.delete(listener);
    };
  }

  // ---- creating ------------------------------------------------------------------------------

  /**
   * Starts an agent and resolves once it is ready, subscribed and registered (DESIGN section 5).
   * It is registered first: the placement epoch fences its durable state before its process
   * starts from that state. Any failure undoes every step taken before it is thrown.
   *
   * @throws GuildhallError `unavailable` (draining, shutting down, registry unreachable),
   *   `already-exists`, `resource-exhausted`, `permission-denied`, `invalid-argument`, `aborted`
   *   (a newer placement holds the agent), `failed-precondition` (its stored state is corrupt),
   *   and the start failures of the process manager
   */
  async create(input: CreateAgentInput): Promise<AgentInfo> {
    this.#assertAccepting();
    const { guild, agent: spec } = input;
    const key = agentKey(guild.id, spec.id);
    const existing = this.#agents.get(key);
    if (existing !== undefined && existing.phase !== "ended") {
      throw new GuildhallError(
        "already-exists",
        `agent "${spec.id}" already runs in guild "${guild.id}" on this host (${existing.phase}); stop it first or choose another id`,
      );
    }
    const entry: HostedAgent = {
      key,
      guild,
      spec,
      topics: topicsOf(guild, spec),
      createdAt: Date.now(),
      phase: "creating",
      epoch: 0,
      session: undefined,
      handedOut: new Map(),
      crashes: new Map(),
      registered: false,
      removal: undefined,
    };
    this.#agents.set(key, entry);
    const log = this.#logger.child({ guild_id: guild.id, agent_id: spec.id });
    let spawned = false;
    try {
      const placement = await this.#register(guild.id, spec);
      entry.epoch = placement.epoch;
      entry.registered = true;
      this.#assertStillCreating(entry);
      let info: AgentInfo & { startState?: { value: JsonValue } };
      try {
        info = await this.#deps.manager.spawn({ guild, agent: spec });
      } catch (error) {
        // A module path inside the allowlist that does not exist is a bad spec, not a missing agent.
        if (error instanceof GuildhallError && error.code === "not-found") {
          throw new GuildhallError("invalid-argument", error.message, { cause: error });
        }
        throw error;
      }
      spawned = true;
      this.#assertStillCreating(entry);
      await this.#sessionStarted(entry, info.startState);
      this.#assertStillCreating(entry);
      entry.phase = "running";
      log.info({ epoch: placement.epoch }, "agent ready");
      return info;
    } catch (error) {
      log.warn({ err: errorMessage(error) }, "agent create failed; undoing");
      await this.#undoCreate(entry, spawned);
      throw error;
    }
  }

  /**
   * Claims the agent for a process about to start (its first start or a local restart) and
   * returns the state to start it with. The process manager calls it before each start command.
   */
  async prepareStart(guildId: string, agentId: string): Promise<{ state?: { value: JsonValue } }> {
    const entry = this.#agents.get(agentKey(guildId, agentId));
    if (
      entry === undefined ||
      entry.phase === "removing" ||
      entry.phase === "ended" ||
      this.#phase === "stopping"
    ) {
      throw new GuildhallError("unavailable", `agent "${agentId}" is being stopped on this host`);
    }
    // The previous process's last commit must land before the claim reads the checkpoint.
    await entry.session?.close(this.#deps.stopTimeoutMs);
    entry.session = undefined;
    const session = await AgentSession.claim({
      bus: this.#deps.bus,
      manager: this.#deps.manager,
      metrics: this.#deps.metrics,
      logger: this.#logger.child({ guild_id: guildId, agent_id: agentId }),
      guildId,
      agentId,
      epoch: entry.epoch,
      topics: entry.topics,
      maxStateBytes: this.#deps.maxStateBytes,
      handedOut: entry.handedOut,
      crashes: entry.crashes,
      mayDeliver: this.#deps.mayDeliver,
      onFenced: () => {
        entry.registered = false;
        void this.stop(guildId, agentId, { keepRegistration: true }).catch(() => undefined);
      },
      onCommitFailed: () => void this.#killProcess(guildId, agentId),
    }).catch((error: unknown) => {
      throw durableStoreFailure(error, agentId);
    });
    entry.session = session;
    return session.startState === undefined ? {} : { state: session.startState };
  }

  /** Ends an agent's process at once; its restart policy brings it back from its checkpoint. */
  async #killProcess(guildId: string, agentId: string): Promise<void> {
    const { pid } = await this.#deps.manager
      .info(guildId, agentId)
      .catch(() => ({ pid: undefined }));
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }

  /** The agent's process is ready: commit what onStart did and start delivering. */
  async #sessionStarted(
    entry: HostedAgent,
    state: { value: JsonValue } | undefined,
  ): Promise<void> {
    const session = entry.session;
    if (session === undefined) {
      throw new GuildhallError("internal", `agent "${entry.spec.id}" became ready without a claim`);
    }
    await session.started(state).catch((error: unknown) => {
      throw durableStoreFailure(error, entry.spec.id);
    });
  }

  #assertAccepting(): void {
    if (this.#phase === "draining") {
      throw new GuildhallError(
        "unavailable",
        `host is draining; place the agent on another host (this host: ${this.#deps.address()})`,
      );
    }
    if (this.#phase === "stopping") {
      throw new GuildhallError(
        "unavailable",
        `host is shutting down; place the agent on another host (this host: ${this.#deps.address()})`,
      );
    }
  }

  #assertStillCreating(entry: HostedAgent): void {
    if (this.#agents.get(entry.key) === entry && entry.phase === "creating") return;
    throw new GuildhallError(
      "unavailable",
      entry.phase === "ended"
        ? `agent "${entry.spec.id}" exited right after it became ready; see GetAgentLogs, fix it and create it again`
        : `agent "${entry.spec.id}" was stopped while it was being created`,
    );
  }

  async #register(guildId: string, spec: AgentSpec): Promise<{ epoch: number }> {
    const attempt = () =>
      this.#deps.metrics.timeRegistry("register_agent", () =>
        this.#deps.registry.registerAgent({ guildId, spec, hostAddress: this.#deps.address() }),
      );
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof GuildhallError) || error.code !== "failed-precondition") {
        throw registryFailure(error, spec.id);
      }
    }
    // The registry forgot this host (lease lapsed, Redis restarted): announce it again, once.
    try {
      await this.#deps.recoverRegistration();
      return await attempt();
    } catch (error) {
      throw registryFailure(error, spec.id);
    }
  }

  async #undoCreate(entry: HostedAgent, spawned: boolean): Promise<void> {
    const { guild, spec } = entry;
    await entry.session?.close(0);
    entry.session = undefined;
    if (spawned && this.#deps.manager.has(guild.id, spec.id)) {
      await this.#deps.manager.stop(guild.id, spec.id).catch(() => undefined);
    }
    if (entry.registered) await this.#deregister(guild.id, spec.id, entry.epoch);
    entry.registered = false;
    if (this.#agents.get(entry.key) === entry) this.#agents.delete(entry.key);
  }

  // ---- stopping ------------------------------------------------------------------------------

  /**
   * Stops an agent (SIGTERM, then SIGKILL after the timeout), unsubscribes it and deregisters its
   * placement. Resolves with its info as it was before it stopped. Concurrent calls share one stop.
   *
   * @throws GuildhallError `not-found` when the host has no such agent
   */
  async stop(
    guildId: string,
    agentId: string,
    options: StopHostedAgentOptions = {},
  ): Promise<AgentInfo> {
    const entry = this.#agents.get(agentKey(guildId, agentId));
    const before = await this.#deps.manager.info(guildId, agentId);
    if (entry === undefined) {
      await this.#stopProcess(guildId, agentId, before.pid, options.timeoutMs);
      return before;
    }
    entry.removal ??= this.#remove(entry, before.pid, options);
    await entry.removal;
    return before;
  }

  async #remove(
    entry: HostedAgent,
    pid: number | undefined,
    options: StopHostedAgentOptions,
  ): Promise<void> {
    const { guild, spec } = entry;
    const wasCreating = entry.phase === "creating";
    entry.phase = "removing";
    // The agent takes no more messages; the one in progress finishes and commits (within the
    // stop timeout) before the process is told to stop, so what it did is kept.
    await entry.session?.close(options.timeoutMs ?? this.#deps.stopTimeoutMs);
    await this.#stopProcess(guild.id, spec.id, pid, options.timeoutMs);
    entry.session = undefined;
    if (this.#agents.get(entry.key) === entry) this.#agents.delete(entry.key);
    this.#deps.metrics.agentLag.remove({ guild_id: guild.id, agent_id: spec.id });
    if (options.forget === true) {
      await this.#deps.bus.deleteAgent(guild.id, spec.id).catch((error: unknown) => {
        this.#logger.warn(
          { guild_id: guild.id, agent_id: spec.id, err: errorMessage(error) },
          "could not delete the stopped agent's durable state; stopping it again deletes it",
        );
      });
    }
    // A create in progress undoes its own registration when it sees the agent was stopped.
    if (entry.registered && options.keepRegistration !== true && !wasCreating) {
      entry.registered = false;
      await this.#deregister(guild.id, spec.id, entry.epoch);
    }
    this.#logger.info({ guild_id: guild.id, agent_id: spec.id }, "agent stopped");
  }

  async #stopProcess(
    guildId: string,
    agentId: string,
    pid: number | undefined,
    timeoutMs: number | undefined,
  ): Promise<void> {
    // The process manager escalates after its own stopTimeoutMs; a shorter per-call timeout is
    // enforced here, on the pid it reported.
    let timer: NodeJS.Timeout | undefined;
    if (pid !== undefined && timeoutMs !== undefined && timeoutMs < this.#deps.stopTimeoutMs) {
      timer = setTimeout(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, timeoutMs);
    }
    try {
      await this.#deps.manager.stop(guildId, agentId);
    } catch (error) {
      if (!(error instanceof GuildhallError && error.code === "not-found")) throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The host shuts down: every agent stops taking messages and commits the one in progress
   * (within the stop timeout), then every process stops. Their durable state stays for their next
   * placement; the registry is left to the host's deregistration.
   */
  async shutdown(): Promise<void> {
    const entries = [...this.#agents.values()];
    await Promise.all(
      entries.map((entry) => entry.session?.close(this.#deps.stopTimeoutMs) ?? Promise.resolve()),
    );
    await this.#deps.manager.shutdown();
    for (const entry of entries) entry.session = undefined;
  }

  /** Stops every agent; with `keepRegistration`, leaves the registry to a host deregistration. */
  async stopAll(options: StopHostedAgentOptions = {}): Promise<void> {
    const infos = await this.#deps.manager.list();
    await Promise.all(
      infos.map((info) =>
        this.stop(info.guildId, info.agentId, options).catch((error: unknown) => {
          if (error instanceof GuildhallError && error.code === "not-found") return;
          this.#logger.error(
            { guild_id: info.guildId, agent_id: info.agentId, err: errorMessage(error) },
            "stopping agent failed",
          );
        }),
      ),
    );
  }

  // ---- registry ------------------------------------------------------------------------------

  async #deregister(guildId: string, agentId: string, epoch: number): Promise<void> {
    try {
      const result = await this.#deps.metrics.timeRegistry("deregister_agent", () =>
        this.#deps.registry.deregisterAgent(guildId, agentId, epoch),
      );
      if (result === "stale-epoch") {
        this.#logger.info(
          { guild_id: guildId, agent_id: agentId, epoch },
          "agent was placed elsewhere since; its newer location is kept",
        );
      }
    } catch (error) {
      // A location left behind would be renewed by every heartbeat of this host: retry until gone.
      this.#pendingDeregistrations.push({ guildId, agentId, epoch });
      this.#logger.warn(
        { guild_id: guildId, agent_id: agentId, epoch, err: errorMessage(error) },
        "deregistering agent failed; retrying on the next heartbeat",
      );
    }
  }

  /** Retries the deregistrations that failed; called by the heartbeat loop. */
  async retryDeregistrations(): Promise<void> {
    const pending = this.#pendingDeregistrations.splice(0);
    for (const { guildId, agentId, epoch } of pending) {
      if (this.#agents.get(agentKey(guildId, agentId))?.epoch === epoch) continue;
      await this.#deregister(guildId, agentId, epoch);
    }
  }

  /** Agents the registry should hold for this host, with the epochs they hold. */
  registeredAgents(): RestoredAgent[] {
    const out: RestoredAgent[] = [];
    for (const agent of this.#agents.values()) {
      if (agent.registered && agent.phase !== "ended") {
        out.push({ guildId: agent.guild.id, spec: agent.spec, epoch: agent.epoch });
      }
    }
    return out;
  }

  /**
   * Stops the local copies of agents that a newer placement owns (fencing). They are not
   * deregistered: the registry belongs to their new host now.
   */
  async relinquish(lost: readonly LostAgent[]): Promise<void> {
    await Promise.all(
      lost.map(async ({ guildId, agentId, epoch }) => {
        const entry = this.#agents.get(agentKey(guildId, agentId));
        if (entry === undefined || entry.epoch !== epoch) return;
        entry.registered = false;
        this.#logger.warn(
          { guild_id: guildId, agent_id: agentId, epoch },
          "agent is placed on another host now; stopping the local copy",
        );
        await this.stop(guildId, agentId, { keepRegistration: true }).catch(() => undefined);
      }),
    );
  }

  // ---- observing -----------------------------------------------------------------------------

  /** The epoch of an agent; 0 when it is not registered. */
  epochOf(guildId: string, agentId: string): number {
    return this.#agents.get(agentKey(guildId, agentId))?.epoch ?? 0;
  }

  /** What the host knows of an agent, for lifecycle events. */
  factsOf(guildId: string, agentId: string): EventAgentFacts | undefined {
    const entry = this.#agents.get(agentKey(guildId, agentId));
    if (entry === undefined) return undefined;
    return {
      epoch: entry.epoch,
      hostAddress: this.#deps.address(),
      className: entry.spec.className,
      createdAt: entry.createdAt,
    };
  }

  /** One agent's info. @throws GuildhallError `not-found` */
  info(guildId: string, agentId: string): Promise<AgentInfo> {
    return this.#deps.manager.info(guildId, agentId);
  }

  /** Every agent's info, in creation order, optionally of one guild. */
  list(guildId: string | undefined): Promise<AgentInfo[]> {
    return this.#deps.manager.list(guildId === undefined ? {} : { guildId });
  }

  /** An agent's captured output. @throws GuildhallError `not-found` */
  logs(
    guildId: string,
    agentId: string,
    options: { follow: boolean; tail: number | undefined; signal: AbortSignal },
  ): AsyncIterableIterator<LogLine> {
    return this.#deps.manager.logs(guildId, agentId, {
      follow: options.follow,
      signal: options.signal,
      ...(options.tail !== undefined && { tail: options.tail }),
    });
  }

  /** Calls `listener` with every lifecycle event and what the host knew of its agent then. */
  watch(
    listener: (event: AgentLifecycleEvent, facts: EventAgentFacts | undefined) => void,
  ): () => void {
    return this.#deps.manager.on("lifecycle", (event) =>
      listener(event, this.factsOf(event.guildId, event.agentId)),
    );
  }

  // ---- messaging -----------------------------------------------------------------------------

  /**
   * Publishes for an agent process. The sender, id and timestamp are the host's: an agent cannot
   * publish as another. What a handler sends is held for that handler's commit; the message is
   * checked now, so the agent's send fails while it can still catch the error.
   */
  async publish(agent: AgentRef, request: PublishRequest): Promise<Message> {
    const entry = this.#agents.get(agentKey(agent.guildId, agent.agentId));
    // An agent being stopped still runs its onStop, which may publish (a farewell, a hand-off):
    // only an agent whose process has ended is refused.
    if (entry === undefined || entry.phase === "ended" || entry.session === undefined) {
      throw new GuildhallError(
        "unavailable",
        `agent "${agent.agentId}" has stopped on this host and can no longer publish`,
      );
    }
    const message = validateMessage(
      createMessage({
        topic: request.topic,
        sender: { id: entry.spec.id, name: entry.spec.name },
        payload: request.payload,
        format: request.format,
        ...(request.threadId !== undefined && { threadId: request.threadId }),
        ...(request.inResponseTo !== undefined && { inResponseTo: request.inResponseTo }),
        ...(request.traceparent !== undefined && { traceparent: request.traceparent }),
      }),
    );
    const bytes = Buffer.byteLength(JSON.stringify(message));
    const limit = this.#deps.bus.maxMessageBytes;
    if (bytes > limit) {
      throw new GuildhallError(
        "invalid-argument",
        `message ${message.id} on topic "${message.topic}" is ${bytes} bytes of JSON, over the bus limit of ${limit} bytes; send a reference to large data (a URL, an object-store key) instead of the data itself`,
      );
    }
    await entry.session.send(request.handler, message);
    this.#deps.metrics.messagesPublished.inc({ guild_id: entry.guild.id });
    return message;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  #onLifecycle(event: AgentLifecycleEvent): void {
    const fields = { guild_id: event.guildId, agent_id: event.agentId };
    switch (event.type) {
      case "crashed":
        this.#deps.metrics.agentCrashes.inc({ guild_id: event.guildId });
        this.#logger.warn(
          { ...fields, err: event.error, will_restart: event.willRestart },
          "agent process failed",
        );
        if (!event.willRestart) this.#ended(event.guildId, event.agentId);
        return;
      case "restarted":
        this.#deps.metrics.agentRestarts.inc({ guild_id: event.guildId });
        this.#logger.info({ ...fields, pid: event.pid }, "agent restarted");
        return;
      case "ready":
        this.#restarted(event.guildId, event.agentId, event.state);
        return;
      case "stopped":
        if (!event.requested) this.#ended(event.guildId, event.agentId);
        return;
      default:
        return;
    }
  }

  /** A running agent's process came back after a crash: it resumes from its last commit. */
  #restarted(guildId: string, agentId: string, state: { value: JsonValue } | undefined): void {
    const entry = this.#agents.get(agentKey(guildId, agentId));
    // The first start of an agent is committed by create, which waits for it.
    if (entry === undefined || entry.phase !== "running") return;
    this.#sessionStarted(entry, state).catch((error: unknown) => {
      this.#logger.error(
        { guild_id: guildId, agent_id: agentId, err: errorMessage(error) },
        "restarted agent could not resume from its committed state; stopping it",
      );
      void this.stop(guildId, agentId).catch(() => undefined);
    });
  }

  /** An agent's process exited for good by itself: it leaves the bus and the registry. */
  #ended(guildId: string, agentId: string): void {
    const entry = this.#agents.get(agentKey(guildId, agentId));
    if (entry === undefined || entry.phase === "removing" || entry.phase === "ended") return;
    const wasCreating = entry.phase === "creating";
    entry.phase = "ended";
    const session = entry.session;
    entry.session = undefined;
    void session?.close(0);
    if (entry.registered && !wasCreating) {
      entry.registered = false;
      void this.#deregister(guildId, agentId, entry.epoch);
    }
  }
}

/** A failure of the bus's agent store while claiming or committing, for the engine's operator. */
function durableStoreFailure(error: unknown, agentId: string): GuildhallError {
  if (error instanceof GuildhallError) return error;
  return new GuildhallError(
    "unavailable",
    `cannot load or commit the durable state of agent "${agentId}": ${errorMessage(error)}; check that the bus (GUILDHALL_BUS_URL or the Redis URL) is reachable and retry`,
    { cause: error },
  );
}

/** A registry failure while registering an agent, in words for the engine's operator. */
function registryFailure(error: unknown, agentId: string): GuildhallError {
  if (error instanceof GuildhallError) {
    switch (error.code) {
      case "failed-precondition":
        return new GuildhallError(
          "unavailable",
          `cannot register agent "${agentId}": the location registry does not know this host (${error.message}); the host registers again on its next heartbeat, so retry shortly or place the agent on another host`,
          { cause: error },
        );
      case "unavailable":
      case "resource-exhausted":
      case "invalid-argument":
        return error;
      default:
        break;
    }
  }
  return new GuildhallError(
    "unavailable",
    `cannot register agent "${agentId}" in the location registry: ${errorMessage(error)}; check that the registry (Redis) is reachable and retry`,
    { cause: error },
  );
}
