// Failover: a host and its agents killed with SIGKILL at once (as a node or pod dies), until every
// one of its agents is ready on the other host, with the lease and reconcile settings the code
// has by default. Its yardstick is starting as many bare processes at the reconciler's concurrency.
import { resolveClusterExecutionEngineOptions } from "@guildhall/engine";
import { resolveAgentHostOptions } from "@guildhall/host-server";
import { MemoryLocationRegistry } from "@guildhall/registry";
import { StaticDiscovery } from "@guildhall/placement";
import { waitFor } from "@guildhall/testing";
import { startRedisBenchCluster, type Quiet } from "./clusters.js";
import { benchGuild } from "./create.js";
import { agentClass } from "./paths.js";
import { bareFork } from "./spawn.js";
import { inParallel, since } from "./stats.js";
import { Teardown } from "./teardown.js";

const NOOP = agentClass("noop-agent.mjs", "Noop");

/** The settings failover depends on, as the code has them by default. */
export interface FailoverSettings {
  readonly hostHeartbeatMs: number;
  readonly hostLeaseMs: number;
  readonly reconcileIntervalMs: number;
  readonly reconcileLeaseMs: number;
  readonly reconcileConcurrency: number;
}

/** Reads the defaults of `createAgentHost` (which `guildhall host` uses) and of the engine. */
export function defaultFailoverSettings(): FailoverSettings {
  const host = resolveAgentHostOptions({});
  const registry = new MemoryLocationRegistry();
  const discovery = new StaticDiscovery([]);
  const engine = resolveClusterExecutionEngineOptions({ registry, discovery });
  void discovery.close();
  void registry.close();
  if (engine.reconcile === false) throw new Error("the engine does not reconcile by default");
  return {
    hostHeartbeatMs: host.heartbeatMs,
    hostLeaseMs: host.leaseMs,
    reconcileIntervalMs: engine.reconcile.intervalMs,
    reconcileLeaseMs: engine.reconcile.leaseMs,
    reconcileConcurrency: engine.reconcile.concurrency,
  };
}

/** One failover: from kill -9 to every agent ready elsewhere, and the bare yardstick of the round. */
export interface FailoverRound {
  readonly failoverMs: number;
  /** `agents` bare forks (to hello) at the reconciler's concurrency. */
  readonly bareForksMs: number;
  readonly agentsMoved: number;
}

/**
 * On a fresh 2-host Redis cluster with default settings: `agents` agents placed on one host,
 * that host's process group (the host and its agents) killed with SIGKILL, then the registry polled (every 20 ms) until each
 * agent is located on the other host (a location is registered only once the agent is ready).
 */
export async function measureFailover(
  parent: Teardown,
  redisUrl: string,
  quiet: Quiet,
  options: { agents: number; round: number; concurrency: number },
): Promise<FailoverRound> {
  // Stopped at the end of the round, or with everything else when the run is interrupted.
  const teardown = new Teardown();
  parent.add(`failover round ${options.round}`, () => teardown.run());
  try {
    const cluster = await startRedisBenchCluster(teardown, {
      redisUrl,
      prefix: `bench-failover-${options.round}:`,
      hosts: 2,
      processGroup: true,
    });
    quiet.add(cluster);
    teardown.add("quiet", () => quiet.remove(cluster));
    const [victim, survivor] = cluster.hostProcesses;
    if (victim === undefined || survivor === undefined) throw new Error("failover needs 2 hosts");
    const guild = benchGuild("bench-failover");
    const ids = Array.from({ length: options.agents }, (_, i) => `agent-${i}`);
    // The survivor has run an agent before, as a host in service has: a host's first agent
    // costs it far more than the next.
    cluster.placement.pinned = survivor.address;
    await cluster.engine.runAgent(guild, { id: "warm-up", name: "noop", className: NOOP });
    await cluster.engine.stopAgent(guild.id, "warm-up");
    cluster.placement.pinned = victim.address;
    await inParallel(ids, 8, (id) =>
      cluster.engine.runAgent(guild, { id, name: "noop", className: NOOP }),
    );
    cluster.placement.pinned = undefined;
    await quiet.wait(new Map([[cluster, options.agents]]));

    // The yardstick, on the same quiet machine.
    let started = performance.now();
    await inParallel(ids, options.concurrency, () => bareFork());
    const bareForksMs = since(started);
    await quiet.wait(new Map([[cluster, options.agents]]));

    started = performance.now();
    await victim.killGroup();
    await waitFor(
      async () => {
        const locations = await Promise.all(
          ids.map((id) => cluster.registry.getLocation(guild.id, id)),
        );
        return locations.every((l) => l?.hostAddress === survivor.address);
      },
      {
        description: `all ${ids.length} agents of the killed host ready on the other host`,
        timeoutMs: 120_000,
        intervalMs: 20,
      },
    );
    const failoverMs = since(started);
    return { failoverMs, bareForksMs, agentsMoved: ids.length };
  } finally {
    await teardown.run();
  }
}
