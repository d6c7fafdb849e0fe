// n:n agent messaging: `pairs` Pingers (agents/ping-pong-agents.mjs) on one `guildhall host` and
// their Pongers on the other, every pair bursting at once, total messages/s; against two bare
// processes doing the same exchanges on the same Redis with plain ioredis, one playing every
// Pinger (bare-pinger-child.mjs) and one every Ponger (bare-relay-child.mjs), in alternating
// rounds of the same run.
import { AGENT_WINDOW } from "./agent-messaging.js";
import { busStreamKey, startBarePinger, startBareRelay } from "./bare-children.js";
import { runPinned, type BenchCluster, type Quiet } from "./clusters.js";
import { benchGuild } from "./create.js";
import { AgentPair, type PairNames } from "./messaging.js";
import { inParallel, since } from "./stats.js";
import type { Teardown } from "./teardown.js";

/** Samples of {@link measureNn}: messages (pings and pongs of all pairs) per second, by round. */
export interface NnSamples {
  readonly bareMessagesPerSecond: number[];
  readonly agentMessagesPerSecond: number[];
}

/** Options of {@link measureNn}. */
export interface NnOptions {
  readonly pairs: number;
  /** Messages (pings and pongs) of each pair in each round. */
  readonly messages: number;
  /** Measured rounds of each. */
  readonly rounds: number;
}

/**
 * Places the pairs on the two hosts of `cluster` (whose bus is `prefix` on `redisUrl`), Pingers on
 * the first, and starts the two bare processes on the same Redis; then `rounds` rounds of each,
 * alternating (bare, agents, bare, …), each from a quiet machine, every pair keeping
 * {@link AGENT_WINDOW} pings in flight. Stops everything it started after.
 */
export async function measureNn(
  teardown: Teardown,
  quiet: Quiet,
  cluster: BenchCluster,
  bus: { redisUrl: string; prefix: string },
  options: NnOptions,
): Promise<NnSamples> {
  const guild = benchGuild("bench-nn");
  const names: PairNames[] = Array.from({ length: options.pairs }, (_, i) => ({
    pinger: `pinger-${i}`,
    ponger: `ponger-${i}`,
    results: `bench-results-${i}`,
  }));
  const pairs: AgentPair[] = [];
  for (const pairNames of names) {
    const pair = new AgentPair(bus.redisUrl, bus.prefix, guild.id, pairNames);
    teardown.add(`n:n pair client ${pairNames.pinger}`, () => pair.close());
    pairs.push(pair);
    await pair.start((agent, hostIndex) => runPinned(cluster, guild, agent, hostIndex));
  }

  // The bare processes use the streams the hosts' buses would for the same agents, in a guild of
  // their own: their entries never reach an agent, nor the agents' theirs.
  const bareGuild = "bench-nn-bare";
  const inbox = (agentId: string): string =>
    busStreamKey(bus.prefix, bareGuild, `inbox:${agentId}`);
  const pongers = await startBareRelay(
    teardown,
    quiet,
    bus.redisUrl,
    names.map(({ pinger, ponger }) => ({
      from: inbox(ponger),
      to: inbox(pinger),
      topic: `inbox:${pinger}`,
      sender: ponger,
    })),
  );
  const pingers = await startBarePinger(
    teardown,
    quiet,
    bus.redisUrl,
    names.map(({ pinger, ponger }) => ({
      ping: inbox(ponger),
      topic: `inbox:${ponger}`,
      sender: pinger,
      pong: inbox(pinger),
    })),
  );

  // Both timed here, from telling every Pinger to start to the last one's report: the agents
  // report over the bus, the bare process over IPC, each one message after its last pong.
  const pongs = Math.ceil(options.messages / 2);
  const agentRound = async (burst: number): Promise<number> => {
    const started = performance.now();
    await Promise.all(pairs.map((pair) => pair.throughput(burst, AGENT_WINDOW)));
    return (2 * burst * pairs.length) / (since(started) / 1000);
  };
  const bareRound = async (burst: number): Promise<number> => {
    const started = performance.now();
    const { messages } = await pingers.ask({ burst, window: AGENT_WINDOW });
    return (messages as number) / (since(started) / 1000);
  };

  // Unmeasured warm-up: the agent processes, their hosts' paths to them, the JIT everywhere.
  const warmUp = Math.min(pongs, 500);
  await bareRound(warmUp);
  await agentRound(warmUp);
  const samples: NnSamples = { bareMessagesPerSecond: [], agentMessagesPerSecond: [] };
  const running = new Map([[cluster, 2 * options.pairs]]);
  for (let round = 0; round < options.rounds; round++) {
    await quiet.wait(running);
    samples.bareMessagesPerSecond.push(await bareRound(pongs));
    await quiet.wait(running);
    samples.agentMessagesPerSecond.push(await agentRound(pongs));
  }

  await Promise.all(pairs.map((pair) => pair.close()));
  await Promise.all([pingers.stop(), pongers.stop()]);
  await inParallel(
    names.flatMap(({ pinger, ponger }) => [pinger, ponger]),
    4,
    (agentId) => cluster.engine.stopAgent(guild.id, agentId),
  );
  return samples;
}
