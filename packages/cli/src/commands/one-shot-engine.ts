// The engine of a command that acts on running agents (`agents move`, `agents stop`): it lives for
// that one command, places on every host the registry lists (as `guildhall run` does), and never
// reconciles, since healing is the job of long-lived engines.
import type { RedisBus } from "@guildhall/bus-redis";
import { ClusterExecutionEngine } from "@guildhall/engine";
import { StaticDiscovery } from "@guildhall/placement";
import { connectCluster, type ClusterConnection, type ClusterFlags } from "../cluster.js";

/** What a one-shot engine needs besides the cluster. */
export interface OneShotEngineOptions {
  /**
   * Whether it uses the hosts' bus, which `stopAgent` needs to delete a stopped agent's durable
   * state. Default false.
   */
  readonly bus?: boolean;
}

/**
 * Connects to the cluster `flags` name, runs `work` with an engine on it, and shuts the engine
 * down with everything it opened once `work` settles, whichever way; the agents stay as `work`
 * left them.
 *
 * @throws what connecting to the cluster or `work` throws
 */
export async function withOneShotEngine<T>(
  flags: ClusterFlags,
  options: OneShotEngineOptions,
  work: (engine: ClusterExecutionEngine, cluster: ClusterConnection) => Promise<T>,
): Promise<T> {
  const cluster = await connectCluster(flags);
  let discovery: StaticDiscovery | undefined;
  let bus: RedisBus | undefined;
  let engine: ClusterExecutionEngine | undefined;
  try {
    discovery = new StaticDiscovery((await cluster.registry.listHosts()).map((h) => h.address));
    if (options.bus === true) {
      // Loaded here: the commands without a bus start faster.
      const { RedisBus } = await import("@guildhall/bus-redis");
      bus = new RedisBus({ ...cluster.bus, commandTimeoutMs: 3_000 });
    }
    engine = new ClusterExecutionEngine({
      registry: cluster.registry,
      discovery,
      ...(bus !== undefined && { bus }),
      reconcile: false,
      ...cluster.hostAccess,
    });
    return await work(engine, cluster);
  } finally {
    await engine?.shutdown().catch(() => undefined);
    await bus?.close().catch(() => undefined);
    await discovery?.close().catch(() => undefined);
    await cluster.close();
  }
}
