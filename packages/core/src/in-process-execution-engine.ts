// An ExecutionEngine whose agents run inside the caller's process: for tests, notebooks and small
// deployments. It keeps the same contract as the cluster engine so code moves between them.
import type { AgentLogger } from "./agent.js";
import { loadAgentClass } from "./agent-loader.js";
import { GuildhallError } from "./errors.js";
import type {
  ExecutionEngine,
  MoveAgentOptions,
  MoveAgentResult,
  RunAgentOptions,
  ShutdownOptions,
} from "./execution-engine.js";
import { agentKey, type MessageIdGenerator } from "./ids.js";
import { createJsonLogger } from "./logger.js";
import { isDurableBus, type DurableMessageBus } from "./agent-store.js";
import { checkId } from "./option-checks.js";
import type { AgentSpec, GuildSpec } from "./spec.js";
import { startAgent } from "./start-agent.js";
import type { RunningAgent } from "./start-agent.js";
import { validateAgentSpec, validateGuildReference } from "./validation.js";

/** Options of {@link InProcessExecutionEngine}. */
export interface InProcessExecutionEngineOptions {
  /**
   * The bus agents talk on, and keep their state and read positions in: a `MemoryBus` (durable
   * for the life of this process) or a `RedisBus`. The engine does not close it.
   */
  bus: DurableMessageBus;
  /**
   * The modules agents may be loaded from (package names, absolute paths or file URLs); any
   * other className is refused with `permission-denied`. Default: any module, since in-process
   * agents run the caller's own code anyway.
   */
  agentModules?: readonly string[];
  /** Where agents' logs go; entries carry `guildId` and `agentId`. Default: JSON lines on stderr. */
  log?: AgentLogger;
  /** Where the ids of agents' messages come from. Default: this process's generator. */
  ids?: MessageIdGenerator;
  /** Default of `RunAgentOptions.timeoutMs`: how long `onStart` may take, in ms. Default 30,000. */
  readyTimeoutMs?: number;
  /** How long `stopAgent` waits for the message being handled, then for `onStop`, in ms. Default 10,000. */
  stopTimeoutMs?: number;
  /** The largest state an agent may keep, in bytes of its JSON. Default 1 MiB (1,048,576). */
  maxStateBytes?: number;
}

interface Entry {
  spec: AgentSpec;
  guild: Pick<GuildSpec, "id" | "defaultTopic">;
  running: RunningAgent;
}

/**
 * Runs agents inside this process, on a bus (usually a `MemoryBus`).
 *
 * Agents are loaded by className (`"<module>#<Export>"`: a package name, an absolute path or a
 * file URL) with a dynamic `import()`. `runAgent` resolves once the agent's `onStart` has run and
 * it is subscribed to its topics. Since agents live in this process they cannot outlive the
 * engine: `shutdown` always stops them.
 *
 * @example
 * ```ts
 * const bus = new MemoryBus();
 * const engine = new InProcessExecutionEngine({ bus });
 * await engine.runAgent(guild, guild.agents[0]);
 * ```
 */
export class InProcessExecutionEngine implements ExecutionEngine {
  readonly #bus: DurableMessageBus;
  readonly #options: InProcessExecutionEngineOptions;
  readonly #log: AgentLogger;
  readonly #guilds = new Map<string, Map<string, Entry>>();
  readonly #starting = new Map<string, Promise<unknown>>();
  readonly #stopping = new Map<string, Promise<void>>();
  #shutdownPromise: Promise<void> | undefined;

  constructor(options: InProcessExecutionEngineOptions) {
    if (typeof options?.bus?.publish !== "function" || !isDurableBus(options.bus)) {
      throw new GuildhallError(
        "invalid-argument",
        "InProcessExecutionEngine needs a bus that keeps agents durable (a MemoryBus or a RedisBus): new InProcessExecutionEngine({ bus: new MemoryBus() })",
      );
    }
    this.#bus = options.bus;
    this.#options = options;
    this.#log = options.log ?? createJsonLogger();
  }

