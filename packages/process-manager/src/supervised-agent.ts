// One agent under supervision: its process (through an AgentChannel per start), the restart policy
// applied when that process ends unasked, and its stop. Where the agent is in its life is one
// value, its phase, which holds what only that phase has (a process, a timer).
import {
  agentKey,
  errorMessage,
  GuildhallError,
  parseClassName,
  resolveAgentModule,
  validateMessage,
  type AgentSpec,
  type Message,
} from "@guildhall/core";
import { AgentChannel, type DeliverOptions, type DeliveryResult } from "./agent-channel.js";
import type { AgentInfo, AgentState } from "./agent-info.js";
import { asGuildhallError } from "./as-guildhall-error.js";
import type { AgentEventBase, AgentLifecycleEvent } from "./lifecycle-events.js";
import { LogBuffer } from "./log-buffer.js";
import type {
  AgentStopOptions,
  DurableState,
  ResolvedAgentProcessManagerOptions,
} from "./manager-options.js";
import { prepareStart } from "./prepare-start.js";
import {
  decideRestart,
  isFailure,
  resolveRestartPolicy,
  type ProcessExit,
  type ResolvedRestartPolicy,
} from "./restart-policy.js";
import type { RunnerProcess } from "./runner-process.js";
import type { GuildContext, ValidSpawnRequest } from "./spawn-request.js";

/** What a supervised agent needs from the manager that holds it. */
export interface SupervisorContext {
  readonly options: ResolvedAgentProcessManagerOptions;
  /** A process for the agent: from the warm pool when it has one that fits, else a fresh fork. */
  acquireRunner(memoryMb: number | undefined): { runner: RunnerProcess; warm: boolean };
  /** An id for a delivery or memory request, unique in the manager. */
  nextId(): number;
  emit(event: AgentLifecycleEvent): void;
  /** Whether the manager is shut down, so that nothing restarts. */
  isShutDown(): boolean;
  /** Brings the warm pool to its target after the agent took or freed a process slot. */
  refillPool(): void;
  /** Drops the agent from the manager: it was stopped, or its spawn failed. */
  forget(agent: SupervisedAgent): void;
}

/**
 * Where the agent is. A `starting` agent has a `channel` from its fork until that process exits;
 * `restart` marks a start by the restart policy (reported as `restarting`, as is the backoff
 * before it). `stopping` is final: the agent is forgotten once its process is gone.
 */
type Phase =
  | {
      readonly name: "starting";
      readonly restart: boolean;
      readonly channel: AgentChannel | undefined;
    }
  | { readonly name: "ready"; readonly channel: AgentChannel; readonly stableTimer: NodeJS.Timeout }
  | { readonly name: "restarting"; readonly backoffTimer: NodeJS.Timeout }
  | {
      readonly name: "stopping";
      readonly channel: AgentChannel | undefined;
      readonly done: Promise<void>;
    }
  | { readonly name: "exited" }
  | { readonly name: "crashed" };

/** A lifecycle event without the fields every event carries (whose it is, and when). */
type EventFields<E = AgentLifecycleEvent> = E extends AgentEventBase
  ? Omit<E, keyof AgentEventBase>
  : never;

/** A process that reported ready, and the state its onStart left when changed. */
interface Started {
  readonly channel: AgentChannel;
  readonly state: DurableState | undefined;
}

/** One agent the manager runs, from its spawn until it is stopped or replaced. */
export class SupervisedAgent {
  /** The manager's key of the agent (its guild and its id). */
  readonly key: string;
  readonly guild: Required<GuildContext>;
  readonly spec: AgentSpec;
  /** Its output, across restarts. */
  readonly logs: LogBuffer;
  readonly #context: SupervisorContext;
  readonly #policy: ResolvedRestartPolicy;
  readonly #createdAt: number;
  #phase: Phase = { name: "starting", restart: false, channel: undefined };
  /** The pid of the current or last process. */
  #lastPid: number | undefined;
  #startedAt: number;
  #restarts = 0;
  /** Restarts since the agent was last ready for `restartResetMs`. */
  #restartsInARow = 0;
  #lastError: string | undefined;
  #lastExit: ProcessExit | undefined;

