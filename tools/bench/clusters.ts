// The clusters the benchmark drives: local clusters (startLocalCluster: hosts in this process,
// agents as its children) and Redis-backed clusters (`guildhall host` processes, engine here).
// Each knows which processes to wait on for quiet and how many idle children they have.
import type { AgentSpec, GuildSpec } from "@guildhall/core";
import { ClusterExecutionEngine, type ReconcileOptions } from "@guildhall/engine";
import { resolveAgentHostOptions } from "@guildhall/host-server";
import { startLocalCluster } from "@guildhall/local";
import { leastLoaded, StaticDiscovery, type PlacementStrategy } from "@guildhall/placement";
import { RedisLocationRegistry, type LocationRegistry } from "@guildhall/registry";
import { startHostProcess, type HostProcess } from "../test-support/host-process.js";
import { AGENTS_DIR } from "./paths.js";
import { childPids, waitForQuiet, type QuietGroup } from "./proc.js";
import type { Teardown } from "./teardown.js";

/** The host's default warm pool, as `createAgentHost` and `guildhall host` use it. */
export const DEFAULT_WARM_POOL_SIZE = resolveAgentHostOptions({}).warmPoolSize;

/** leastLoaded(), unless a host is pinned: then every agent goes there while it can take one. */
export class PinnablePlacement implements PlacementStrategy {
  readonly name = "bench-pinnable";
  readonly #fallback = leastLoaded();
  /** The address every placement goes to, or undefined for leastLoaded(). */
  pinned: string | undefined;

  choose(...args: Parameters<PlacementStrategy["choose"]>): string | undefined {
    const [candidates] = args;
    if (this.pinned !== undefined && candidates.some((c) => c.address === this.pinned)) {
      return this.pinned;
    }
    return this.#fallback.choose(...args);
  }
}

/** A cluster under measurement. */
export interface BenchCluster {
  /** e.g. "local, warm pool". */
  readonly name: string;
  readonly engine: ClusterExecutionEngine;
  readonly registry: LocationRegistry;
  readonly placement: PinnablePlacement;
  readonly addresses: readonly string[];
  /** Idle runner processes each host keeps. */
  readonly warmPoolSize: number;
  /** The host processes (Redis-backed clusters), empty for a local cluster. */
  readonly hostProcesses: readonly HostProcess[];
}

/** Runs `agent` of `guild` on host `hostIndex` of `cluster` (pinned there); resolves once it is ready. */
export async function runPinned(
  cluster: BenchCluster,
  guild: GuildSpec,
  agent: AgentSpec,
  hostIndex: number,
): Promise<void> {
  const address = cluster.addresses[hostIndex];
  if (address === undefined) throw new Error(`${cluster.name} has no host ${hostIndex}`);
  cluster.placement.pinned = address;
  try {
    await cluster.engine.runAgent(guild, agent);
  } finally {
    cluster.placement.pinned = undefined;
  }
}

/** What one measurement waits on: each cluster idle, with `running` agents of its own. */
export class Quiet {
  readonly #clusters: BenchCluster[] = [];
  /** Children of this process that are not agents: redis-server, host processes, servers. */
  readonly infrastructure = new Set<number>();

  /** Waits on `cluster` too from now on. */
  add(cluster: BenchCluster): void {
    this.#clusters.push(cluster);
    for (const host of cluster.hostProcesses) this.infrastructure.add(host.pid);
  }

  /** Stops waiting on `cluster` (it is being stopped). */
  remove(cluster: BenchCluster): void {
    const index = this.#clusters.indexOf(cluster);
    if (index >= 0) this.#clusters.splice(index, 1);
  }

  /**
   * Resolves once every cluster's hosts have their warm pools full and `running` (by cluster)
   * agents, and no agent, runner or host uses CPU: a quiet machine, as far as this run goes.
   */
  async wait(running: ReadonlyMap<BenchCluster, number> = new Map()): Promise<void> {
    let local = 0;
    const groups: QuietGroup[] = [];
    for (const cluster of this.#clusters) {
      const children =
        cluster.addresses.length * cluster.warmPoolSize + (running.get(cluster) ?? 0);
      if (cluster.hostProcesses.length === 0) local += children;
      else groups.push({ pids: cluster.hostProcesses.map((h) => h.pid), children, self: true });
    }
    groups.push({ pids: [process.pid], children: local, ignore: this.infrastructure });
    await waitForQuiet(groups);
  }
}

