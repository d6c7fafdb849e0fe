// One supervised OS process per agent. The manager knows nothing of buses, registries or guild
// files: its user (the agent host) hands it specs, answers its agents' publish requests and
// delivers their messages. It holds the agents (each a SupervisedAgent, which runs, watches,
// restarts and stops its process), the process limit and the warm pool.
import {
  agentKey,
  GuildhallError,
  parseClassName,
  resolveAgentModule,
  type AgentSpec,
  type Message,
} from "@guildhall/core";
import type { DeliverOptions, DeliveryResult } from "./agent-channel.js";
import type { AgentInfo, AgentProcessManagerStatus } from "./agent-info.js";
import { WARM_UP_FLAG } from "./ipc-constants.js";
import { LifecycleEmitter, type AgentProcessManagerEvents } from "./lifecycle-events.js";
import type { LogLine } from "./log-buffer.js";
import {
  resolveAgentProcessManagerOptions,
  type AgentProcessManagerOptions,
  type AgentStopOptions,
  type DurableState,
  type ResolvedAgentProcessManagerOptions,
} from "./manager-options.js";
import { RunnerProcess } from "./runner-process.js";
import { validateSpawnRequest, type SpawnRequest } from "./spawn-request.js";
import { SupervisedAgent, type SupervisorContext } from "./supervised-agent.js";
import { WarmPool } from "./warm-pool.js";

const RUNNER_URL = new URL("./agent-process/agent-runner.js", import.meta.url);

/** How long after a spawn from the pool the pool forks its replacement. */
const REFILL_DELAY_MS = 25;

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

