// Agent lifecycle through the engine: create (runAgent → ready) and stop latency, round by round
// interleaved with a bare fork + IPC hello (and its exit), and create throughput against bare
// forks at the same concurrency.
import type { GuildSpec } from "@guildhall/core";
import type { BenchCluster, Quiet } from "./clusters.js";
import { agentClass } from "./paths.js";
import type { EmptyCall } from "./rpc.js";
import { bareFork } from "./spawn.js";
import { inParallel, since, timed } from "./stats.js";

const NOOP = agentClass("noop-agent.mjs", "Noop");

/** A guild of the benchmark. */
export function benchGuild(id: string): GuildSpec {
  return { id, name: id, agents: [] };
}

/** Samples of {@link measureLifecycle}, in milliseconds. */
export interface LifecycleSamples {
  readonly bareReady: number[];
  readonly bareExit: number[];
  /** An empty unary call to the trivial server, after the same quiet wait as each create. */
  readonly emptyCallAfterQuiet: number[];
  /** By cluster name. */
  readonly create: Map<string, number[]>;
  readonly stop: Map<string, number[]>;
}

/**
 * `rounds` rounds of: a bare fork and an empty call, then on each cluster in turn one agent
 * created (timed), left to settle, and stopped (timed). Every step starts from a quiet machine
 * (warm pools full, no process of the last step still running), so no background fork lands in
 * a measurement; that wait also leaves the processes idle, which the empty call measures too.
 */
export async function measureLifecycle(
  clusters: readonly BenchCluster[],
  quiet: Quiet,
  rounds: number,
  emptyCall: EmptyCall,
): Promise<LifecycleSamples> {
  const samples: LifecycleSamples = {
    bareReady: [],
    bareExit: [],
    emptyCallAfterQuiet: [],
    create: new Map(clusters.map((c) => [c.name, []])),
    stop: new Map(clusters.map((c) => [c.name, []])),
  };
  const guild = benchGuild("bench-lifecycle");
  // Unmeasured first: one bare fork, and one agent on each host of each cluster, pinned there.
  // The first agent a host starts costs it far more than the next (connections, lazily loaded
  // code, the JIT), which no later create pays again.
  await bareFork();
  await emptyCall.call();
  for (const cluster of clusters) {
    for (const [index, address] of cluster.addresses.entries()) {
      const id = `warm-up-${index}`;
      await quiet.wait();
      cluster.placement.pinned = address;
      await cluster.engine.runAgent(guild, { id, name: "noop", className: NOOP });
      cluster.placement.pinned = undefined;
      await quiet.wait(new Map([[cluster, 1]]));
      await cluster.engine.stopAgent(guild.id, id);
    }
  }
  for (let round = 0; round < rounds; round++) {
    await quiet.wait();
    const bare = await bareFork();
    samples.bareReady.push(bare.readyMs);
    samples.bareExit.push(bare.exitMs);
    await quiet.wait();
    samples.emptyCallAfterQuiet.push(await timed(() => emptyCall.call()));
    for (const cluster of clusters) {
      const id = `agent-${round}`;
      await quiet.wait();
      const createMs = await timed(() =>
        cluster.engine.runAgent(guild, { id, name: "noop", className: NOOP }),
      );
      await quiet.wait(new Map([[cluster, 1]]));
      const stopMs = await timed(() => cluster.engine.stopAgent(guild.id, id));
      samples.create.get(cluster.name)?.push(createMs);
      samples.stop.get(cluster.name)?.push(stopMs);
    }
  }
  return samples;
}

/** One round of {@link measureThroughput}: agents (or forks) per second. */
export interface ThroughputRound {
  readonly bareForksPerSecond: number;
  readonly agentsPerSecond: number;
}

/**
 * Creates `agents` agents on `cluster` with `concurrency` runAgent calls in flight, after `agents`
 * bare forks (to hello, and exit) at the same concurrency; leaves the agents of the last round
 * running (for memory and lookups) and returns their ids.
 */
export async function measureThroughput(
  cluster: BenchCluster,
  quiet: Quiet,
  options: { agents: number; concurrency: number; rounds: number },
): Promise<{ rounds: ThroughputRound[]; guild: GuildSpec; running: string[] }> {
  const out: ThroughputRound[] = [];
  const guild = benchGuild("bench-throughput");
  let ids: string[] = [];
  for (let round = 0; round < options.rounds; round++) {
    await quiet.wait();
    let started = performance.now();
    await inParallel(
      Array.from({ length: options.agents }, (_, i) => i),
      options.concurrency,
      () => bareFork(),
    );
    const bareForksPerSecond = options.agents / (since(started) / 1000);
    await quiet.wait();
    ids = Array.from({ length: options.agents }, (_, i) => `r${round}-agent-${i}`);
    started = performance.now();
    await inParallel(ids, options.concurrency, (id) =>
      cluster.engine.runAgent(guild, { id, name: "noop", className: NOOP }),
    );
    const agentsPerSecond = options.agents / (since(started) / 1000);
    out.push({ bareForksPerSecond, agentsPerSecond });
    if (round < options.rounds - 1) {
      await inParallel(ids, options.concurrency, (id) => cluster.engine.stopAgent(guild.id, id));
    }
  }
  return { rounds: out, guild, running: ids };
}
