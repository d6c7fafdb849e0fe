// One supervised OS process per agent. The manager knows nothing of buses, registries or guild
// files: its user (the agent host) hands it specs, answers its agents' publish requests and
// delivers their messages; the manager runs, watches, restarts and stops the processes.
import {
  AgentSpec,
  DEFAULT_TOPIC,
  GuildhallError,
  ID_PATTERN,
  jsonProblem,
  parseClassName,
  resolveAgentModule,
  Message,
  type ErrorCode,
  type JsonValue,
  errorMessage,
  agentKey,
} from "@guildhall/core";
import type { AgentInfo, AgentProcessManagerStatus, AgentState } from "./agent-info.js";
import { WARM_UP_FLAG } from "./ipc-constants.js";
import { describeIssues, type PublishRequestMessage, type RunnerToHost } from "./ipc-protocol.js";
import {
  LifecycleEmitter,
  type AgentLifecycleEvent,
  type AgentProcessManagerEvents,
} from "./lifecycle-events.js";
import { LogBuffer, type LogLine } from "./log-buffer.js";
import {
  resolveAgentProcessManagerOptions,
  type AgentProcessManagerOptions,
  type AgentRef,
  type DurableState,
  type PublishRequest,
  type ResolvedAgentProcessManagerOptions,
} from "./manager-options.js";
import { readRssBytes } from "./process-memory.js";
import {
  decideRestart,
  isFailure,
  resolveRestartPolicy,
  type ProcessExit,
  type ResolvedRestartPolicy,
} from "./restart-policy.js";
import { describeExit, RunnerProcess } from "./runner-process.js";
import type { SpawnRequest } from "./spawn-request.js";
import { WarmPool } from "./warm-pool.js";

const RUNNER_URL = new URL("./agent-runner.js", import.meta.url);

/** How long after a spawn from the pool the pool forks its replacement. */
const REFILL_DELAY_MS = 25;
const STATS_TIMEOUT_MS = 1_000;

/**
 * What became of one delivery: handled, skipped (the agent's own message), or failed (its handler
 * threw, or left a state that is not JSON or over `maxStateBytes`; its state changes were dropped).
 * `deliveryId` is the `handler` of the publish requests the agent made while handling it.
 */
export type DeliveryResult =
  | {
      readonly status: "handled";
      readonly deliveryId: number;
      /** The state the handler left, when it changed it; the host commits it with the handler. */
      readonly state?: DurableState;
    }
  | { readonly status: "skipped"; readonly deliveryId: number }
  | { readonly status: "failed"; readonly deliveryId: number; readonly error: string };

/**
 * What `spawn` resolves with: the agent's info and, in `startState`, the state its `onStart` left
 * when it differs from the one it was given (as in its `ready` event).
 */
export type SpawnedAgent = AgentInfo & { readonly startState?: DurableState };

/** Options of {@link AgentProcessManager.logs}. */
export interface AgentLogsOptions {
  /** Keep yielding new lines until the agent is stopped (or `signal` aborts). Default false. */
  readonly follow?: boolean;
  /** Start with only the last `tail` buffered lines. Default: all buffered lines. */
  readonly tail?: number;
  /** Ends a follow. */
  readonly signal?: AbortSignal;
}

interface Startup {
  readonly resolve: (state: DurableState | undefined) => void;
  readonly reject: (error: GuildhallError) => void;
  readonly timer: NodeJS.Timeout;
  failure: GuildhallError | undefined;
}

interface PendingDelivery {
  readonly messageId: string;
  readonly resolve: (result: DeliveryResult) => void;
  readonly reject: (error: GuildhallError) => void;
}

interface AgentRecord {
  readonly key: string;
  readonly guild: { readonly id: string; readonly name: string; readonly defaultTopic: string };
  readonly spec: AgentSpec;
  readonly policy: ResolvedRestartPolicy;
  readonly logs: LogBuffer;
  readonly createdAt: number;
  state: AgentState;
  proc: RunnerProcess | undefined;
  /** The pid of the current or last process. */
  lastPid: number | undefined;
  startedAt: number;
  restarts: number;
  restartsInARow: number;
  lastError: string | undefined;
  lastExit: ProcessExit | undefined;
  /** A `fatal` report of the current process, kept as the reason of its exit. */
  fatal: string | undefined;
  startup: Startup | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  stableTimer: NodeJS.Timeout | undefined;
  stopRequested: boolean;
  stopping: Promise<void> | undefined;
  readonly deliveries: Map<number, PendingDelivery>;
  readonly stats: Map<number, (rssBytes: number | undefined) => void>;
}