  async runAgent(guild: GuildSpec, agent: AgentSpec, opts: RunAgentOptions = {}): Promise<void> {
    this.#checkOpen();
    const guildSpec = validateGuildReference(guild);
    const spec = validateAgentSpec(agent);
    const key = agentKey(guildSpec.id, spec.id);
    // A previous run of this id that is still stopping must be gone before the new one starts.
    for (let pending = this.#stopping.get(key); pending; pending = this.#stopping.get(key)) {
      await pending;
    }
    this.#checkOpen();
    if (this.#starting.has(key) || this.#guilds.get(guildSpec.id)?.has(spec.id)) {
      throw new GuildhallError(
        "already-exists",
        `agent "${spec.id}" is already running in guild "${guildSpec.id}"; stop it first, or give the new agent another id`,
      );
    }

    const timeoutMs = opts.timeoutMs ?? this.#options.readyTimeoutMs ?? 30_000;
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (opts.signal !== undefined) signals.push(opts.signal);
    const start = (async () => {
      const agentClass = await loadAgentClass(
        spec.className,
        this.#options.agentModules === undefined
          ? {}
          : { agentModules: this.#options.agentModules },
      );
      const running = await startAgent({
        bus: this.#bus,
        guild: guildSpec,
        spec,
        agentClass,
        log: this.#log,
        ...(this.#options.ids === undefined ? {} : { ids: this.#options.ids }),
        ...(this.#options.maxStateBytes === undefined
          ? {}
          : { maxStateBytes: this.#options.maxStateBytes }),
        signal: AbortSignal.any(signals),
      });
      if (this.#shutdownPromise !== undefined) {
        await running.stop(this.#stopOptions());
        throw new GuildhallError(
          "unavailable",
          `the engine shut down while agent "${spec.id}" was starting; it was stopped`,
        );
      }
      let agents = this.#guilds.get(guildSpec.id);
      if (agents === undefined) {
        agents = new Map();
        this.#guilds.set(guildSpec.id, agents);
      }
      agents.set(spec.id, { spec, guild: guildSpec, running });
    })();
    // Whoever waits on a start (stopAgent, shutdown) resumes only after it registered or failed.
    this.#starting.set(
      key,
      start.catch(() => undefined),
    );
    try {
      await start;
    } finally {
      this.#starting.delete(key);
    }
  }

  /** Stops the agent and deletes its state, read positions and timers: a later run starts afresh. */
  async stopAgent(guildId: string, agentId: string): Promise<void> {
    this.#checkOpen();
    await this.#stop(guildId, agentId);
    await this.#bus.deleteAgent(guildId, agentId);
  }

  /**
   * Refuses: every agent of this engine runs in this one process, so there is no other host to
   * move it to. The agent keeps running as it was.
   *
   * @throws GuildhallError `invalid-argument` (malformed ids), `not-found` (the agent does not
   *   run), else `failed-precondition`
   */
  async moveAgent(
    guildId: string,
    agentId: string,
    _opts: MoveAgentOptions = {},
  ): Promise<MoveAgentResult> {
    this.#checkOpen();
    checkId("moveAgent: guild id", guildId);
    checkId("moveAgent: agent id", agentId);
    if (!(this.#guilds.get(guildId)?.has(agentId) ?? false)) {
      throw new GuildhallError(
        "not-found",
        `agent "${agentId}" is not running in guild "${guildId}"; nothing to move`,
      );
    }
    throw new GuildhallError(
      "failed-precondition",
      `cannot move agent "${agentId}" of guild "${guildId}": InProcessExecutionEngine runs every agent in this one process, which has no other host; run the guild on a ClusterExecutionEngine (startLocalCluster) to move agents. The agent keeps running here`,
    );
  }

  isAgentRunning(guildId: string, agentId: string): Promise<boolean> {
    return this.#open(() => this.#guilds.get(guildId)?.has(agentId) ?? false);
  }

  getAgentsInGuild(guildId: string): Promise<Map<string, AgentSpec>> {
    return this.#open(() => {
      const result = new Map<string, AgentSpec>();
      for (const [id, entry] of this.#guilds.get(guildId) ?? []) {
        result.set(id, structuredClone(entry.spec));
      }
      return result;
    });
  }

  findAgentsByName(guildId: string, name: string): Promise<AgentSpec[]> {
    return this.#open(() =>
      [...(this.#guilds.get(guildId)?.values() ?? [])]
        .filter((entry) => entry.spec.name === name)
        .map((entry) => structuredClone(entry.spec)),
    );
  }

  /**
   * Ends an agent's copy as a crash would (the handler in progress is not committed, `onStop`
   * does not run) and starts it again from its committed state and read positions, as a host
   * restarts a crashed agent process. For testing what an agent keeps through a crash.
   *
   * @throws GuildhallError `not-found` when the agent is not running; the errors of `runAgent`.
   */
  async restartAgent(guildId: string, agentId: string): Promise<void> {
    this.#checkOpen();
    const entry = this.#guilds.get(guildId)?.get(agentId);
    if (entry === undefined) {
      throw new GuildhallError(
        "not-found",
        `agent "${agentId}" is not running in guild "${guildId}"; run it first`,
      );
    }
    await entry.running.abandon();
    this.#guilds.get(guildId)?.delete(agentId);
    await this.runAgent({ name: entry.guild.id, agents: [], ...entry.guild }, entry.spec);
  }

  /**
   * Stops every agent (whatever `stopAgents` says: they cannot outlive this process's engine).
   * Their state is kept: on a durable bus, running them again resumes them.
   */
  shutdown(_opts: ShutdownOptions = {}): Promise<void> {
    this.#shutdownPromise ??= (async () => {
      await Promise.all(this.#starting.values());
      const all: Promise<void>[] = [...this.#stopping.values()];
      for (const [guildId, agents] of this.#guilds) {
        for (const agentId of [...agents.keys()]) all.push(this.#stop(guildId, agentId));
      }
      await Promise.all(all);
    })();
    return this.#shutdownPromise;
  }

  async #stop(guildId: string, agentId: string): Promise<void> {
    const key = agentKey(guildId, agentId);
    const starting = this.#starting.get(key);
    if (starting !== undefined) await starting;
    const stopping = this.#stopping.get(key);
    if (stopping !== undefined) return stopping;
    const agents = this.#guilds.get(guildId);
    const entry = agents?.get(agentId);
    if (agents === undefined || entry === undefined) return;
    // Unlisted first: once stopAgent is called, the agent is no longer reported as running.
    agents.delete(agentId);
    if (agents.size === 0) this.#guilds.delete(guildId);
    const done = entry.running.stop(this.#stopOptions()).finally(() => this.#stopping.delete(key));
    this.#stopping.set(key, done);
    return done;
  }

  #stopOptions(): { timeoutMs?: number } {
    return this.#options.stopTimeoutMs === undefined
      ? {}
      : { timeoutMs: this.#options.stopTimeoutMs };
  }

  #open<T>(read: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      this.#checkOpen();
      resolve(read());
    });
  }

  #checkOpen(): void {
    if (this.#shutdownPromise !== undefined) {
      throw new GuildhallError(
        "unavailable",
        "this InProcessExecutionEngine has shut down; create a new engine to run agents",
      );
    }
  }
}