  /** An agent yet to be started; `createdAt` is when its spawn was asked for. */
  constructor(request: ValidSpawnRequest, createdAt: number, context: SupervisorContext) {
    this.key = agentKey(request.guild.id, request.spec.id);
    this.guild = request.guild;
    this.spec = request.spec;
    this.#context = context;
    this.#policy = resolveRestartPolicy(
      request.spec.restartPolicy,
      context.options.defaultRestartPolicy,
    );
    this.logs = new LogBuffer(context.options.logLines);
    this.#createdAt = createdAt;
    this.#startedAt = createdAt;
  }

  /** Its state as {@link AgentInfo} reports it. */
  get state(): AgentState {
    const phase = this.#phase;
    if (phase.name === "starting") return phase.restart ? "restarting" : "starting";
    return phase.name;
  }

  /** Whether it holds, or is about to hold, one of the manager's process slots. */
  get holdsProcessSlot(): boolean {
    return this.#phase.name !== "exited" && this.#phase.name !== "crashed";
  }

  /**
   * The first start: resolves once the agent is ready, with the state its onStart left when
   * changed. A failed start forgets the agent (a stop does that itself) and, when a process was
   * started, reports how it ended.
   */
  async start(): Promise<DurableState | undefined> {
    let started: Started;
    try {
      // Checked here too so that a refused module costs no process at all.
      resolveAgentModule(
        parseClassName(this.spec.className).module,
        this.#context.options.agentModules,
      );
      started = await this.#launch(this.#createdAt, false);
      if (this.#stopping()) throw this.#stoppedBeforeReady();
    } catch (error) {
      this.#context.refillPool();
      if (this.#stopping()) throw this.#stoppedBeforeReady();
      const failure = asGuildhallError(error);
      const exit = this.#lastExit;
      this.#context.forget(this);
      if (exit !== undefined) {
        this.#emit({
          type: "crashed",
          pid: this.#lastPid,
          exitCode: exit.exitCode,
          signal: exit.signal,
          error: failure.message,
          willRestart: false,
          restartInMs: undefined,
          restarts: 0,
        });
      }
      throw failure;
    }
    this.#becomeReady(started, this.#createdAt);
    return started.state;
  }

  /**
   * Stops the agent: SIGTERM (its `onStop` runs), SIGKILL after `stopTimeoutMs`. Resolves once its
   * process is gone and the manager has forgotten it; a pending start rejects with `unavailable`.
   * Concurrent calls share one stop. See `AgentProcessManager.stop` for `options`.
   */
  stop(options: AgentStopOptions = {}): Promise<void> {
    const phase = this.#phase;
    if (phase.name === "stopping") return phase.done;
    if (phase.name === "ready") clearTimeout(phase.stableTimer);
    if (phase.name === "restarting") clearTimeout(phase.backoffTimer);
    const channel = phase.name === "starting" || phase.name === "ready" ? phase.channel : undefined;
    let stopped!: () => void;
    const done = new Promise<void>((resolve) => (stopped = resolve));
    this.#phase = { name: "stopping", channel, done };
    const atOnce =
      options.quiesced === true && (options.skipOnStop === true || channel?.gracefulStop === false);
    void this.#terminate(channel?.runner, atOnce).then(stopped);
    return done;
  }

  /**
   * Hands `message` to the agent; see `AgentProcessManager.deliver`.
   *
   * @throws GuildhallError `unavailable` (not ready), `invalid-argument` (not a valid Message)
   */
  deliver(message: Message, options?: DeliverOptions): Promise<DeliveryResult> {
    const phase = this.#phase;
    if (phase.name !== "ready") {
      throw new GuildhallError(
        "unavailable",
        `agent "${this.spec.id}" of guild "${this.guild.id}" is ${this.state}, not ready; deliver again once it is ready`,
      );
    }
    // Free for what a bus delivered: it checked the message already.
    return phase.channel.deliver(validateMessage(message), options);
  }

  /** A snapshot, with its process's current memory. */
  async info(): Promise<AgentInfo> {
    const memoryRssBytes = await this.#channel()?.rssBytes();
    return {
      guildId: this.guild.id,
      agentId: this.spec.id,
      agentName: this.spec.name,
      spec: this.spec,
      state: this.state,
      pid: this.#channel()?.runner.pid,
      createdAt: this.#createdAt,
      startedAt: this.#startedAt,
      restarts: this.#restarts,
      memoryRssBytes,
      lastError: this.#lastError,
      lastExit: this.#lastExit,
    };
  }

  #channel(): AgentChannel | undefined {
    const phase = this.#phase;
    return "channel" in phase ? phase.channel : undefined;
  }

  /**
   * Gives the agent a process and resolves once it reports ready. Rejects once that process has
   * exited, or at once when there is no process to be had.
   */
  async #launch(requestedAt: number, restart: boolean): Promise<Started> {
    const agent = { guildId: this.guild.id, agentId: this.spec.id, agentName: this.spec.name };
    // Asked before forking, which blocks this event loop: the host's read can be on its way.
    const prepared = prepareStart(this.#context.options.prepareStart, agent);
    // The channel handles it once there is a process; a fork that throws must leave it handled.
    prepared.catch(() => undefined);
    const { runner, warm } = this.#context.acquireRunner(this.spec.resources?.memoryMb);
    runner.setRef(true);
    const channel = new AgentChannel(runner, {
      guild: this.guild,
      spec: this.spec,
      logs: this.logs,
      options: this.#context.options,
      nextId: () => this.#context.nextId(),
      recordError: (message) => {
        this.#lastError = message;
      },
    });
    this.#lastPid = runner.pid;
    this.#startedAt = Date.now();
    this.#phase = { name: "starting", restart, channel };
    void runner.exited.then((exit) => this.#onExit(channel, exit));
    this.#emit({ type: "started", pid: runner.pid, warm });
    const state = await channel.start(prepared, requestedAt);
    return { channel, state };
  }

  #becomeReady(started: Started, requestedAt: number): void {
    const stableTimer = setTimeout(() => {
      this.#restartsInARow = 0;
    }, this.#context.options.restartResetMs);
    stableTimer.unref();
    this.#phase = { name: "ready", channel: started.channel, stableTimer };
    this.#emit({
      type: "ready",
      pid: started.channel.runner.pid,
      startupMs: Date.now() - requestedAt,
      ...(started.state !== undefined && { state: started.state }),
    });
  }

  #onExit(channel: AgentChannel, exit: ProcessExit): void {
    const phase = this.#phase;
    if (!("channel" in phase) || phase.channel !== channel) return;
    this.#lastExit = exit;
    channel.close(exit);
    if (phase.name !== "ready") {
      // The start's caller, or the stop, takes it from here.
      this.#phase = { ...phase, channel: undefined };
      return;
    }
    clearTimeout(phase.stableTimer);
    const reason = channel.exitReason(exit);
    this.#lastError = reason;
    this.#afterUnexpectedEnd(channel.runner.pid, exit, isFailure(exit), reason);
  }

  /** Applies the restart policy after a ready agent's process ended, or a restart failed. */
  #afterUnexpectedEnd(
    pid: number | undefined,
    exit: ProcessExit,
    failed: boolean,
    error: string,
  ): void {
    const decision = decideRestart(
      this.#policy,
      failed,
      this.#restartsInARow,
      this.#context.options.maxBackoffMs,
    );
    const base = { pid, exitCode: exit.exitCode, signal: exit.signal };
    if (decision.restart && !this.#context.isShutDown()) {
      const backoffTimer = setTimeout(() => void this.#restart(), decision.delayMs);
      this.#phase = { name: "restarting", backoffTimer };
      this.#emit({
        type: "crashed",
        ...base,
        error,
        willRestart: true,
        restartInMs: decision.delayMs,
        restarts: this.#restarts,
      });
      return;
    }
    if (!failed && !decision.restart && decision.reason === "policy") {
      this.#phase = { name: "exited" };
      this.#emit({ type: "stopped", ...base, requested: false });
    } else {
      this.#phase = { name: "crashed" };
      if (!decision.restart && decision.reason === "exhausted") {
        this.#lastError = `${error}; gave up after ${this.#restartsInARow} restarts in a row (restartPolicy.maxRestarts=${this.#policy.maxRestarts})`;
      }
      this.#emit({
        type: "crashed",
        ...base,
        error: this.#lastError,
        willRestart: false,
        restartInMs: undefined,
        restarts: this.#restarts,
      });
    }
    this.#context.refillPool();
  }

  async #restart(): Promise<void> {
    if (this.#phase.name !== "restarting" || this.#context.isShutDown()) return;
    this.#restarts++;
    this.#restartsInARow++;
    this.#phase = { name: "starting", restart: true, channel: undefined };
    const requestedAt = Date.now();
    let started: Started;
    try {
      started = await this.#launch(requestedAt, true);
    } catch (error) {
      this.#context.refillPool();
      if (this.#stopping()) return;
      const message = errorMessage(error);
      this.#lastError = message;
      const exit = this.#lastExit ?? { exitCode: null, signal: null };
      this.#afterUnexpectedEnd(this.#lastPid, exit, true, message);
      return;
    }
    this.#context.refillPool();
    if (this.#stopping()) return;
    this.#becomeReady(started, requestedAt);
    this.#emit({ type: "restarted", pid: started.channel.runner.pid, restarts: this.#restarts });
  }

  async #terminate(runner: RunnerProcess | undefined, atOnce: boolean): Promise<void> {
    let exit = runner?.exit;
    if (runner !== undefined && exit === undefined) {
      // Its own exit would do nothing but cost milliseconds (a move waits them out).
      runner.kill(atOnce ? "SIGKILL" : "SIGTERM");
      const escalate = setTimeout(
        () => runner.kill("SIGKILL"),
        this.#context.options.stopTimeoutMs,
      );
      exit = await runner.exited;
      clearTimeout(escalate);
    }
    this.#context.forget(this);
    this.#emit({
      type: "stopped",
      pid: runner?.pid,
      exitCode: exit?.exitCode ?? null,
      signal: exit?.signal ?? null,
      requested: true,
    });
  }

  /** Whether `stop` was called. Read after an await, where the phase may have changed. */
  #stopping(): boolean {
    return this.#phase.name === "stopping";
  }

  #stoppedBeforeReady(): GuildhallError {
    return new GuildhallError(
      "unavailable",
      `agent "${this.spec.id}" was stopped before it became ready`,
    );
  }

  #emit(event: EventFields): void {
    this.#context.emit({
      ...event,
      guildId: this.guild.id,
      agentId: this.spec.id,
      agentName: this.spec.name,
      timestamp: Date.now(),
    });
  }
}