const ACTIVE_STATES: ReadonlySet<AgentState> = new Set([
  "starting",
  "ready",
  "stopping",
  "restarting",
]);

function asGuildhallError(error: unknown, code: ErrorCode = "internal"): GuildhallError {
  return error instanceof GuildhallError ? error : new GuildhallError(code, errorMessage(error));
}

/**
 * Runs each agent in its own OS process and supervises it.
 *
 * - `spawn` resolves when the agent is ready: its process runs, its class was loaded from an
 *   allowed module and checked to extend `Agent`, and its `onStart` resolved. Any failure rejects
 *   with a GuildhallError saying what to fix, after the process is gone.
 * - Exits are seen from the process's `exit` event; the restart policy brings agents back with
 *   exponential backoff. Lifecycle events (`on`) report every change.
 * - Agents publish through `onPublish` (the host stamps the sender) and receive through `deliver`.
 * - A warm pool of idle runners makes spawns cheap; `shutdown` stops everything, pool included.
 *
 * @example
 * ```ts
 * const manager = await createAgentProcessManager({
 *   agentModules: ["/srv/agents"],
 *   onPublish: async (agent, request) => bus.publish(agent, request),
 * });
 * await manager.spawn({ guild: { id: "g1", name: "Demo" }, agent: spec });
 * await manager.shutdown();
 * ```
 */
export class AgentProcessManager {
  readonly #options: ResolvedAgentProcessManagerOptions;
  readonly #records = new Map<string, AgentRecord>();
  readonly #events = new LifecycleEmitter();
  readonly #pool: WarmPool | undefined;
  #nextId = 0;
  #shutDown = false;
  #shutdownPromise: Promise<void> | undefined;

