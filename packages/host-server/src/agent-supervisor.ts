// Starts, restarts and stops the agents of one host. The process manager runs their processes;
// the supervisor adds their registry locations (agent-registrations.ts) and durable sessions
// (agent-session.ts), and keeps the rule of DESIGN section 11: bad input leaves no process, no
// registry key and no subscription behind.
import {
  AgentTimers,
  GuildhallError,
  agentKey,
  type AgentTimer,
  type DurableMessageBus,
  type JsonValue,
  type Message,
  errorMessage,
  traced,
} from "@guildhall/core";
import type {
  AgentInfo,
  AgentLifecycleEvent,
  AgentProcessManager,
  AgentRef,
  CancelScheduleRequest,
  PublishRequest,
  ScheduleRequest,
} from "@guildhall/process-manager";
import type { LocationRegistry, LostAgent } from "@guildhall/registry";
import type { Logger } from "pino";
import { killAgentProcess, stopAgentProcess } from "./agent-process-signals.js";
import { AgentRegistrations } from "./agent-registrations.js";
import { AgentSession, durableStoreFailure } from "./agent-session.js";
import {
  WakeLimiter,
  hibernateAfterMsOf,
  isIdle,
  sleepingInfo,
  unwatchTopics,
  watchTopics,
} from "./agent-sleep.js";
import { AgentTable } from "./agent-table.js";
import { isShuttingDown, refusesAgents, type AgentHostState } from "./host-state.js";
import { newHostedAgent, type HostedAgent } from "./hosted-agent.js";
import { asAgentLogger } from "./logger.js";
import type { HostMetrics } from "./metrics.js";
import type { CreateAgentInput, HostedAgentInfo } from "./proto-conversion.js";

/** What {@link AgentSupervisor} works with. */
export interface AgentSupervisorDependencies {
  readonly manager: AgentProcessManager;
  readonly registry: LocationRegistry;
  readonly bus: DurableMessageBus;
  /** The host's state: a host that drains or shuts down takes no new agents. */
  readonly hostState: () => AgentHostState;
  /** The largest agent state, in bytes of its JSON. */
  readonly maxStateBytes: number;
  /** Whether the host's registry lease is current: a host that lapsed delivers nothing. */
  readonly mayDeliver: () => boolean;
  readonly metrics: HostMetrics;
  /** The host's logger; it names the host once the host listens. */
  readonly logger: () => Logger;
  /** The host's advertised address. */
  readonly address: () => string;
  readonly stopTimeoutMs: number;
  /** Makes the host known to the registry again now (a heartbeat, restoring if needed). */
  readonly recoverRegistration: () => Promise<void>;
  /** Agents declared at most, asleep or awake. */
  readonly maxAgents: number;
  /** Agent processes at most: past it, the least recently active agent sleeps to make room. */
  readonly maxProcesses: number;
  /** The idle time after which an agent whose spec does not say sleeps; 0 never. */
  readonly hibernateAfterMs: number;
}

/** A module path inside the allowlist that does not exist is a bad spec, not a missing agent. */
function missingModuleAsBadSpec(error: unknown): unknown {
  if (error instanceof GuildhallError && error.code === "not-found") {
    return new GuildhallError("invalid-argument", error.message, { cause: error });
  }
  return error;
}

/** Checks the agent's module as a spawn would, without one. */
function checkModuleOf(manager: AgentProcessManager, spec: HostedAgent["spec"]): void {
  try {
    manager.checkAgentModule(spec);
  } catch (error) {
    throw missingModuleAsBadSpec(error);
  }
}

/** How often the host looks for idle agents to put to sleep. */
const IDLE_SWEEP_MS = 100;

/** The pause before a sleep or wake step that failed (the bus was unreachable) is tried again. */
const SLEEP_RETRY_MS = 1_000;

/** Wakes in progress at once; see {@link WakeLimiter}. */
const WAKES_AT_ONCE = 4;

/** Options of {@link AgentSupervisor.stop}. */
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
  /**
   * The agent stops to run on another host: an engine moves it (StopAgent keeping its state), or
   * a newer placement owns it. Counted in {@link AgentSupervisor.handedOff}.
   */
  readonly handOff?: boolean;
}

/** Starts, restarts and stops the agents of one host. */
export class AgentSupervisor {
  /** The agents, for the parts of the host that read them. */
  readonly agents = new AgentTable();
  readonly #deps: AgentSupervisorDependencies;
  readonly #registrations: AgentRegistrations;
  #handedOff = 0;
  readonly #idleSweep: NodeJS.Timeout;
  readonly #wakes = new WakeLimiter(WAKES_AT_ONCE);