/** Starts a local cluster of two hosts, stopped by `teardown`. */
export async function startLocalBenchCluster(
  teardown: Teardown,
  warmPoolSize: number,
): Promise<BenchCluster> {
  const placement = new PinnablePlacement();
  const local = await startLocalCluster({
    hosts: 2,
    agentModules: [AGENTS_DIR],
    placement,
    hostOptions: { warmPoolSize, logLevel: "warn" },
  });
  teardown.add("local cluster", () => local.stop());
  return {
    name: `local, ${warmPoolSize === 0 ? "cold (warmPoolSize 0)" : `warm pool (${warmPoolSize})`}`,
    engine: local.engine,
    registry: local.registry,
    placement,
    addresses: local.hosts.map((h) => h.address),
    warmPoolSize,
    hostProcesses: [],
  };
}

/** Options of {@link startRedisBenchCluster}. */
export interface RedisBenchClusterOptions {
  readonly redisUrl: string;
  /** Key prefix of registry and bus: each cluster has its own, so their reconcilers never meet. */
  readonly prefix: string;
  readonly hosts: number;
  /** The hosts' warm pool; undefined: the default. Set through GUILDHALL_WARM_POOL_SIZE. */
  readonly warmPoolSize?: number;
  /** The hosts' maxAgents, and their maxProcesses too: every agent of the bench is awake. */
  readonly maxAgents?: number;
  /** Start each host as the leader of a process group of its own, to kill it with its agents. */
  readonly processGroup?: boolean;
  /** The engine's reconcile options; undefined: the engine's defaults. */
  readonly reconcile?: ReconcileOptions;
  /** More environment of the hosts, e.g. OTEL_EXPORTER_OTLP_ENDPOINT. Default: none. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Starts `guildhall host` processes on one Redis, and an engine (RedisLocationRegistry,
 * StaticDiscovery of the hosts) in this process; all stopped by `teardown`. The cluster's
 * `warmPoolSize` is what its hosts really keep, counted once they are idle: a `guildhall host`
 * without a warm-pool setting ignores GUILDHALL_WARM_POOL_SIZE.
 */
export async function startRedisBenchCluster(
  teardown: Teardown,
  options: RedisBenchClusterOptions,
): Promise<BenchCluster> {
  const hostProcesses: HostProcess[] = [];
  teardown.add("guildhall host processes", () =>
    Promise.all(hostProcesses.map((h) => h.kill("SIGTERM"))),
  );
  // startHostProcess passes this process's environment on, as a container would get it.
  const saved = process.env["GUILDHALL_WARM_POOL_SIZE"];
  if (options.warmPoolSize !== undefined) {
    process.env["GUILDHALL_WARM_POOL_SIZE"] = String(options.warmPoolSize);
  }
  try {
    for (let i = 0; i < options.hosts; i++) {
      hostProcesses.push(
        await startHostProcess({
          redisUrl: options.redisUrl,
          keyPrefix: options.prefix,
          agentModules: [AGENTS_DIR],
          ...(options.maxAgents !== undefined && {
            maxAgents: options.maxAgents,
            maxProcesses: options.maxAgents,
          }),
          ...(options.processGroup === true && { processGroup: true }),
          ...(options.env !== undefined && { env: options.env }),
        }),
      );
    }
  } finally {
    if (saved === undefined) delete process.env["GUILDHALL_WARM_POOL_SIZE"];
    else process.env["GUILDHALL_WARM_POOL_SIZE"] = saved;
  }
  const registry = new RedisLocationRegistry({ url: options.redisUrl, prefix: options.prefix });
  teardown.add("registry", () => registry.close());
  const addresses = hostProcesses.map((h) => h.address);
  const discovery = new StaticDiscovery(addresses);
  teardown.add("discovery", () => discovery.close());
  const placement = new PinnablePlacement();
  const engine = new ClusterExecutionEngine({
    registry,
    discovery,
    placement,
    ...(options.reconcile !== undefined && { reconcile: options.reconcile }),
  });
  teardown.add("engine", () => engine.shutdown());

  // How many runners the hosts really keep: wait until they are idle, then count.
  await waitForQuiet([{ pids: hostProcesses.map((h) => h.pid), self: true }]);
  const runners = hostProcesses.reduce((sum, h) => sum + childPids(h.pid).length, 0);
  const warmPoolSize = runners / hostProcesses.length;
  const pool = warmPoolSize === 0 ? "cold (warmPoolSize 0)" : `warm pool (${warmPoolSize})`;
  return {
    name: `Redis, ${pool}`,
    engine,
    registry,
    placement,
    addresses,
    warmPoolSize,
    hostProcesses,
  };
}
