// The host's Prometheus metrics, in a prom-client Registry of its own (never the global one), so
// several hosts in one process (a local cluster, tests) keep separate numbers. Every name here is
// listed in the README; a test compares the two.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Buckets of operations that take milliseconds to seconds (RPCs, registry calls, agent starts). */
const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** What the agents-running gauge reads when scraped. */
export interface MetricsSource {
  /** Agents holding a process, by guild id. */
  runningByGuild(): ReadonlyMap<string, number>;
  /** Agents asleep (no process), by guild id. */
  hibernatedByGuild(): ReadonlyMap<string, number>;
  /** Per awake agent, the messages received and waiting to be handled. */
  queuedByAgent(): Iterable<{ guildId: string; agentId: string; queued: number }>;
  readonly maxAgents: number;
  /** Whether the host refuses new agents. */
  draining(): boolean;
}

/** The metrics of one host. */
export class HostMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  readonly agentCreateDuration: Histogram<never>;
  readonly agentCreateErrors: Counter<"code">;
  readonly agentRestarts: Counter<"guild_id">;
  readonly agentCrashes: Counter<"guild_id">;
  readonly rpcHandled: Counter<"method" | "code">;
  readonly rpcDuration: Histogram<"method" | "code">;
  readonly registryOpDuration: Histogram<"op" | "result">;
  readonly heartbeatFailures: Counter<never>;
  readonly messagesPublished: Counter<"guild_id">;
  readonly messagesDelivered: Counter<"guild_id">;
  readonly deliveryFailures: Counter<"guild_id">;
  readonly openStreams: Gauge<"method">;
  readonly agentCommits: Counter<"guild_id" | "result">;
  readonly agentCommitDuration: Histogram<never>;
  readonly agentStateBytes: Histogram<never>;
  readonly redeliveries: Counter<"guild_id">;
  readonly trimmedUnread: Counter<"guild_id">;
  readonly agentLag: Gauge<"guild_id" | "agent_id">;
  readonly agentsHandedOff: Counter<"guild_id">;

  constructor(source: MetricsSource, options: { processMetrics: boolean }) {
    const registers = [this.registry];
    const counter = <L extends string = never>(
      name: string,
      help: string,
      labelNames: readonly L[] = [],
    ) => new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string = never>(
      name: string,
      help: string,
      buckets: number[],
      labelNames: readonly L[] = [],
    ) => new Histogram<L>({ name, help, buckets, labelNames, registers });
    new Gauge({
      name: "guildhall_host_agents_running",
      help: "Agents holding a process on this host (starting, ready, stopping or restarting), by guild.",
      labelNames: ["guild_id"],
      registers,
      collect() {
        this.reset();
        for (const [guildId, count] of source.runningByGuild())
          this.set({ guild_id: guildId }, count);
      },
    });
    new Gauge({
      name: "guildhall_host_agents_hibernated",
      help: "Agents asleep on this host (declared, no process; their next message or timer wakes them), by guild.",
      labelNames: ["guild_id"],
      registers,
      collect() {
        this.reset();
        for (const [guildId, count] of source.hibernatedByGuild())
          this.set({ guild_id: guildId }, count);
      },
    });
    new Gauge({
      name: "guildhall_host_max_agents",
      help: "The most agents this host holds, asleep or awake.",
      registers,
      collect() {
        this.set(source.maxAgents);
      },
    });
    new Gauge({
      name: "guildhall_host_draining",
      help: "1 while the host refuses new agents (draining or shutting down), else 0.",
      registers,
      collect() {
        this.set(source.draining() ? 1 : 0);
      },
    });
    this.agentCreateDuration = histogram(
      "guildhall_host_agent_create_duration_seconds",
      "Time from a CreateAgent request to a ready, registered agent, for successful creates.",
      LATENCY_BUCKETS,
    );
    this.agentCreateErrors = counter(
      "guildhall_host_agent_create_errors_total",
      "CreateAgent requests refused or failed, by gRPC status code.",
      ["code"],
    );
    this.agentRestarts = counter(
      "guildhall_host_agent_restarts_total",
      "Agent processes restarted after a failure, by guild.",
      ["guild_id"],
    );
    this.agentsHandedOff = counter(
      "guildhall_host_agents_handed_off_total",
      "Agents stopped keeping their state for a copy on another host (moved, or placed anew elsewhere), by guild.",
      ["guild_id"],
    );
    this.agentCrashes = counter(
      "guildhall_host_agent_crashes_total",
      "Agent processes that failed (restarted or not), by guild.",
      ["guild_id"],
    );
    this.rpcHandled = counter(
      "guildhall_host_rpc_handled_total",
      "RPCs completed, by method and gRPC status code (ok for success).",
      ["method", "code"],
    );
    this.rpcDuration = histogram(
      "guildhall_host_rpc_duration_seconds",
      "Time to complete an RPC (a stream: until it ended), by method and gRPC status code.",
      LATENCY_BUCKETS,
      ["method", "code"],
    );
    this.registryOpDuration = histogram(
      "guildhall_host_registry_op_duration_seconds",
      "Time of location registry operations, by operation and result (ok or error).",
      LATENCY_BUCKETS,
      ["op", "result"],
    );
    this.heartbeatFailures = counter(
      "guildhall_host_heartbeat_failures_total",
      "Registry heartbeats that failed (the registry was unreachable); retried next interval.",
    );
    this.messagesPublished = counter(
      "guildhall_host_messages_published_total",
      "Messages this host's agents published on the bus, by guild.",
      ["guild_id"],
    );
    this.messagesDelivered = counter(
      "guildhall_host_messages_delivered_total",
      "Messages handed to this host's agents, by guild.",
      ["guild_id"],
    );
    this.deliveryFailures = counter(
      "guildhall_host_message_delivery_failures_total",
      "Messages an agent could not take (not ready, exited) or whose handler threw, by guild.",
      ["guild_id"],
    );
    this.openStreams = new Gauge({
      name: "guildhall_host_open_streams",
      help: "Server streams open now (WatchAgents, GetAgentLogs with follow, Health/Watch), by method.",
      labelNames: ["method"],
      registers,
    });
    this.agentCommits = counter(
      "guildhall_host_agent_commits_total",
      "Commits of agents' handled messages (state, position, sends in one step), by guild and result (committed, duplicate, fenced).",
      ["guild_id", "result"],
    );
    this.agentCommitDuration = histogram(
      "guildhall_host_agent_commit_duration_seconds",
      "From a handler's end to its commit's answer, retries included.",
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    );
    this.agentStateBytes = histogram(
      "guildhall_host_agent_state_bytes",
      "Size of each agent state stored by a commit, in bytes of JSON.",
      [64, 1024, 16_384, 131_072, 524_288, 1_048_576, 4_194_304],
    );
    this.redeliveries = counter(
      "guildhall_host_message_redeliveries_total",
      "Messages handed to an agent again after a restart on this host, because their handling had not been committed.",
      ["guild_id"],
    );
    this.trimmedUnread = counter(
      "guildhall_host_messages_trimmed_unread_total",
      "Times an agent resumed after a position its topic no longer held (trimmed by maxLenPerTopic): messages lost to it.",
      ["guild_id"],
    );
    new Gauge({
      name: "guildhall_host_agent_queue_depth",
      help: "Per awake agent, messages received and waiting to be handled (bounded per topic by the RedisBus's maxQueuedPerSubscription).",
      labelNames: ["guild_id", "agent_id"],
      registers,
      collect() {
        this.reset();
        for (const { guildId, agentId, queued } of source.queuedByAgent()) {
          this.set({ guild_id: guildId, agent_id: agentId }, queued);
        }
      },
    });
    this.agentLag = new Gauge({
      name: "guildhall_host_agent_lag_seconds",
      help: "Per agent, how old the last message it handled was when it was handed over.",
      labelNames: ["guild_id", "agent_id"],
      registers,
    });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Times `operation` as registry operation `op`. */
  async timeRegistry<T>(op: string, operation: () => Promise<T>): Promise<T> {
    const end = this.registryOpDuration.startTimer({ op });
    try {
      const result = await operation();
      end({ result: "ok" });
      return result;
    } catch (error) {
      end({ result: "error" });
      throw error;
    }
  }
}
