// Agent-to-agent messaging on a Redis-backed cluster: a Pinger and a Ponger on two `guildhall
// host`s, their round trips interleaved in blocks with bare XADD → XREAD hops and bare IPC round
// trips, and their messages/s alternated with bare streams moving as many messages.
import type { BenchCluster, Quiet } from "./clusters.js";
import { benchGuild } from "./create.js";
import { AgentPair, Bare, benchMessage, BLOCK } from "./messaging.js";
import { BareChild } from "./bare-children.js";
import type { Teardown } from "./teardown.js";

/** Samples of {@link measureAgentMessaging}: milliseconds, and messages per second. */
export interface AgentMessagingSamples {
  readonly bareHopMs: number[];
  /** A message to a forked process and back over IPC: the least a host ↔ agent exchange costs. */
  readonly bareIpcMs: number[];
  /** The pair's first round trips, before anything warmed the path (V8 has not optimized it). */
  readonly freshRoundTripMs: number[];
  /** Round trips after the warm-up: the path at its steady state. */
  readonly agentRoundTripMs: number[];
  readonly bareMessagesPerSecond: number[];
  readonly agentMessagesPerSecond: number[];
}

/** Pings in flight in the agents' throughput rounds. */
export const AGENT_WINDOW = 64;

/**
 * Places the pair on the two hosts of `cluster` (whose bus is `prefix` on `redisUrl`) and times its
 * first {@link BLOCK} round trips. Then `warmUp` round trips, and as many bare hops and IPC round
 * trips, that are not timed; then `rounds` round trips and 3 throughput rounds of `messages`
 * messages, each next to bare Redis Streams. Stops the pair after.
 */
export async function measureAgentMessaging(
  teardown: Teardown,
  quiet: Quiet,
  cluster: BenchCluster,
  bus: { redisUrl: string; prefix: string },
  options: { rounds: number; messages: number; warmUp: number },
): Promise<AgentMessagingSamples> {
  const guild = benchGuild("bench-messaging");
  const bare = new Bare(bus.redisUrl, 4 * options.messages + 10_000);
  teardown.add("bare stream clients", () => bare.close());
  const pair = new AgentPair(bus.redisUrl, bus.prefix, guild.id);
  teardown.add("agent pair client", () => pair.close());
  await pair.start(async (agent, index) => {
    cluster.placement.pinned = cluster.addresses[index];
    await cluster.engine.runAgent(guild, agent);
    cluster.placement.pinned = undefined;
  });
  await quiet.wait(new Map([[cluster, 2]]));

  const echo = await BareChild.start(teardown, quiet, "IPC echo process", "echo-child.mjs", []);
  const frame = { type: "deliver", deliveryId: 1, message: benchMessage({ text: "hello", n: 1 }) };
  const json = JSON.stringify(benchMessage({ text: "hello", n: 1 }));
  const freshRoundTripMs = await pair.roundTrips(BLOCK);
  // The yardsticks warm up as long as the pair does: both sides are timed at their steady state.
  for (let i = 0; i < options.warmUp; i++) {
    await bare.roundTrip(json);
    await ipcRoundTrip(echo, frame);
  }
  await pair.roundTrips(options.warmUp);
  const samples: AgentMessagingSamples = {
    bareHopMs: [],
    bareIpcMs: [],
    freshRoundTripMs,
    agentRoundTripMs: [],
    bareMessagesPerSecond: [],
    agentMessagesPerSecond: [],
  };
  for (let done = 0; done < options.rounds; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) {
      // Each bare hop from a quiet event loop, as each ping of the Pinger is.
      await new Promise((resolve) => setImmediate(resolve));
      samples.bareHopMs.push(await bare.roundTrip(json));
      await new Promise((resolve) => setImmediate(resolve));
      samples.bareIpcMs.push(await ipcRoundTrip(echo, frame));
    }
    samples.agentRoundTripMs.push(...(await pair.roundTrips(BLOCK)));
  }
  const jsons = Array.from({ length: options.messages }, (_, n) =>
    JSON.stringify(benchMessage({ text: "hello", n })),
  );
  for (let round = 0; round < 3; round++) {
    samples.bareMessagesPerSecond.push(await bare.throughput(jsons));
    // Each exchange is two messages: the ping and the pong.
    samples.agentMessagesPerSecond.push(
      await pair.throughput(Math.ceil(options.messages / 2), AGENT_WINDOW),
    );
  }
  await pair.close();
  await bare.close();
  await echo.stop();
  await cluster.engine.stopAgent(guild.id, "pinger");
  await cluster.engine.stopAgent(guild.id, "ponger");
  return samples;
}

/** `frame` to the echo process and back over IPC, in milliseconds. */
async function ipcRoundTrip(echo: BareChild, frame: object): Promise<number> {
  const started = performance.now();
  await echo.ask(frame);
  return performance.now() - started;
}
