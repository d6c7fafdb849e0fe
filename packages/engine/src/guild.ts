// Guild: a guild spec bound to an engine and a bus, the way applications run a whole guild and
// talk to it. It works with any ExecutionEngine (in-process or cluster).
import {
  GuildhallError,
  connectGuildClient,
  validateGuildSpec,
  type AgentSpec,
  type ExecutionEngine,
  type GuildClient,
  type GuildSpec,
  type MessageBus,
  type RunAgentOptions,
  errorMessage,
} from "@guildhall/core";
import { settleWithConcurrency } from "./bounded-concurrency.js";

/** Options of {@link Guild.launch}. */
export interface GuildLaunchOptions {
  /** Agents started at once. Default 8. */
  readonly concurrency?: number;
  /** How long each agent may take to become ready, in milliseconds. Default: the engine's. */
  readonly timeoutMs?: number;
  /** Aborts the launch; agents it started are stopped again. */
  readonly signal?: AbortSignal;
}

/**
 * A running guild: its spec, the engine that runs its agents and the bus its agents talk on.
 *
 * @example
 * ```ts
 * const guild = new Guild(parseGuildSpec(readFileSync("guild.yaml", "utf8")), engine, bus);
 * await guild.launch();
 * const app = guild.client("app", "My app");
 * await app.subscribe("default_topic", (m) => console.log(m.sender.id, m.payload));
 * await app.publish("default_topic", { content: "hello" });
 * await guild.shutdown();
 * ```
 */
export class Guild {
  /** The guild's spec, validated. */
  readonly spec: GuildSpec;
  readonly #engine: ExecutionEngine;
  readonly #bus: MessageBus | undefined;
  readonly #clients = new Set<GuildClient>();
  /** Agents started through this object, stopped by `shutdown` even if not in the spec. */
  readonly #launched = new Set<string>();
  #closing: Promise<void> | undefined;

  /**
   * @param spec - the guild; validated here
   * @param engine - runs the agents
   * @param bus - the bus the agents talk on, for {@link Guild.client}. Default: the engine's
   *   `bus` when it has one (ClusterExecutionEngine given a bus)
   * @throws GuildhallError `invalid-argument` for an invalid spec, naming each bad field
   */
  constructor(spec: GuildSpec, engine: ExecutionEngine, bus?: MessageBus) {
    this.spec = validateGuildSpec(spec, { source: "Guild" });
    if (typeof engine?.runAgent !== "function") {
      throw new GuildhallError(
        "invalid-argument",
        "Guild: engine must be an ExecutionEngine (ClusterExecutionEngine, InProcessExecutionEngine)",
      );
    }
    this.#engine = engine;
    this.#bus = bus ?? (engine as { bus?: MessageBus }).bus;
  }

  /** The guild's id. */
  get id(): string {
    return this.spec.id;
  }

