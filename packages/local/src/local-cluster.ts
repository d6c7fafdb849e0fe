// startLocalCluster: the embedded default (DESIGN section 5). Real agent hosts, each its own
// Connect server on its own port with agents as child processes, and an engine that drives them
// over HTTP/2 exactly as it drives a Kubernetes fleet; only the registry and the bus live in this
// process, in memory. Nothing to install: no Redis, no Kubernetes.
import { randomBytes } from "node:crypto";
import { GuildhallError, MemoryBus, type MessageBus } from "@guildhall/core";
import {
  ClusterExecutionEngine,
  type ClusterExecutionEngineOptions,
  type ReconcileOptions,
} from "@guildhall/engine";
import { createAgentHost, type AgentHost, type AgentHostOptions } from "@guildhall/host-server";
import { StaticDiscovery, type PlacementStrategy } from "@guildhall/placement";
import { MemoryLocationRegistry } from "@guildhall/registry";

/** Options of {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /** How many agent hosts to start. Default 1. */
  readonly hosts?: number;
  /**
   * Agent modules the hosts may load: package names, absolute directories or `file:` URLs, or
   * single files (see `agentModules` of `createAgentHost`). Required: a host loads nothing else.
   */
  readonly agentModules: readonly string[];
  /**
   * Agents each host holds at most, asleep or awake (the host's `maxAgents`); beyond every host's,
   * `runAgent` fails with `resource-exhausted`. Default: the host's (20,000).
   */
  readonly maxAgentsPerHost?: number;
  /** Milliseconds between two registry heartbeats of each host. Default 500. */
  readonly heartbeatMs?: number;
  /** Each host's lease in the registry, in milliseconds (see `createAgentHost`). Default 3000. */
  readonly leaseMs?: number;
  /** The engine's self-healing (see `ClusterExecutionEngine`). Default: the engine's. */
  readonly reconcile?: ReconcileOptions | false;
  /** The engine's placement strategy. Default: the engine's (`leastLoaded()`). */
  readonly placement?: PlacementStrategy;
  /** The engine's deadline per host call and `runAgent` default, in milliseconds. Default: the engine's. */
  readonly rpcTimeoutMs?: number;
  /**
   * The bearer token between engine and hosts. Default: a random one, so other users of this
   * machine cannot drive the hosts through their loopback ports.
   */
  readonly token?: string;
  /** The interface the hosts listen on. Default `"127.0.0.1"`. */
  readonly bindHost?: string;
  /**
   * More options for every host, such as `stopTimeoutMs`, `warmPoolSize` or `logLevel` (default
   * `"warn"`: the cluster shares its caller's terminal). Those this function sets (`port`,
   * `host`, `registry`, `bus`, `agentModules`, `maxAgents`, `heartbeatMs`, `leaseMs`, `token`)
   * are taken from the options above. Metrics are off unless `metricsPort` is given.
   */
  readonly hostOptions?: AgentHostOptions;
}

/** One host of a local cluster. */
export interface LocalClusterHost {
  /** Where the host serves the agent host API, as the registry records it (`127.0.0.1:<port>`). */
  readonly address: string;
  /** The host itself, e.g. to drain it or read its metrics. */
  readonly host: AgentHost;
}

/** A running local cluster. */
export interface LocalCluster {
  /** The engine that places agents on the hosts. */
  readonly engine: ClusterExecutionEngine;
  /** The bus every agent talks on; connect clients to it (`connectGuildClient`, `Guild`). */
  readonly bus: MessageBus;
  /** Where hosts and agents are registered, and desired state is recorded. */
  readonly registry: MemoryLocationRegistry;
  /** The hosts, in start order. */
  readonly hosts: readonly LocalClusterHost[];
  /**
   * Stops everything: the engine first (so nothing is re-placed), then every host (each stops
   * its agents: `onStop`, then SIGKILL after the host's `stopTimeoutMs`), then the registry and
   * the bus. Leaves no process behind. Idempotent.
   */
  stop(): Promise<void>;
}

function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", `startLocalCluster: ${message}`);
}

function checkOptions(options: LocalClusterOptions): number {
  if (typeof options !== "object" || (options as unknown) === null) {
    throw invalid(
      "options must be an object: startLocalCluster({ hosts: 2, agentModules: [...] })",
    );
  }
  const hosts = options.hosts ?? 1;
  if (!Number.isSafeInteger(hosts) || hosts < 1 || hosts > 64) {
    throw invalid(`option hosts must be a whole number from 1 to 64, got ${JSON.stringify(hosts)}`);
  }
  if (!Array.isArray(options.agentModules) || options.agentModules.length === 0) {
    throw invalid(
      "option agentModules must list the agent modules the hosts may load (package names or absolute paths); hosts refuse everything else",
    );
  }
  return hosts;
}

/**
 * Starts `hosts` real agent hosts on free ports of this machine, with a MemoryLocationRegistry, a
 * MemoryBus and a ClusterExecutionEngine in this process, and resolves once every host serves.
 * If a host fails to start, everything started is stopped before it rejects.
 *
 * @example
 * ```ts
 * const cluster = await startLocalCluster({ hosts: 2, agentModules: ["/srv/agents"] });
 * try {
 *   await cluster.engine.runAgent(guild, { id: "echo", name: "Echo", className: "/srv/agents/echo.js#Echo" });
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 *
 * @throws GuildhallError `invalid-argument` naming a bad option, or the first host's start failure
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const count = checkOptions(options);
  const token = options.token ?? randomBytes(24).toString("base64url");
  const registry = new MemoryLocationRegistry();
  const bus = new MemoryBus();
  const extra = options.hostOptions ?? {};
  const hostOptions: AgentHostOptions = {
    logLevel: "warn",
    metricsPort: false,
    ...extra,
    port: 0,
    host: options.bindHost ?? "127.0.0.1",
    registry,
    bus,
    agentModules: options.agentModules,
    token,
    ...(options.maxAgentsPerHost !== undefined && { maxAgents: options.maxAgentsPerHost }),
    ...(options.heartbeatMs !== undefined && { heartbeatMs: options.heartbeatMs }),
    ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
  };
  // Every host is created first, so bad options fail before anything starts.
  const agentHosts = Array.from({ length: count }, () => createAgentHost(hostOptions));
  const closeAll = async (): Promise<void> => {
    await Promise.all(agentHosts.map((h) => h.close()));
    await bus.close().catch(() => undefined);
    await registry.close().catch(() => undefined);
  };
  const started = await Promise.allSettled(agentHosts.map((h) => h.start()));
  const failure = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure !== undefined) {
    await closeAll();
    throw failure.reason;
  }
  const hosts = agentHosts.map((host) => ({ address: host.address, host }));
  const discovery = new StaticDiscovery(hosts.map((h) => h.address));
  const engineOptions: ClusterExecutionEngineOptions = {
    registry,
    discovery,
    bus,
    token,
    ...(options.reconcile !== undefined && { reconcile: options.reconcile }),
    ...(options.placement !== undefined && { placement: options.placement }),
    ...(options.rpcTimeoutMs !== undefined && { rpcTimeoutMs: options.rpcTimeoutMs }),
  };
  let engine: ClusterExecutionEngine;
  try {
    engine = new ClusterExecutionEngine(engineOptions);
  } catch (error) {
    await closeAll();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    engine,
    bus,
    registry,
    hosts,
    stop() {
      stopping ??= (async () => {
        // The engine goes first, so its reconciler does not re-place agents of closing hosts.
        await engine.shutdown().catch(() => undefined);
        await closeAll();
        await discovery.close();
      })();
      return stopping;
    },
  };
}
