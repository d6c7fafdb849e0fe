// The execution-engine contract (DESIGN section 5). @guildhall/testing's
// describeExecutionEngineContract is its executable form: every engine must pass it.
import type { AgentSpec, GuildSpec } from "./spec.js";

/** Options of {@link ExecutionEngine.runAgent}. */
export interface RunAgentOptions {
  /**
   * How long to wait for the agent to become ready, in milliseconds; past it `runAgent` rejects
   * with `deadline-exceeded` and leaves nothing behind. Default: the engine's (30,000 for
   * InProcessExecutionEngine).
   */
  timeoutMs?: number;
  /** Aborts the start: `runAgent` rejects with `aborted` and leaves nothing behind. */
  signal?: AbortSignal;
  /**
   * Declare the agent asleep instead of starting it: `runAgent` resolves once it is recorded and
   * its topics are watched, and its first message or timer starts it (DESIGN section 13). It is
   * running for the engine API meanwhile, in state `hibernated`. Declaring runs at the speed of
   * the registry, not of process starts. InProcessExecutionEngine, which runs no processes,
   * starts the agent at once. Default false.
   */
  lazy?: boolean;
}

/** Options of {@link ExecutionEngine.shutdown}. */
export interface ShutdownOptions {
  /**
   * Stop every agent the engine runs (gracefully: each `onStop` runs) before shutting down.
   * Default false: engines whose agents live elsewhere leave them running. Agents that live in the
   * engine's process (InProcessExecutionEngine) cannot outlive it and are always stopped.
   */
  stopAgents?: boolean;
}

/** Options of {@link ExecutionEngine.moveAgent}. */
export interface MoveAgentOptions {
  /**
   * The host to move the agent to, by the address it registered with (`10.0.0.8:50051`).
   * Default: one the engine's placement picks among the eligible hosts (live, not draining, not
   * full) other than the agent's current one.
   */
  toHost?: string;
}

/** Where {@link ExecutionEngine.moveAgent} moved an agent from and to (host addresses). */
export interface MoveAgentResult {
  /** The host the agent ran on before the move. */
  from: string;
  /** The host it runs on now; never `from`. */
  to: string;
}

/**
 * Runs the agents of guilds: inside this process (`InProcessExecutionEngine`) or on a fleet of
 * agent hosts (`ClusterExecutionEngine`). Agents are identified by guild id and agent id: the
 * same agent id may run in two guilds.
 *
 * Failures are `GuildhallError`s: `invalid-argument` for a bad spec or className,
 * `permission-denied` for a module that is not allowed, `already-exists` for an agent already
 * running, `unavailable` after `shutdown`.
 */
export interface ExecutionEngine {
  /**
   * Starts `agent` as a member of `guild` and resolves once it is **ready**: its class is loaded,
   * its `onStart` has run, and it is subscribed to its topics, so a message published after this
   * resolves reaches it. On failure nothing is left behind: no agent, no subscription, no entry.
   */
  runAgent(guild: GuildSpec, agent: AgentSpec, opts?: RunAgentOptions): Promise<void>;
  /**
   * Stops an agent gracefully (its `onStop` runs) and resolves once it is stopped and no longer
   * listed. Idempotent: stopping an unknown or already stopped agent resolves.
   */
  stopAgent(guildId: string, agentId: string): Promise<void>;
  /**
   * Moves a running agent to another host and resolves once it is ready there: it stops taking
   * messages where it runs, its handler in progress finishes and commits, and it starts on the
   * other host from that state and those read positions, so no message is lost and none is
   * handled twice. The agent stays wanted throughout (nothing else places it meanwhile).
   *
   * Engines with a single place to run agents (InProcessExecutionEngine) refuse every move of a
   * running agent with `failed-precondition` and change nothing.
   *
   * @throws GuildhallError `not-found` (the agent does not run), `invalid-argument` (malformed
   *   ids, or `toHost` is where it runs), `failed-precondition` (no other host); a cluster engine
   *   adds the codes of its placement (see its documentation).
   */
  moveAgent(guildId: string, agentId: string, opts?: MoveAgentOptions): Promise<MoveAgentResult>;
  /** Whether the agent is running (ready and not stopped). */
  isAgentRunning(guildId: string, agentId: string): Promise<boolean>;
  /** The running agents of a guild by id, with their full specs as given to `runAgent`. */
  getAgentsInGuild(guildId: string): Promise<Map<string, AgentSpec>>;
  /** The full specs of the guild's running agents named `name`. */
  findAgentsByName(guildId: string, name: string): Promise<AgentSpec[]>;
  /** Releases the engine; afterwards its methods reject with `unavailable`. Idempotent. */
  shutdown(opts?: ShutdownOptions): Promise<void>;
}