  /**
   * Starts every agent of the spec, at most `concurrency` at once, and resolves when all are
   * ready. If any fails, the agents this launch started are stopped again and it rejects with
   * the first failure's code and a message naming every agent that failed and why.
   */
  async launch(options: GuildLaunchOptions = {}): Promise<void> {
    this.#assertOpen("launch");
    const concurrency = options.concurrency ?? 8;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new GuildhallError(
        "invalid-argument",
        `Guild.launch: concurrency must be a whole number of at least 1, got ${JSON.stringify(options.concurrency)}`,
      );
    }
    const runOptions: RunAgentOptions = {
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.signal !== undefined && { signal: options.signal }),
    };
    const agents = this.spec.agents;
    const results = await settleWithConcurrency(agents, concurrency, async (agent) => {
      await this.#engine.runAgent(this.spec, agent, runOptions);
      this.#launched.add(agent.id);
    });
    const failed: { agent: AgentSpec; error: unknown }[] = [];
    const started: string[] = [];
    results.forEach((result, index) => {
      const agent = agents[index];
      if (agent === undefined) return;
      if (result.ok) started.push(agent.id);
      else failed.push({ agent, error: result.error });
    });
    const first = failed[0];
    if (first === undefined) return;
    const rollback = await settleWithConcurrency(started, concurrency, (agentId) =>
      this.#engine.stopAgent(this.spec.id, agentId),
    );
    const leftRunning = started.filter((_, index) => rollback[index]?.ok === false);
    for (const agentId of started)
      if (!leftRunning.includes(agentId)) this.#launched.delete(agentId);
    const lines = failed.map(({ agent, error }) => `${agent.id}: ${errorMessage(error)}`);
    const code = first.error instanceof GuildhallError ? first.error.code : "internal";
    throw new GuildhallError(
      code,
      `guild "${this.spec.id}" did not launch: ${failed.length} of ${agents.length} agent(s) failed to start; ` +
        (leftRunning.length === 0
          ? `the ${started.length} that started were stopped again`
          : `stopping ${leftRunning.join(", ")} failed too, they may still run`) +
        `:\n  ${lines.join("\n  ")}`,
      { cause: new AggregateError(failed.map((f) => f.error)) },
    );
  }

  /** Starts one more agent in this guild and resolves once it is ready (see `runAgent`). */
  async launchAgent(spec: AgentSpec, options: RunAgentOptions = {}): Promise<void> {
    this.#assertOpen("launch an agent");
    await this.#engine.runAgent(this.spec, spec, options);
    this.#launched.add(spec.id);
  }

  /** Stops one agent of this guild; idempotent. */
  async removeAgent(agentId: string): Promise<void> {
    await this.#engine.stopAgent(this.spec.id, agentId);
    this.#launched.delete(agentId);
  }

  /** The guild's running agents with their full specs, by id. */
  agents(): Promise<Map<string, AgentSpec>> {
    return this.#engine.getAgentsInGuild(this.spec.id);
  }

  /**
   * A participant of the guild that is not an agent: publishes and subscribes on the guild's
   * bus as `id`. Closed by {@link Guild.shutdown}.
   *
   * @throws GuildhallError `failed-precondition` when the guild has no bus
   */
  client(id: string, name?: string): GuildClient {
    this.#assertOpen("connect a client");
    if (this.#bus === undefined) {
      throw new GuildhallError(
        "failed-precondition",
        `guild "${this.spec.id}" has no bus to connect a client to; pass the bus its agents use: new Guild(spec, engine, bus)`,
      );
    }
    const client = connectGuildClient(this.#bus, {
      guildId: this.spec.id,
      id,
      ...(name !== undefined && { name }),
    });
    this.#clients.add(client);
    return client;
  }

  /**
   * Closes the guild's clients and stops its agents: those of the spec, those launched through
   * this object, and any other agent running in the guild. Idempotent. The engine and bus stay
   * open.
   *
   * @throws GuildhallError `unavailable` naming agents that could not be stopped
   */
  shutdown(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await Promise.allSettled([...this.#clients].map((c) => c.close()));
    this.#clients.clear();
    const running = await this.#engine.getAgentsInGuild(this.spec.id);
    const ids = [
      ...new Set([...this.spec.agents.map((a) => a.id), ...this.#launched, ...running.keys()]),
    ];
    const results = await settleWithConcurrency(ids, 8, (agentId) =>
      this.#engine.stopAgent(this.spec.id, agentId),
    );
    const failures = ids
      .map((agentId, index) => {
        const result = results[index];
        return result?.ok === false ? `${agentId}: ${errorMessage(result.error)}` : undefined;
      })
      .filter((line): line is string => line !== undefined);
    this.#launched.clear();
    if (failures.length > 0) {
      throw new GuildhallError(
        "unavailable",
        `guild "${this.spec.id}" could not stop ${failures.length} agent(s); call shutdown on a new Guild to retry:\n  ${failures.join("\n  ")}`,
      );
    }
  }

  #assertOpen(what: string): void {
    if (this.#closing !== undefined) {
      throw new GuildhallError(
        "failed-precondition",
        `guild "${this.spec.id}" was shut down and cannot ${what}; create a new Guild`,
      );
    }
  }
}