  /**
   * Validates `options` (see {@link AgentProcessManagerOptions} for defaults) and starts filling
   * the warm pool in the background. Prefer {@link createAgentProcessManager}, which also waits
   * for the pool.
   *
   * @throws GuildhallError `invalid-argument` naming a bad option
   */
  constructor(options: AgentProcessManagerOptions = {}) {
    this.#options = resolveAgentProcessManagerOptions(options);
    if (this.#options.warmPoolSize > 0) {
      this.#pool = new WarmPool({
        size: this.#options.warmPoolSize,
        fork: () => this.#fork([], true),
        allowed: () => this.#options.maxProcesses - this.#activeCount(),
        startTimeoutMs: this.#options.startTimeoutMs,
        stopTimeoutMs: this.#options.stopTimeoutMs,
        onGiveUp: (error) =>
          process.emitWarning(
            `the agent warm pool stopped refilling because runners keep failing to start (${error.message}); spawns fork cold`,
            "GuildhallWarmPoolWarning",
          ),
      });
      this.#pool.refill();
    }
  }

  // ---- spawning ----------------------------------------------------------------------------

  /**
   * Starts an agent and resolves with its info once it is ready, with `startState` when its
   * `onStart` left a state other than the one `prepareStart` gave it (see {@link SpawnedAgent}).
   *
   * An earlier agent of the same guild and id that has `exited` or `crashed` is replaced.
   *
   * @throws GuildhallError `invalid-argument` (bad spec, missing export, not an Agent),
   *   `permission-denied` (module not on the allowlist), `not-found` (module missing),
   *   `already-exists` (the agent runs), `resource-exhausted` (`maxProcesses` reached),
   *   `deadline-exceeded` (not ready within `startTimeoutMs`), `unavailable` (shut down, or
   *   stopped while starting), `internal` (the module threw on import, `initialState` or
   *   `onStart` threw, the process died), `invalid-argument` too when `onStart` left a state that
   *   is not JSON or over `maxStateBytes`, and whatever `prepareStart` rejected with. No process
   *   is left behind.
   */
  async spawn(request: SpawnRequest): Promise<SpawnedAgent> {
    const requestedAt = Date.now();
    const { guild, spec } = this.#validate(request);
    if (this.#shutDown) {
      throw new GuildhallError(
        "unavailable",
        "this AgentProcessManager is shut down; create a new one to run agents",
      );
    }
    const key = agentKey(guild.id, spec.id);
    const existing = this.#records.get(key);
    if (existing !== undefined) {
      if (existing.state !== "exited" && existing.state !== "crashed") {
        throw new GuildhallError(
          "already-exists",
          `agent "${spec.id}" already runs in guild "${guild.id}" (state ${existing.state}); stop it first or choose another id`,
        );
      }
      this.#forget(existing);
    }
    const active = this.#activeCount();
    if (active >= this.#options.maxProcesses) {
      throw new GuildhallError(
        "resource-exhausted",
        `this host is full: ${active} of maxProcesses=${this.#options.maxProcesses} agent processes are in use; stop an agent, place it on another host, or raise maxProcesses (GUILDHALL_MAX_AGENTS on a host)`,
      );
    }

    const record: AgentRecord = {
      key,
      guild,
      spec,
      policy: resolveRestartPolicy(spec.restartPolicy, this.#options.defaultRestartPolicy),
      logs: new LogBuffer(this.#options.logLines),
      createdAt: requestedAt,
      state: "starting",
      proc: undefined,
      lastPid: undefined,
      startedAt: requestedAt,
      restarts: 0,
      restartsInARow: 0,
      lastError: undefined,
      lastExit: undefined,
      fatal: undefined,
      startup: undefined,
      restartTimer: undefined,
      stableTimer: undefined,
      stopRequested: false,
      stopping: undefined,
      deliveries: new Map(),
      stats: new Map(),
    };
    // Registered before the first await, so the id and the process slot are taken at once.
    this.#records.set(key, record);

    let startState: DurableState | undefined;
    try {
      // Checked here too so that a refused module costs no process at all.
      resolveAgentModule(parseClassName(spec.className).module, this.#options.agentModules);
      startState = await this.#launch(record, requestedAt);
      if (record.stopRequested) {
        throw new GuildhallError(
          "unavailable",
          `agent "${spec.id}" was stopped before it became ready`,
        );
      }
    } catch (error) {
      this.#pool?.refill();
      const failure = asGuildhallError(error);
      if (!record.stopRequested) {
        const exit = record.lastExit;
        this.#forget(record);
        // A process was started (and announced), so watchers learn how it ended.
        if (exit !== undefined) {
          this.#emit(record, {
            type: "crashed",
            pid: record.lastPid,
            exitCode: exit.exitCode,
            signal: exit.signal,
            error: failure.message,
            willRestart: false,
            restartInMs: undefined,
            restarts: 0,
          });
        }
      }
      throw failure;
    }
    record.state = "ready";
    this.#afterReady(record, requestedAt, startState);
    const info = this.#snapshot(record, await this.#rss(record));
    // A fork blocks this event loop for several milliseconds (the kernel copies the host's page
    // tables), so it waits until the caller has done what follows a spawn (a host subscribes and
    // registers the agent, then answers) instead of landing in the middle of it.
    setTimeout(() => this.#pool?.refill(), REFILL_DELAY_MS);
    return startState === undefined ? info : { ...info, startState };
  }

  #validate(request: SpawnRequest): { guild: AgentRecord["guild"]; spec: AgentSpec } {
    const guild = (request as Partial<SpawnRequest> | undefined)?.guild;
    if (typeof guild !== "object" || guild === null) {
      throw new GuildhallError("invalid-argument", "spawn needs { guild: { id, name }, agent }");
    }
    if (typeof guild.id !== "string" || !ID_PATTERN.test(guild.id)) {
      throw new GuildhallError(
        "invalid-argument",
        `guild id ${JSON.stringify(guild.id)} must match ${ID_PATTERN.source}`,
      );
    }
    if (typeof guild.name !== "string" || guild.name.length === 0 || guild.name.length > 256) {
      throw new GuildhallError("invalid-argument", "guild name must be 1 to 256 characters");
    }
    const defaultTopic = guild.defaultTopic ?? DEFAULT_TOPIC;
    if (
      typeof defaultTopic !== "string" ||
      defaultTopic.length === 0 ||
      defaultTopic.length > 256
    ) {
      throw new GuildhallError(
        "invalid-argument",
        "guild defaultTopic must be 1 to 256 characters",
      );
    }
    const parsed = AgentSpec.safeParse(request.agent);
    if (!parsed.success) {
      throw new GuildhallError(
        "invalid-argument",
        `invalid agent spec: ${describeIssues(parsed.error)}; fix the spec`,
      );
    }
    return { guild: { id: guild.id, name: guild.name, defaultTopic }, spec: parsed.data };
  }

  #fork(extraExecArgv: readonly string[], pooled = false): RunnerProcess {
    return RunnerProcess.fork({
      runnerUrl: RUNNER_URL,
      // A pooled runner has idle time to spend on warming up; a cold one has none.
      args: pooled ? [WARM_UP_FLAG] : [],
      execArgv: [...this.#options.execArgv, ...extraExecArgv],
      env: this.#options.env,
      maxLineChars: this.#options.maxLogLineChars,
    });
  }

  /**
   * Gives the agent a process and resolves when it reports ready, with the state its onStart left
   * when changed; rejects after the process has exited.
   */
  #launch(record: AgentRecord, requestedAt: number): Promise<DurableState | undefined> {
    // Asked before forking, which blocks this event loop: the host's read can be on its way.
    const prepared = this.#prepareStart(record);
    // Handled below once the process exists; a fork that throws must not leave it unhandled.
    prepared.catch(() => undefined);
    const memoryMb = record.spec.resources?.memoryMb;
    // A process with other Node flags cannot come from the pool: flags are fixed at fork.
    let proc = memoryMb === undefined ? this.#pool?.take() : undefined;
    const warm = proc !== undefined;
    proc ??= this.#fork(memoryMb === undefined ? [] : [`--max-old-space-size=${memoryMb}`]);
    proc.setRef(true);
    const current = proc;
    record.proc = current;
    record.lastPid = current.pid;
    record.startedAt = Date.now();
    record.fatal = undefined;
    current.attach({
      message: (message) => this.#onMessage(record, current, message),
      invalid: (description, raw) => this.#onInvalid(record, current, description, raw),
      line: (stream, text) => record.logs.append(stream, current.pid, text),
    });
    void current.exited.then((exit) => this.#onExit(record, current, exit));
    this.#emit(record, { type: "started", pid: current.pid, warm });

    return new Promise<DurableState | undefined>((resolve, reject) => {
      const startup: Startup = {
        resolve,
        reject,
        failure: undefined,
        timer: setTimeout(
          () => {
            startup.failure ??= new GuildhallError(
              "deadline-exceeded",
              `agent "${record.spec.id}" was not ready within startTimeoutMs=${this.#options.startTimeoutMs} ms (slow module load or onStart); make onStart return sooner or raise startTimeoutMs`,
            );
            current.kill("SIGKILL");
          },
          this.#options.startTimeoutMs - (Date.now() - requestedAt),
        ),
      };
      record.startup = startup;
      prepared.catch((error: unknown) => {
        if (record.startup !== startup) return;
        startup.failure ??= asGuildhallError(error);
        // The exit handler rejects the startup, once the process is gone.
        current.kill("SIGKILL");
      });
      Promise.all([current.hello, prepared]).then(
        ([, state]) => {
          if (record.startup !== startup) return;
          current.send({
            type: "start",
            guild: record.guild,
            agent: record.spec,
            agentModules: [...this.#options.agentModules],
            stopTimeoutMs: this.#options.stopTimeoutMs,
            ...(state !== undefined && { state }),
            maxStateBytes: this.#options.maxStateBytes,
          });
        },
        // The exit handler rejects the startup.
        () => undefined,
      );
    });
  }

  /** The stored state the agent starts with, from the `prepareStart` option. */
  async #prepareStart(record: AgentRecord): Promise<DurableState | undefined> {
    const prepare = this.#options.prepareStart;
    if (prepare === undefined) return undefined;
    const agent = {
      guildId: record.guild.id,
      agentId: record.spec.id,
      agentName: record.spec.name,
    };
    let prepared: unknown;
    try {
      prepared = await prepare(agent);
    } catch (error) {
      if (error instanceof GuildhallError) throw error;
      throw new GuildhallError(
        "internal",
        `prepareStart failed for agent "${agent.agentId}" of guild "${agent.guildId}": ${errorMessage(error)}`,
      );
    }
    const state = (prepared as { state?: unknown } | null | undefined)?.state;
    if (state === undefined) return undefined;
    // Checked here, not left to the runner, which would ignore the start and let it time out. A
    // plain walk rather than the schema: zod takes a tenth of a second over a megabyte of state.
    const wrapped = typeof state === "object" && state !== null && "value" in state;
    const value: unknown = wrapped ? state.value : undefined;
    const problem = wrapped ? jsonProblem(value, "state.value") : "state is not { value }";
    if (problem !== undefined) {
      throw new GuildhallError(
        "internal",
        `prepareStart resolved with an invalid state for agent "${agent.agentId}" of guild "${agent.guildId}" (${problem}); resolve with { state: { value } } holding JSON, or with {} when nothing is stored`,
      );
    }
    return { value: value as JsonValue };
  }

  #afterReady(record: AgentRecord, requestedAt: number, state: DurableState | undefined): void {
    const pid = record.proc?.pid;
    if (pid === undefined) return;
    this.#emit(record, {
      type: "ready",
      pid,
      startupMs: Date.now() - requestedAt,
      ...(state !== undefined && { state }),
    });
    clearTimeout(record.stableTimer);
    record.stableTimer = setTimeout(() => {
      record.restartsInARow = 0;
    }, this.#options.restartResetMs);
    record.stableTimer.unref();
  }

  // ---- process events ----------------------------------------------------------------------

  #onMessage(record: AgentRecord, proc: RunnerProcess, message: RunnerToHost): void {
    if (record.proc !== proc) return;
    switch (message.type) {
      case "ready": {
        const startup = record.startup;
        if (startup === undefined) return;
        record.startup = undefined;
        clearTimeout(startup.timer);
        startup.resolve(message.state);
        return;
      }
      case "failed":
        if (record.startup !== undefined) {
          record.startup.failure = new GuildhallError(message.code, message.message);
        }
        return;
      case "fatal":
        record.fatal = message.message;
        record.lastError = message.message;
        return;
      case "publish":
        this.#onPublish(record, proc, message);
        return;
      case "delivered": {
        const pending = record.deliveries.get(message.deliveryId);
        if (pending === undefined) return;
        record.deliveries.delete(message.deliveryId);
        const deliveryId = message.deliveryId;
        if (message.status === "failed") {
          const error = message.error ?? "unknown error";
          record.lastError = `onMessage failed on message ${pending.messageId}: ${error}`;
          pending.resolve({ status: "failed", deliveryId, error });
        } else if (message.status === "handled") {
          const state = message.state;
          pending.resolve({ status: "handled", deliveryId, ...(state !== undefined && { state }) });
        } else {
          pending.resolve({ status: "skipped", deliveryId });
        }
        return;
      }
      case "stats": {
        const resolve = record.stats.get(message.requestId);
        record.stats.delete(message.requestId);
        resolve?.(message.rssBytes);
        return;
      }
      case "hello":
        return;
    }
  }

  #onInvalid(record: AgentRecord, proc: RunnerProcess, description: string, raw: unknown): void {
    record.lastError = `agent process ${proc.pid} sent an invalid IPC message: ${description}`;
    // A publish request that fails validation still gets its answer, or the agent's send would hang.
    const candidate = raw as { type?: unknown; requestId?: unknown } | null;
    if (
      typeof candidate === "object" &&
      candidate !== null &&
      candidate.type === "publish" &&
      typeof candidate.requestId === "number" &&
      Number.isSafeInteger(candidate.requestId) &&
      candidate.requestId >= 0
    ) {
      proc.send({
        type: "publish-failed",
        requestId: candidate.requestId,
        code: "invalid-argument",
        message: `invalid publish request: ${description}`,
      });
    }
  }

  #onPublish(record: AgentRecord, proc: RunnerProcess, message: PublishRequestMessage): void {
    const handler = this.#options.onPublish;
    const agent: AgentRef = {
      guildId: record.guild.id,
      agentId: record.spec.id,
      agentName: record.spec.name,
      pid: proc.pid,
    };
    const request: PublishRequest = {
      topic: message.topic,
      payload: message.payload,
      format: message.format,
      ...(message.threadId !== undefined && { threadId: message.threadId }),
      ...(message.inResponseTo !== undefined && { inResponseTo: message.inResponseTo }),
      ...(message.traceparent !== undefined && { traceparent: message.traceparent }),
      ...(message.handler !== undefined && { handler: message.handler }),
    };
    const answer = async (): Promise<void> => {
      try {
        if (handler === undefined) {
          throw new GuildhallError(
            "unavailable",
            "this AgentProcessManager has no onPublish handler, so agents cannot publish; pass onPublish in its options",
          );
        }
        const published = Message.safeParse(await handler(agent, request));
        if (!published.success) {
          throw new GuildhallError(
            "internal",
            `onPublish resolved with an invalid Message (${describeIssues(published.error)}); resolve with the message as published`,
          );
        }
        proc.send({ type: "published", requestId: message.requestId, message: published.data });
      } catch (error) {
        const failure = asGuildhallError(error);
        proc.send({
          type: "publish-failed",
          requestId: message.requestId,
          code: failure.code,
          message: failure.message.slice(0, 65_536),
        });
      }
    };
    void answer();
  }

  #onExit(record: AgentRecord, proc: RunnerProcess, exit: ProcessExit): void {
    if (record.proc !== proc) return;
    record.proc = undefined;
    record.lastExit = exit;
    clearTimeout(record.stableTimer);
    for (const [id, pending] of record.deliveries) {
      record.deliveries.delete(id);
      pending.reject(
        new GuildhallError(
          "unavailable",
          `agent "${record.spec.id}" exited (${describeExit(exit)}) before it handled message ${pending.messageId}; deliver it again when the agent is ready`,
        ),
      );
    }
    for (const resolve of record.stats.values()) resolve(undefined);
    record.stats.clear();

    const startup = record.startup;
    if (startup !== undefined) {
      record.startup = undefined;
      clearTimeout(startup.timer);
      if (record.stopRequested) {
        startup.reject(
          new GuildhallError(
            "unavailable",
            `agent "${record.spec.id}" was stopped before it became ready`,
          ),
        );
        return;
      }
      const failure =
        startup.failure ??
        new GuildhallError(
          "internal",
          `agent process ${proc.pid} exited (${describeExit(exit)}) before agent "${record.spec.id}" was ready${this.#stderrTail(record, proc.pid)}`,
        );
      record.lastError = failure.message;
      startup.reject(failure);
      return;
    }
    if (record.stopRequested || record.state !== "ready") return;
    const reason =
      record.fatal ??
      `agent process ${proc.pid} exited unexpectedly (${describeExit(exit)})${this.#stderrTail(record, proc.pid)}`;
    record.lastError = reason;
    this.#afterUnexpectedEnd(record, proc.pid, exit, isFailure(exit), reason);
  }

  #stderrTail(record: AgentRecord, pid: number): string {
    const lines = record.logs
      .lines(50)
      .filter((line) => line.pid === pid && line.stream === "stderr")
      .slice(-5)
      .map((line) => line.text);
    return lines.length > 0 ? `; its last stderr lines: ${lines.join(" | ")}` : "";
  }

  /** Applies the restart policy after a ready agent's process ended, or a restart failed. */
  #afterUnexpectedEnd(
    record: AgentRecord,
    pid: number | undefined,
    exit: ProcessExit,
    failed: boolean,
    error: string,
  ): void {
    const decision = decideRestart(
      record.policy,
      failed,
      record.restartsInARow,
      this.#options.maxBackoffMs,
    );
    const base = { pid, exitCode: exit.exitCode, signal: exit.signal };
    if (decision.restart && !this.#shutDown) {
      record.state = "restarting";
      record.restartTimer = setTimeout(() => void this.#restart(record), decision.delayMs);
      this.#emit(record, {
        type: "crashed",
        ...base,
        error,
        willRestart: true,
        restartInMs: decision.delayMs,
        restarts: record.restarts,
      });
      return;
    }
    if (!failed && decision.restart === false && decision.reason === "policy") {
      record.state = "exited";
      this.#emit(record, { type: "stopped", ...base, requested: false });
    } else {
      record.state = "crashed";
      if (decision.restart === false && decision.reason === "exhausted") {
        record.lastError = `${error}; gave up after ${record.restartsInARow} restarts in a row (restartPolicy.maxRestarts=${record.policy.maxRestarts})`;
      }
      this.#emit(record, {
        type: "crashed",
        ...base,
        error: record.lastError,
        willRestart: false,
        restartInMs: undefined,
        restarts: record.restarts,
      });
    }
    this.#pool?.refill();
  }

  async #restart(record: AgentRecord): Promise<void> {
    record.restartTimer = undefined;
    if (record.stopRequested || this.#shutDown || this.#records.get(record.key) !== record) return;
    record.restarts++;
    record.restartsInARow++;
    const requestedAt = Date.now();
    let state: DurableState | undefined;
    try {
      state = await this.#launch(record, requestedAt);
    } catch (error) {
      this.#pool?.refill();
      if (record.stopRequested || this.#records.get(record.key) !== record) return;
      const message = errorMessage(error);
      record.lastError = message;
      const exit = record.lastExit ?? { exitCode: null, signal: null };
      this.#afterUnexpectedEnd(record, record.lastPid, exit, true, message);
      return;
    }
    this.#pool?.refill();
    if (record.stopRequested) return;
    record.state = "ready";
    this.#afterReady(record, requestedAt, state);
    const pid = record.proc?.pid;
    if (pid !== undefined) {
      this.#emit(record, { type: "restarted", pid, restarts: record.restarts });
    }
  }

  // ---- stopping ----------------------------------------------------------------------------

  /**
   * Stops an agent: SIGTERM (its `onStop` runs, then it exits 0), SIGKILL after `stopTimeoutMs`.
   * Resolves when the process is gone and the agent is forgotten; a pending `spawn` of it rejects
   * with `unavailable`. Concurrent calls share one stop.
   *
   * @throws GuildhallError `not-found` when the manager has no such agent
   */
  async stop(guildId: string, agentId: string): Promise<void> {
    await this.#stop(this.#require(guildId, agentId));
  }

  #stop(record: AgentRecord): Promise<void> {
    record.stopping ??= this.#stopNow(record);
    return record.stopping;
  }

  async #stopNow(record: AgentRecord): Promise<void> {
    record.stopRequested = true;
    clearTimeout(record.restartTimer);
    clearTimeout(record.stableTimer);
    record.state = "stopping";
    const proc = record.proc;
    let exit: ProcessExit | undefined = proc === undefined ? undefined : proc.exit;
    if (proc !== undefined && exit === undefined) {
      proc.kill("SIGTERM");
      const escalate = setTimeout(() => proc.kill("SIGKILL"), this.#options.stopTimeoutMs);
      exit = await proc.exited;
      clearTimeout(escalate);
    }
    record.state = "exited";
    this.#forget(record);
    this.#emit(record, {
      type: "stopped",
      pid: proc?.pid,
      exitCode: exit?.exitCode ?? null,
      signal: exit?.signal ?? null,
      requested: true,
    });
  }

  /**
   * Stops every agent (as `stop` does, in parallel) and the warm pool, and refuses further spawns.
   * Resolves when no process of this manager is left. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdownPromise ??= (async () => {
      this.#shutDown = true;
      await Promise.all([
        ...[...this.#records.values()].map((record) => this.#stop(record)),
        this.#pool?.close(),
      ]);
    })();
    return this.#shutdownPromise;
  }

  #forget(record: AgentRecord): void {
    clearTimeout(record.restartTimer);
    clearTimeout(record.stableTimer);
    if (this.#records.get(record.key) === record) this.#records.delete(record.key);
    record.logs.close();
    this.#pool?.refill();
  }

  // ---- messages ----------------------------------------------------------------------------

  /**
   * Hands `message` to the agent. Messages to one agent are handled one at a time, in the order
   * delivered; the agent's own messages are skipped. Resolves when the agent has handled it, with
   * the state its handler left when changed (see {@link DeliveryResult}).
   *
   * @throws GuildhallError `not-found` (no such agent), `unavailable` (not ready, or it exited
   *   before handling the message), `invalid-argument` (not a valid Message)
   */
  async deliver(guildId: string, agentId: string, message: Message): Promise<DeliveryResult> {
    const record = this.#require(guildId, agentId);
    const proc = record.proc;
    if (record.state !== "ready" || proc === undefined) {
      throw new GuildhallError(
        "unavailable",
        `agent "${agentId}" of guild "${guildId}" is ${record.state}, not ready; deliver again once it is ready`,
      );
    }
    const parsed = Message.safeParse(message);
    if (!parsed.success) {
      throw new GuildhallError(
        "invalid-argument",
        `not a valid Message: ${describeIssues(parsed.error)}`,
      );
    }
    const deliveryId = this.#nextId++;
    return new Promise<DeliveryResult>((resolve, reject) => {
      record.deliveries.set(deliveryId, { messageId: parsed.data.id, resolve, reject });
      if (!proc.send({ type: "deliver", deliveryId, message: parsed.data })) {
        record.deliveries.delete(deliveryId);
        reject(
          new GuildhallError(
            "unavailable",
            `agent "${agentId}" of guild "${guildId}" is exiting; deliver again once it is ready`,
          ),
        );
      }
    });
  }

  // ---- observing ---------------------------------------------------------------------------

  /**
   * Subscribes to lifecycle events of one type, or to all of them with `"lifecycle"`.
   * Listeners run synchronously and must not throw (a throw becomes a process warning).
   *
   * @returns a function that unsubscribes
   */
  on<K extends keyof AgentProcessManagerEvents>(
    type: K,
    listener: (event: AgentProcessManagerEvents[K]) => void,
  ): () => void {
    return this.#events.on(type, listener);
  }

  /** Whether the manager has the agent, in any state. */
  has(guildId: string, agentId: string): boolean {
    return this.#records.has(agentKey(guildId, agentId));
  }

  /**
   * A snapshot of one agent, with its process's current memory.
   *
   * @throws GuildhallError `not-found`
   */
  async info(guildId: string, agentId: string): Promise<AgentInfo> {
    const record = this.#require(guildId, agentId);
    return this.#snapshot(record, await this.#rss(record));
  }

  /** Snapshots of all agents, or of one guild's. */
  async list(filter: { readonly guildId?: string } = {}): Promise<AgentInfo[]> {
    const records = [...this.#records.values()].filter(
      (record) => filter.guildId === undefined || record.guild.id === filter.guildId,
    );
    return Promise.all(
      records.map(async (record) => this.#snapshot(record, await this.#rss(record))),
    );
  }

  /**
   * An agent's captured output (stdout and stderr, line by line, across restarts). Without
   * `follow` it yields the buffered lines and ends; with `follow` it goes on until the agent is
   * stopped, `signal` aborts, or the consumer breaks out.
   *
   * @throws GuildhallError `not-found`
   */
  logs(
    guildId: string,
    agentId: string,
    options: AgentLogsOptions = {},
  ): AsyncIterableIterator<LogLine> {
    const record = this.#require(guildId, agentId);
    if (options.follow === true) {
      return record.logs.follow({
        ...(options.tail !== undefined && { tail: options.tail }),
        ...(options.signal !== undefined && { signal: options.signal }),
      });
    }
    const lines = record.logs.lines(options.tail);
    return (async function* () {
      yield* lines;
    })();
  }

  /** Counts of agents and the warm pool. */
  status(): AgentProcessManagerStatus {
    return {
      agents: this.#records.size,
      activeAgents: this.#activeCount(),
      maxProcesses: this.#options.maxProcesses,
      warmPool: this.#pool?.status() ?? { size: 0, idlePids: [], starting: 0 },
      shutDown: this.#shutDown,
    };
  }

  /** Resolves once the warm pool is full (or disabled, given up, shut down). */
  whenWarm(): Promise<void> {
    return this.#pool?.whenFull() ?? Promise.resolve();
  }

  // ---- helpers -----------------------------------------------------------------------------

  #require(guildId: string, agentId: string): AgentRecord {
    const record = this.#records.get(agentKey(guildId, agentId));
    if (record === undefined) {
      throw new GuildhallError(
        "not-found",
        `no agent "${agentId}" in guild "${guildId}" on this host; list agents to see what runs here`,
      );
    }
    return record;
  }

  #activeCount(): number {
    let count = 0;
    for (const record of this.#records.values()) if (ACTIVE_STATES.has(record.state)) count++;
    return count;
  }

  async #rss(record: AgentRecord): Promise<number | undefined> {
    const proc = record.proc;
    if (proc === undefined) return undefined;
    const fromProc = readRssBytes(proc.pid);
    if (fromProc !== undefined) return fromProc;
    const requestId = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        record.stats.delete(requestId);
        resolve(undefined);
      }, STATS_TIMEOUT_MS);
      record.stats.set(requestId, (rss) => {
        clearTimeout(timer);
        resolve(rss);
      });
      if (!proc.send({ type: "stats-request", requestId })) {
        clearTimeout(timer);
        record.stats.delete(requestId);
        resolve(undefined);
      }
    });
  }

  #snapshot(record: AgentRecord, memoryRssBytes: number | undefined): AgentInfo {
    return {
      guildId: record.guild.id,
      agentId: record.spec.id,
      agentName: record.spec.name,
      spec: record.spec,
      state: record.state,
      pid: record.proc?.pid,
      createdAt: record.createdAt,
      startedAt: record.startedAt,
      restarts: record.restarts,
      memoryRssBytes,
      lastError: record.lastError,
      lastExit: record.lastExit,
    };
  }

  #emit(
    record: AgentRecord,
    event: AgentLifecycleEvent extends infer E
      ? E extends AgentLifecycleEvent
        ? Omit<E, "guildId" | "agentId" | "agentName" | "timestamp">
        : never
      : never,
  ): void {
    this.#events.emit({
      ...event,
      guildId: record.guild.id,
      agentId: record.spec.id,
      agentName: record.spec.name,
      timestamp: Date.now(),
    });
  }
}

/**
 * Creates an {@link AgentProcessManager} and resolves once its warm pool is full, so the first
 * spawns are already fast. Pair with `shutdown()`.
 *
 * @throws GuildhallError `invalid-argument` naming a bad option
 */
export async function createAgentProcessManager(
  options: AgentProcessManagerOptions = {},
): Promise<AgentProcessManager> {
  const manager = new AgentProcessManager(options);
  await manager.whenWarm();
  return manager;
}