  constructor(deps: AgentSupervisorDependencies) {
    this.#deps = deps;
    this.#registrations = new AgentRegistrations(deps);
    deps.manager.on("lifecycle", (event) => this.#onLifecycle(event));
    this.#idleSweep = setInterval(() => this.#sleepIdleAgents(), IDLE_SWEEP_MS).unref();
  }

  get #logger(): Logger {
    return this.#deps.logger();
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
  async create(input: CreateAgentInput): Promise<HostedAgentInfo> {
    this.#assertAccepting();
    const { guild, agent: spec } = input;
    const existing = this.agents.get(guild.id, spec.id);
    if (existing !== undefined && existing.phase !== "ended") {
      throw new GuildhallError(
        "already-exists",
        `agent "${spec.id}" already runs in guild "${guild.id}" on this host (${existing.phase}); stop it first or choose another id`,
      );
    }
    const declared = this.agents.declared();
    if (existing === undefined && declared >= this.#deps.maxAgents) {
      throw new GuildhallError(
        "resource-exhausted",
        `this host holds ${declared} agents, its limit (maxAgents ${this.#deps.maxAgents}); place the agent on another host, or stop agents here`,
      );
    }
    // A lazy agent's module is loaded only when it wakes: checked now, so a bad one is refused
    // here with nothing left behind, not retried at every wake.
    if (input.lazy === true) checkModuleOf(this.#deps.manager, spec);
    const entry = newHostedAgent(guild, spec, input.lazy === true);
    this.agents.add(entry);
    const log = this.#logger.child({ guild_id: guild.id, agent_id: spec.id });
    let spawned = false;
    try {
      const placement = await this.#registrations.register(guild.id, spec);
      entry.epoch = placement.epoch;
      entry.registered = true;
      this.#assertStillCreating(entry);
      if (input.lazy === true) {
        await this.#declareAsleep(entry);
        log.info({ epoch: placement.epoch }, "agent declared asleep");
        return sleepingInfo(entry);
      }
      await this.#makeRoom(entry);
      this.#assertStillCreating(entry);
      const info = await traced(
        "agent start",
        {
          attributes: {
            "guildhall.guild_id": guild.id,
            "guildhall.agent_id": spec.id,
            "guildhall.epoch": placement.epoch,
          },
        },
        async () => {
          let started: AgentInfo & { startState?: { value: JsonValue } };
          try {
            started = await this.#deps.manager.spawn({ guild, agent: spec });
          } catch (error) {
            throw missingModuleAsBadSpec(error);
          }
          spawned = true;
          this.#assertStillCreating(entry);
          await this.#sessionStarted(entry, started.startState);
          return started;
        },
      );
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
    const entry = this.agents.get(guildId, agentId);
    if (
      entry === undefined ||
      entry.phase === "removing" ||
      entry.phase === "ended" ||
      // A crash while it falls asleep is not restarted: it wakes on its next message instead.
      entry.phase === "hibernating" ||
      isShuttingDown(this.#deps.hostState())
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
      agentName: entry.spec.name,
      epoch: entry.epoch,
      topics: entry.topics,
      maxStateBytes: this.#deps.maxStateBytes,
      handedOut: entry.handedOut,
      crashes: entry.crashes,
      mayDeliver: this.#deps.mayDeliver,
      onFenced: () => this.#fenced(entry),
      onCommitFailed: () => void killAgentProcess(this.#deps.manager, guildId, agentId),
      pendingTimers: () => entry.timers?.size ?? 0,
      onTimersCommitted: (changes) => entry.timers?.apply(changes),
      onActivity: () => {
        entry.lastActiveAt = Date.now();
      },
    });
    entry.session = session;
    this.#fireTimers(entry, session.committedTimers);
    return session.startState === undefined ? {} : { state: session.startState };
  }

  /** A newer placement owns the agent: its copy here stops, leaving the registry to it. */
  #fenced(entry: HostedAgent): void {
    entry.registered = false;
    void this.stop(entry.guild.id, entry.spec.id, { keepRegistration: true, handOff: true }).catch(
      () => undefined,
    );
  }

  /** Fires the agent's committed timers from now on, asleep or awake, under its epoch. */
  #fireTimers(entry: HostedAgent, timers: readonly AgentTimer[]): void {
    if (entry.timers !== undefined) {
      entry.timers.reset(timers, entry.epoch);
      return;
    }
    const { guild, spec } = entry;
    const log = this.#logger.child({ guild_id: guild.id, agent_id: spec.id });
    entry.timers = new AgentTimers({
      store: this.#deps.bus,
      guildId: guild.id,
      agentId: spec.id,
      epoch: entry.epoch,
      timers,
      log: asAgentLogger(log),
      onFenced: () => this.#fenced(entry),
    });
  }

  // ---- sleeping ------------------------------------------------------------------------------

  /**
   * Declares a registered agent without a process: claims it (fencing older copies, loading its
   * positions and timers) and watches its topics.
   */
  async #declareAsleep(entry: HostedAgent): Promise<void> {
    const { guild, spec } = entry;
    let checkpoint;
    try {
      checkpoint = await this.#deps.bus.claimAgent(guild.id, spec.id, {
        epoch: entry.epoch,
        topics: entry.topics,
      });
    } catch (error) {
      throw durableStoreFailure(error, spec.id);
    }
    this.#assertStillCreating(entry);
    this.#fireTimers(entry, checkpoint.timers);
    entry.watch = await watchTopics(this.#deps.bus, entry, checkpoint.positions, () =>
      this.#wake(entry),
    );
    this.#assertStillCreating(entry);
    entry.phase = "hibernated";
  }

  /** Puts every agent idle past its `hibernateAfterMs` to sleep. */
  #sleepIdleAgents(): void {
    const now = Date.now();
    for (const entry of this.agents.values()) {
      if (isIdle(entry, hibernateAfterMsOf(entry, this.#deps.hibernateAfterMs), now)) {
        void this.#sleep(entry);
      }
    }
  }

  /**
   * Ends an awake agent's process once its handler in progress committed (no onStop: its state
   * is committed and it starts again on its next message), then watches its topics from there.
   */
  #sleep(entry: HostedAgent): Promise<void> {
    if (entry.phase !== "running" || entry.transition !== undefined) {
      return entry.transition ?? Promise.resolve();
    }
    entry.phase = "hibernating";
    const transition = this.#sleepNow(entry).finally(() => {
      entry.transition = undefined;
    });
    entry.transition = transition;
    return transition;
  }

  async #sleepNow(entry: HostedAgent): Promise<void> {
    const { guild, spec } = entry;
    const log = this.#logger.child({ guild_id: guild.id, agent_id: spec.id });
    const settled = (await entry.session?.close(this.#deps.stopTimeoutMs)) ?? true;
    entry.session = undefined;
    // A handler stuck past the stop timeout cannot commit any more; its message is handled again
    // when the agent wakes.
    await this.#deps.manager
      .stop(guild.id, spec.id, { quiesced: settled, skipOnStop: settled })
      .catch(() => undefined);
    if (!settled) await killAgentProcess(this.#deps.manager, guild.id, spec.id);
    if (entry.phase !== "hibernating") return;
    await this.#watchFromCommit(entry);
    log.info({ timers: entry.timers?.size ?? 0 }, "agent asleep");
  }

  /** Watches a sleeping agent's topics from its committed positions, retrying while the bus fails. */
  async #watchFromCommit(entry: HostedAgent): Promise<void> {
    const { guild, spec } = entry;
    entry.phase = "hibernated";
    while (entry.phase === "hibernated" && entry.watch === undefined) {
      try {
        const checkpoint = await this.#deps.bus.readAgent(guild.id, spec.id);
        if (entry.phase !== "hibernated") return;
        const watch = await watchTopics(this.#deps.bus, entry, checkpoint?.positions ?? {}, () =>
          this.#wake(entry),
        );
        if (entry.phase !== "hibernated") {
          await unwatchTopics(watch);
          return;
        }
        entry.watch = watch;
      } catch (error) {
        this.#logger.warn(
          { guild_id: guild.id, agent_id: spec.id, err: errorMessage(error) },
          "cannot watch the sleeping agent's topics; retrying",
        );
        await new Promise((resolve) => setTimeout(resolve, SLEEP_RETRY_MS));
      }
    }
  }

  /** A sleeping agent got a message (or a timer's): start its process from its commit. */
  #wake(entry: HostedAgent): void {
    if (entry.phase !== "hibernated") return;
    if (entry.transition !== undefined) {
      // A message came while the agent was falling asleep (the new watch replays what arrived
      // since its last commit, while the sleep's transition still runs): the watch fires only
      // once, so dropping this wake would leave the agent deaf to every later message.
      const retry = (): void => this.#wake(entry);
      void entry.transition.then(retry, retry);
      return;
    }
    entry.phase = "waking";
    entry.transition = this.#wakes
      .run(() => this.#wakeNow(entry))
      .then(async (woke) => {
        if (woke || entry.phase !== "waking") return;
        // Outside the wake slot: a host that cannot start processes still wakes its others.
        await new Promise((resolve) => setTimeout(resolve, SLEEP_RETRY_MS));
        if (entry.phase !== "waking") return;
        // The unhandled message is still after the committed positions: the new watch wakes it.
        await this.#watchFromCommit(entry);
      })
      .finally(() => {
        entry.transition = undefined;
      });
  }

  /** Starts a sleeping agent's process; false when it could not (it is to sleep on). */
  async #wakeNow(entry: HostedAgent): Promise<boolean> {
    const { guild, spec } = entry;
    const log = this.#logger.child({ guild_id: guild.id, agent_id: spec.id });
    const watch = entry.watch;
    entry.watch = undefined;
    await unwatchTopics(watch);
    try {
      await this.#makeRoom(entry);
      const started = await this.#deps.manager.spawn({ guild, agent: spec });
      await this.#sessionStarted(entry, started.startState);
      entry.lastActiveAt = Date.now();
      entry.phase = "running";
      log.debug("agent woke");
      return true;
    } catch (error) {
      if (entry.phase !== "waking") return false;
      log.warn({ err: errorMessage(error) }, "agent could not wake; it sleeps and tries again");
      await entry.session?.close(0);
      entry.session = undefined;
      if (this.#deps.manager.has(guild.id, spec.id)) {
        await this.#deps.manager.stop(guild.id, spec.id).catch(() => undefined);
      }
      return false;
    }
  }

  /**
   * Makes room for one more process when the host runs `maxProcesses` already: the least
   * recently active awake agent other than `entry` that may sleep goes to sleep. Agents that never
   * sleep by themselves (not declared lazily, no `hibernateAfterMs`) may do work of their own
   * between messages, so they are never put to sleep for another; when only they are awake, the
   * start is refused (`resource-exhausted`) and the engine places the agent elsewhere.
   */
  async #makeRoom(entry: HostedAgent): Promise<void> {
    const { manager, maxProcesses, hibernateAfterMs } = this.#deps;
    if (manager.status().activeAgents < maxProcesses) return;
    let idlest: HostedAgent | undefined;
    for (const candidate of this.agents.values()) {
      if (candidate === entry || candidate.phase !== "running" || candidate.session?.busy) continue;
      if (!candidate.lazy && hibernateAfterMsOf(candidate, hibernateAfterMs) <= 0) continue;
      if (idlest === undefined || candidate.lastActiveAt < idlest.lastActiveAt) idlest = candidate;
    }
    if (idlest !== undefined) await this.#sleep(idlest);
  }

  // ---- reading -------------------------------------------------------------------------------

  /**
   * A snapshot of one agent: its process's, or `hibernated` for one that sleeps.
   *
   * @throws GuildhallError `not-found`
   */
  async info(guildId: string, agentId: string): Promise<HostedAgentInfo> {
    const entry = this.agents.get(guildId, agentId);
    if (entry !== undefined && !this.#deps.manager.has(guildId, agentId)) {
      if (entry.phase !== "ended" && entry.phase !== "removing") return sleepingInfo(entry);
    }
    return await this.#deps.manager.info(guildId, agentId);
  }

  /** Every agent of the host (of one guild, with `guildId`), awake or asleep. */
  async list(filter: { guildId?: string } = {}): Promise<HostedAgentInfo[]> {
    const infos: HostedAgentInfo[] = await this.#deps.manager.list(filter);
    // Judged on the manager's snapshot, not on has() after it was awaited: an agent falling
    // asleep meanwhile would be listed twice, once with its process and once asleep.
    const awake = new Set(infos.map((info) => agentKey(info.guildId, info.agentId)));
    for (const entry of this.agents.values()) {
      if (filter.guildId !== undefined && entry.guild.id !== filter.guildId) continue;
      if (entry.phase === "ended" || entry.phase === "removing") continue;
      if (!awake.has(entry.key)) infos.push(sleepingInfo(entry));
    }
    return infos;
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
    await session.started(state);
  }

  #assertAccepting(): void {
    const state = this.#deps.hostState();
    if (!refusesAgents(state)) return;
    const reason = state === "draining" ? "host is draining" : "host is shutting down";
    throw new GuildhallError(
      "unavailable",
      `${reason}; place the agent on another host (this host: ${this.#deps.address()})`,
    );
  }

  #assertStillCreating(entry: HostedAgent): void {
    if (this.agents.holds(entry) && entry.phase === "creating") return;
    throw new GuildhallError(
      "unavailable",
      entry.phase === "ended"
        ? `agent "${entry.spec.id}" exited right after it became ready; see GetAgentLogs, fix it and create it again`
        : `agent "${entry.spec.id}" was stopped while it was being created`,
    );
  }

  async #undoCreate(entry: HostedAgent, spawned: boolean): Promise<void> {
    const { guild, spec } = entry;
    await entry.session?.close(0);
    entry.session = undefined;
    await unwatchTopics(entry.watch);
    entry.watch = undefined;
    entry.timers?.close();
    if (spawned && this.#deps.manager.has(guild.id, spec.id)) {
      await this.#deps.manager.stop(guild.id, spec.id).catch(() => undefined);
    }
    if (entry.registered) await this.#registrations.deregister(guild.id, spec.id, entry.epoch);
    entry.registered = false;
    this.agents.remove(entry);
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
  ): Promise<HostedAgentInfo> {
    const entry = this.agents.get(guildId, agentId);
    await entry?.transition;
    const before = await this.info(guildId, agentId);
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
    const watch = entry.watch;
    entry.watch = undefined;
    entry.timers?.close();
    await unwatchTopics(watch);
    // The agent takes no more messages; the one in progress finishes and commits (within the
    // stop timeout) before the process is told to stop, so what it did is kept.
    const settled =
      (await entry.session?.close(options.timeoutMs ?? this.#deps.stopTimeoutMs)) ?? true;
    // A handler still running past the stop timeout is stuck: whatever it does now cannot commit,
    // and the runner would wait for it before onStop, so waiting out another timeout for SIGKILL
    // only delays the agent's next copy (a move, a re-placement), which handles its message again.
    // A settled session leaves the process nothing to handle: one without onStop ends at once.
    const stopped = settled
      ? this.#stopProcess(guild.id, spec.id, pid, options.timeoutMs, true)
      : this.#stopProcess(guild.id, spec.id, pid, 0);
    // The agent takes and commits nothing more, so unless its durable state is about to be
    // deleted (which a placement elsewhere must not race), its placement goes while its process
    // exits: a move's next copy starts that much sooner.
    const deregistered =
      options.forget === true ? undefined : this.#deregister(entry, wasCreating, options);
    await stopped;
    entry.session = undefined;
    this.agents.remove(entry);
    // Counted as soon as the process is gone, in the same turn as the host's agent count drops, so
    // a drain that sees no agent left also sees every hand-off that emptied it.
    if (options.handOff === true) {
      this.#handedOff++;
      this.#deps.metrics.agentsHandedOff.inc({ guild_id: guild.id });
    }
    this.#deps.metrics.agentLag.remove({ guild_id: guild.id, agent_id: spec.id });
    if (options.forget === true) {
      await this.#deps.bus.deleteAgent(guild.id, spec.id).catch((error: unknown) => {
        this.#logger.warn(
          { guild_id: guild.id, agent_id: spec.id, err: errorMessage(error) },
          "could not delete the stopped agent's durable state; stopping it again deletes it",
        );
      });
    }
    await (deregistered ?? this.#deregister(entry, wasCreating, options));
    this.#logger.info({ guild_id: guild.id, agent_id: spec.id }, "agent stopped");
  }

  async #deregister(
    entry: HostedAgent,
    wasCreating: boolean,
    options: StopHostedAgentOptions,
  ): Promise<void> {
    // A create in progress undoes its own registration when it sees the agent was stopped.
    if (entry.registered && options.keepRegistration !== true && !wasCreating) {
      entry.registered = false;
      await this.#registrations.deregister(entry.guild.id, entry.spec.id, entry.epoch);
    }
  }

  #stopProcess(
    guildId: string,
    agentId: string,
    pid?: number,
    timeoutMs?: number,
    quiesced = false,
  ): Promise<void> {
    const stopTimeoutMs = this.#deps.stopTimeoutMs;
    return stopAgentProcess(this.#deps.manager, guildId, agentId, {
      pid,
      timeoutMs,
      stopTimeoutMs,
      quiesced,
    });
  }

  /**
   * The host shuts down: every agent stops taking messages and commits the one in progress
   * (within the stop timeout), then every process stops. Their durable state stays for their next
   * placement; the registry is left to the host's deregistration.
   */
  async shutdown(): Promise<void> {
    clearInterval(this.#idleSweep);
    const entries = [...this.agents.values()];
    for (const entry of entries) entry.timers?.close();
    await Promise.all(entries.map((entry) => unwatchTopics(entry.watch)));
    await Promise.all(
      entries.map((entry) => entry.session?.close(this.#deps.stopTimeoutMs) ?? Promise.resolve()),
    );
    await this.#deps.manager.shutdown();
    for (const entry of entries) entry.session = undefined;
  }

  /**
   * Stops every agent; with `keepRegistration`, leaves the registry to a host deregistration.
   * Resolves with how many of them held a process (those that had ended are only removed).
   */
  async stopAll(options: StopHostedAgentOptions = {}): Promise<number> {
    const infos = await this.list();
    let stopped = 0;
    await Promise.all(
      infos.map(async (info) => {
        try {
          await this.stop(info.guildId, info.agentId, options);
          if (info.state !== "exited" && info.state !== "crashed") stopped++;
        } catch (error) {
          if (error instanceof GuildhallError && error.code === "not-found") return;
          this.#logger.error(
            { guild_id: info.guildId, agent_id: info.agentId, err: errorMessage(error) },
            "stopping agent failed",
          );
        }
      }),
    );
    return stopped;
  }

  /**
   * Agents this host stopped so they run on another host (see
   * {@link StopHostedAgentOptions.handOff}), in its whole life.
   */
  get handedOff(): number {
    return this.#handedOff;
  }

  // ---- registry ------------------------------------------------------------------------------

  /** Retries the deregistrations that failed; called by the heartbeat loop. */
  retryDeregistrations(): Promise<void> {
    return this.#registrations.retryFailed(
      (guildId, agentId, epoch) => this.agents.get(guildId, agentId)?.epoch === epoch,
    );
  }

  /**
   * Stops the local copies of agents that a newer placement owns (fencing). They are not
   * deregistered: the registry belongs to their new host now.
   */
  async relinquish(lost: readonly LostAgent[]): Promise<void> {
    await Promise.all(
      lost.map(async ({ guildId, agentId, epoch }) => {
        const entry = this.agents.get(guildId, agentId);
        if (entry === undefined || entry.epoch !== epoch) return;
        entry.registered = false;
        this.#logger.warn(
          { guild_id: guildId, agent_id: agentId, epoch },
          "agent is placed on another host now; stopping the local copy",
        );
        await this.stop(guildId, agentId, { keepRegistration: true, handOff: true }).catch(
          () => undefined,
        );
      }),
    );
  }

  // ---- messaging -----------------------------------------------------------------------------

  /** Publishes for an agent process; see {@link AgentSession.publish}. */
  async publish(agent: AgentRef, request: PublishRequest): Promise<Message> {
    return await this.#sessionOf(agent, "publish").publish(request);
  }

  /** Sets a timer for an agent process; see {@link AgentSession.schedule}. */
  async schedule(agent: AgentRef, request: ScheduleRequest): Promise<{ id: string }> {
    return await this.#sessionOf(agent, "set timers").schedule(request);
  }

  /** Cancels a timer for an agent process; see {@link AgentSession.cancelSchedule}. */
  async cancelSchedule(agent: AgentRef, request: CancelScheduleRequest): Promise<void> {
    await this.#sessionOf(agent, "cancel timers").cancelSchedule(request);
  }

  #sessionOf(agent: AgentRef, what: string): AgentSession {
    // An agent being stopped still runs its onStop, which may publish (a farewell, a hand-off):
    // only an agent whose process has ended is refused.
    const entry = this.agents.get(agent.guildId, agent.agentId);
    if (entry === undefined || entry.phase === "ended" || entry.session === undefined) {
      throw new GuildhallError(
        "unavailable",
        `agent "${agent.agentId}" has stopped on this host and can no longer ${what}`,
      );
    }
    return entry.session;
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
    const entry = this.agents.get(guildId, agentId);
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
    const entry = this.agents.get(guildId, agentId);
    if (entry === undefined || entry.phase === "removing" || entry.phase === "ended") return;
    const wasCreating = entry.phase === "creating";
    entry.phase = "ended";
    const session = entry.session;
    entry.session = undefined;
    void session?.close(0);
    if (entry.registered && !wasCreating) {
      entry.registered = false;
      void this.#registrations.deregister(guildId, agentId, entry.epoch);
    }
  }
}