/**
 * Runs each agent in its own OS process and supervises it.
 *
 * - `spawn` resolves when the agent is ready: its process runs, its class was loaded from an
 *   allowed module and checked to extend `Agent`, and its `onStart` resolved. Any failure rejects
 *   with a GuildhallError saying what to fix, after the process is gone.
 * - Exits are seen from the process's `exit` event; the restart policy brings agents back with
 *   exponential backoff. Lifecycle events (`on`) report every change.
 * - Agents publish through `onPublish` (the host stamps the sender), set and cancel durable timers
 *   through `onSchedule` and `onCancelSchedule`, and receive through `deliver`.
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
  readonly #agents = new Map<string, SupervisedAgent>();
  readonly #events = new LifecycleEmitter();
  readonly #pool: WarmPool | undefined;
  readonly #context: SupervisorContext;
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
    this.#context = {
      options: this.#options,
      acquireRunner: (memoryMb) => this.#acquireRunner(memoryMb),
      nextId: () => this.#nextId++,
      emit: (event) => this.#events.emit(event),
      isShutDown: () => this.#shutDown,
      refillPool: () => this.#pool?.refill(),
      forget: (agent) => this.#forget(agent),
    };
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
    const valid = validateSpawnRequest(request);
    if (this.#shutDown) {
      throw new GuildhallError(
        "unavailable",
        "this AgentProcessManager is shut down; create a new one to run agents",
      );
    }
    const { guild, spec } = valid;
    const existing = this.#agents.get(agentKey(guild.id, spec.id));
    if (existing !== undefined) {
      if (existing.holdsProcessSlot) {
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
        `this host is full: ${active} of maxProcesses=${this.#options.maxProcesses} agent processes are in use; stop an agent, place it on another host, or raise maxProcesses (GUILDHALL_MAX_PROCESSES on a host)`,
      );
    }
    const agent = new SupervisedAgent(valid, requestedAt, this.#context);
    // Registered before the first await, so the id and the process slot are taken at once.
    this.#agents.set(agent.key, agent);
    const startState = await agent.start();
    const info = await agent.info();
    // A fork blocks this event loop for several milliseconds (the kernel copies the host's page
    // tables), so it waits until the caller has done what follows a spawn (a host subscribes and
    // registers the agent, then answers) instead of landing in the middle of it.
    setTimeout(() => this.#pool?.refill(), REFILL_DELAY_MS);
    return startState === undefined ? info : { ...info, startState };
  }

  /**
   * Stops an agent: SIGTERM (its `onStop` runs, then it exits 0), SIGKILL after `stopTimeoutMs`;
   * a `quiesced` agent with nothing to do at a stop gets SIGKILL at once. Resolves when the
   * process is gone and the agent is forgotten; a pending `spawn` of it rejects with
   * `unavailable`. Concurrent calls share one stop.
   *
   * @throws GuildhallError `not-found` when the manager has no such agent
   */
  async stop(guildId: string, agentId: string, options: AgentStopOptions = {}): Promise<void> {
    await this.#require(guildId, agentId).stop(options);
  }

  /**
   * Stops every agent (as `stop` does, in parallel) and the warm pool, and refuses further spawns.
   * Resolves when no process of this manager is left. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdownPromise ??= (async () => {
      this.#shutDown = true;
      await Promise.all([
        ...[...this.#agents.values()].map((agent) => agent.stop()),
        this.#pool?.close(),
      ]);
    })();
    return this.#shutdownPromise;
  }

  /**
   * Hands `message` to the agent. Messages to one agent are handled one at a time, in the order
   * delivered; the agent's own messages are skipped. Resolves when the agent has handled it, with
   * the state its handler left when changed (see {@link DeliveryResult}). More may be delivered
   * before it resolves: they wait in the agent process, which saves a round trip per message.
   *
   * @throws GuildhallError `not-found` (no such agent), `unavailable` (not ready, or it exited
   *   before handling the message), `invalid-argument` (not a valid Message)
   */
  async deliver(
    guildId: string,
    agentId: string,
    message: Message,
    options?: DeliverOptions,
  ): Promise<DeliveryResult> {
    return this.#require(guildId, agentId).deliver(message, options);
  }

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

  /**
   * Checks, without starting anything, that `spec`'s module is on the allowlist and exists, as
   * `spawn` does first: for an agent declared now and started later.
   *
   * @throws GuildhallError `permission-denied` (not on the allowlist), `not-found` (an allowed path
   *   that does not exist), `invalid-argument` (a malformed className)
   */
  checkAgentModule(spec: AgentSpec): void {
    resolveAgentModule(parseClassName(spec.className).module, this.#options.agentModules);
  }

  /** Whether the manager has the agent, in any state. */
  has(guildId: string, agentId: string): boolean {
    return this.#agents.has(agentKey(guildId, agentId));
  }

  /**
   * A snapshot of one agent, with its process's current memory.
   *
   * @throws GuildhallError `not-found`
   */
  async info(guildId: string, agentId: string): Promise<AgentInfo> {
    return this.#require(guildId, agentId).info();
  }

  /** Snapshots of all agents, or of one guild's. */
  async list(filter: { readonly guildId?: string } = {}): Promise<AgentInfo[]> {
    const agents = [...this.#agents.values()].filter(
      (agent) => filter.guildId === undefined || agent.guild.id === filter.guildId,
    );
    return Promise.all(agents.map((agent) => agent.info()));
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
    const logs = this.#require(guildId, agentId).logs;
    if (options.follow === true) {
      return logs.follow({
        ...(options.tail !== undefined && { tail: options.tail }),
        ...(options.signal !== undefined && { signal: options.signal }),
      });
    }
    const lines = logs.lines(options.tail);
    return (async function* () {
      yield* lines;
    })();
  }

  /** Counts of agents and the warm pool. */
  status(): AgentProcessManagerStatus {
    return {
      agents: this.#agents.size,
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

  #require(guildId: string, agentId: string): SupervisedAgent {
    const agent = this.#agents.get(agentKey(guildId, agentId));
    if (agent === undefined) {
      throw new GuildhallError(
        "not-found",
        `no agent "${agentId}" in guild "${guildId}" on this host; list agents to see what runs here`,
      );
    }
    return agent;
  }

  #activeCount(): number {
    let count = 0;
    for (const agent of this.#agents.values()) if (agent.holdsProcessSlot) count++;
    return count;
  }

  #forget(agent: SupervisedAgent): void {
    if (this.#agents.get(agent.key) === agent) this.#agents.delete(agent.key);
    agent.logs.close();
    this.#pool?.refill();
  }

  #acquireRunner(memoryMb: number | undefined): { runner: RunnerProcess; warm: boolean } {
    // A process with other Node flags cannot come from the pool: flags are fixed at fork.
    const pooled = memoryMb === undefined ? this.#pool?.take() : undefined;
    if (pooled !== undefined) return { runner: pooled, warm: true };
    const execArgv = memoryMb === undefined ? [] : [`--max-old-space-size=${memoryMb}`];
    return { runner: this.#fork(execArgv), warm: false };
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
