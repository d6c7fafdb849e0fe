// What tracing costs the message path: agent ↔ agent messages/s on two Redis-backed clusters of
// 2 `guildhall host`s, one exporting every message's spans over OTLP (http/protobuf, the default
// protocol) to a receiver in this process, the other without an endpoint, in alternating rounds.
import {
  createMessage,
  endSpan,
  recordMessage,
  startProcessSpan,
  startPublishSpan,
  traceparentOf,
} from "@guildhall/core";
import { startOtlpReceiver } from "../test-support/otlp-receiver.js";
import { startRedisBenchCluster, type BenchCluster, type Quiet } from "./clusters.js";
import { benchGuild } from "./create.js";
import { AgentPair } from "./messaging.js";
import type { Teardown } from "./teardown.js";

/** Samples of {@link measureTracingCost}. */
export interface TracingSamples {
  readonly offMessagesPerSecond: number[];
  readonly onMessagesPerSecond: number[];
  /** Export requests the receiver took: evidence that the traced rounds really exported. */
  readonly exports: number;
  /**
   * What a host's tracing adds to one handled message that sends one, with no SDK registered (as
   * in this process): the consumer span and the producer span, in nanoseconds.
   */
  readonly offNsPerMessage: number;
}

/** Times the span calls of one handling + one send through the API alone (no SDK: no-ops). */
function offCostNs(): number {
  const message = createMessage({ topic: "t", sender: { id: "a" }, payload: null });
  const once = () => {
    const handling = startProcessSpan(message, { guildId: "g", agentId: "a" });
    const send = startPublishSpan("t", { guildId: "g", agentId: "a", parent: handling });
    traceparentOf(send);
    recordMessage(send, message);
    endSpan(send);
    endSpan(handling);
  };
  for (let i = 0; i < 20_000; i++) once(); // warm-up, for the optimizing compiler
  const n = 200_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) once();
  return Number(process.hrtime.bigint() - start) / n;
}

/** Pings in flight in each round, as in the messaging section. */
const WINDOW = 64;

/**
 * Starts both clusters, places a Pinger and a Ponger on each, and runs `rounds` throughput rounds
 * of `messages` messages on each, alternating; stops both clusters after.
 */
export async function measureTracingCost(
  teardown: Teardown,
  quiet: Quiet,
  redisUrl: string,
  options: { rounds: number; messages: number },
): Promise<TracingSamples> {
  const receiver = await startOtlpReceiver();
  teardown.add("OTLP receiver", () => receiver.close());
  const start = (prefix: string, env: Record<string, string>) =>
    startRedisBenchCluster(teardown, { redisUrl, prefix, hosts: 2, env });
  const off = await start("bench-trace-off:", {});
  const on = await start("bench-trace-on:", {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_SERVICE_NAME: "bench-host",
  });
  const guild = benchGuild("bench-tracing");
  const pairs = new Map<BenchCluster, AgentPair>();
  for (const [cluster, prefix] of [
    [off, "bench-trace-off:"],
    [on, "bench-trace-on:"],
  ] as const) {
    quiet.add(cluster);
    const pair = new AgentPair(redisUrl, prefix, guild.id);
    teardown.add("tracing pair client", () => pair.close());
    await pair.start(async (agent, index) => {
      cluster.placement.pinned = cluster.addresses[index];
      await cluster.engine.runAgent(guild, agent);
      cluster.placement.pinned = undefined;
    });
    pairs.set(cluster, pair);
  }
  await quiet.wait(new Map([...pairs.keys()].map((cluster) => [cluster, 2])));
  const pongs = Math.ceil(options.messages / 2);
  const samples = { offMessagesPerSecond: [] as number[], onMessagesPerSecond: [] as number[] };
  for (const pair of pairs.values()) await pair.throughput(pongs, WINDOW); // warm-up
  for (let round = 0; round < options.rounds; round++) {
    // Each round starts with the other cluster, so neither always follows the other's export.
    const order = round % 2 === 0 ? [off, on] : [on, off];
    for (const cluster of order) {
      const rate = await pairs.get(cluster)!.throughput(pongs, WINDOW);
      (cluster === on ? samples.onMessagesPerSecond : samples.offMessagesPerSecond).push(rate);
    }
  }
  for (const [cluster, pair] of pairs) {
    await pair.close();
    await cluster.engine.stopAgent(guild.id, "pinger");
    await cluster.engine.stopAgent(guild.id, "ponger");
    quiet.remove(cluster);
    await cluster.engine.shutdown();
    await Promise.all(cluster.hostProcesses.map((h) => h.kill("SIGTERM")));
  }
  return { ...samples, exports: receiver.requests, offNsPerMessage: offCostNs() };
}
