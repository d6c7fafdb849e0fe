// What DESIGN §6 costs the agent → agent → agent round trip, for decision 0014: a Pinger and a
// Ponger that are each a process on the bus itself (direct-agent-child.mjs: a RedisBus, and each
// handling committed with its position and send, as a host commits), with no host between them,
// against two bare stream hops in the same run, interleaved in blocks as the `messaging` section
// times its pair through hosts. Not a section of the full benchmark: the product does not run
// agents this way.
//
//   npx tsc -p tools/bench && node tools/bench/dist/bench/direct-agents.js [--rounds 1000]
//     [--warm-up 5000]
import { parseArgs } from "node:util";
import { startRedisServer } from "@guildhall/testing";
import { BareChild } from "./bare-children.js";
import { Quiet } from "./clusters.js";
import { AGENT_WARM_UP, BLOCK, Bare, benchMessage } from "./messaging.js";
import { isMain } from "./paths.js";
import { percentiles, ratios, type Percentiles } from "./stats.js";
import { Teardown } from "./teardown.js";

/** What {@link directAgentsBenchmark} measured, in milliseconds. */
export interface DirectAgentsResult {
  readonly bareHop: Percentiles;
  readonly roundTrip: Percentiles;
}

/**
 * `warmUp` untimed round trips of the pair and as many bare hops, then `rounds` round trips in
 * blocks of {@link BLOCK}, each block after as many bare hops.
 */
export async function directAgentsBenchmark(options: {
  rounds: number;
  warmUp: number;
}): Promise<DirectAgentsResult> {
  const teardown = new Teardown();
  const quiet = new Quiet();
  try {
    const redis = await startRedisServer();
    teardown.add("redis-server", () => redis.stop());
    const args = [redis.url, "direct:", "direct-agents"];
    const start = (role: string): Promise<BareChild> =>
      BareChild.start(teardown, quiet, `direct ${role}`, "direct-agent-child.mjs", [role, ...args]);
    await start("ponger");
    const pinger = await start("pinger");
    const bare = new Bare(redis.url, 4 * (options.rounds + options.warmUp));
    teardown.add("bare stream clients", () => bare.close());
    const json = JSON.stringify(benchMessage({ text: "hello", n: 1 }));
    const roundTrips = async (rounds: number): Promise<number[]> =>
      (await pinger.ask({ rounds }))["samplesMs"] as number[];

    await roundTrips(options.warmUp);
    for (let i = 0; i < options.warmUp; i++) await bare.roundTrip(json);
    const bareHops: number[] = [];
    const pairRoundTrips: number[] = [];
    for (let done = 0; done < options.rounds; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) {
        // Each bare hop from a quiet event loop, as each ping of the Pinger is.
        await new Promise((resolve) => setImmediate(resolve));
        bareHops.push(await bare.roundTrip(json));
      }
      pairRoundTrips.push(...(await roundTrips(BLOCK)));
    }
    return { bareHop: percentiles(bareHops), roundTrip: percentiles(pairRoundTrips) };
  } finally {
    await teardown.run();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "1000" },
      "warm-up": { type: "string", default: String(AGENT_WARM_UP) },
    },
  });
  const result = await directAgentsBenchmark({
    rounds: Number(values.rounds),
    warmUp: Number(values["warm-up"]),
  });
  const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
  // A round trip is two hops (ping, then pong), each one bare XADD + XREAD at best.
  const ratio = ratios(result.roundTrip, result.bareHop, 2);
  console.log(
    `agents on the bus themselves, no host between (${result.roundTrip.n} round trips = 2 hops each)`,
  );
  for (const q of ["p50", "p99"] as const) {
    console.log(
      `  round trip ${q}   2 × bare ${us(2 * result.bareHop[q])}   agents ${us(result.roundTrip[q])}   ×${ratio[q].toFixed(2)}`,
    );
  }
}
