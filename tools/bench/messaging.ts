// Messaging benchmark (built packages): RedisBus publish → deliver round trip (p50/p99) and
// messages/s for one topic with 10 subscribers, and an agent-to-agent round trip between two agent
// processes on two agent hosts through Redis, all as ratios to a bare Redis XADD + XREAD doing the
// same job in the same run, on a private redis-server of its own. Round trips are interleaved in
// blocks (bare, bus, bare, bus, …) so that load from elsewhere on the machine hits both alike.
// `Bare`, `Bus` and `AgentPair` are also the messaging figures of the full benchmark (run.ts).
//
//   npx tsc -p tools/bench && node tools/bench/dist/bench/messaging.js [--rounds 2000]
//     [--messages 20000] [--subscribers 10] [--agent-rounds 1000] [--json]
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RedisBus } from "@guildhall/bus-redis";
import {
  connectGuildClient,
  createMessage,
  type AgentSpec,
  type GuildClient,
  type JsonValue,
  type Message,
} from "@guildhall/core";
import { agentSpecToProto, createAgentHost, type AgentHost } from "@guildhall/host-server";
import { AgentHostService } from "@guildhall/proto";
import { RedisLocationRegistry } from "@guildhall/registry";
import { startRedisServer } from "@guildhall/testing";
import { AGENTS_DIR, agentClass, isMain } from "./paths.js";
import { median, percentiles, ratios, type Percentiles } from "./stats.js";

/** Round trips per interleaved block. */
export const BLOCK = 100;
/**
 * Agent round trips run before the timed ones, to time the path at its steady state: V8 optimizes
 * a host's and an agent process's message path only after it has run some thousands of times, and
 * until then a round trip takes two to three times as long (decision 0014, "A fresh path").
 */
export const AGENT_WARM_UP = 5000;
const WINDOW = 256; // publishes in flight during the throughput runs
/** An {@link AgentPair} request's deadline: this much, and this much more per exchange asked. */
const ASK_MIN_MS = 60_000;
const ASK_MS_PER_EXCHANGE = 20;
const TOPIC = "bench-topic";
const sender = { id: "bench-publisher", name: "Bench" };

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs `send` over `items` with at most WINDOW calls in flight, in order on one connection. */
async function windowed<T>(
  items: readonly T[],
  send: (item: T) => Promise<unknown>,
): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (const item of items) {
    const sent: Promise<unknown> = send(item).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

type StreamReply = [string, [string, string[]][]][] | null;

function lastIdOf(reply: StreamReply): string {
  const entries = reply?.[0]?.[1] ?? [];
  const last = entries[entries.length - 1];
  if (last === undefined) throw new Error("XREAD BLOCK 0 returned no entries");
  return last[0];
}

/**
 * Bare Redis: one writer, one reader blocking in XREAD on the stream's last id. The yardstick of
 * every messaging figure: what moving one message through Redis costs at least.
 */
export class Bare {
  readonly #writer: Redis;
  readonly #reader: Redis;
  readonly #key = "bare:stream";
  readonly #maxLen: number;
  #lastId = "0-0";
  #closing: Promise<unknown> | undefined;

  /** `maxLen`: streams keep every message of a run, as a reader that falls behind a trimmed stream misses entries. */
  constructor(url: string, maxLen: number) {
    this.#writer = new Redis(url);
    this.#reader = new Redis(url);
    this.#maxLen = maxLen;
  }

  /** XADD of `json` to its arrival at the blocked reader, in milliseconds. */
  async roundTrip(json: string): Promise<number> {
    const read = this.#reader.xread(
      "BLOCK",
      0,
      "STREAMS",
      this.#key,
      this.#lastId,
    ) as Promise<StreamReply>;
    const started = performance.now();
    await this.#writer.xadd(this.#key, "MAXLEN", "~", this.#maxLen, "*", "m", json);
    const reply = await read;
    const elapsed = performance.now() - started;
    this.#lastId = lastIdOf(reply);
    return elapsed;
  }

  /** Messages per second from the first XADD until the reader has read them all. */
  async throughput(jsons: readonly string[]): Promise<number> {
    let received = 0;
    const started = performance.now();
    const reading = (async () => {
      while (received < jsons.length) {
        const reply = await this.#reader.xread(
          "COUNT",
          1000,
          "BLOCK",
          0,
          "STREAMS",
          this.#key,
          this.#lastId,
        );
        received += reply?.[0]?.[1].length ?? 0;
        this.#lastId = lastIdOf(reply);
      }
    })();
    await windowed(jsons, (json) =>
      this.#writer.xadd(this.#key, "MAXLEN", "~", this.#maxLen, "*", "m", json),
    );
    await reading;
    return jsons.length / ((performance.now() - started) / 1000);
  }

  /** Closes both connections. Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= Promise.all([this.#writer.quit(), this.#reader.quit()]);
    await this.#closing;
  }
}

/** RedisBus: a publishing bus and a subscribing bus with `subscribers` subscriptions on the topic. */
export class Bus {
  readonly #publisher: RedisBus;
  readonly #subscriber: RedisBus;
  readonly #counts: number[];
  readonly #guild: string;
  #waiting: { target: number; resolve: (at: number) => void } | undefined;

  constructor(url: string, subscribers: number, maxLen: number, guild = "bench") {
    this.#publisher = new RedisBus({ url, prefix: "bench-bus:", maxLenPerTopic: maxLen });
    this.#subscriber = new RedisBus({ url, prefix: "bench-bus:", maxLenPerTopic: maxLen });
    this.#counts = new Array<number>(subscribers).fill(0);
    this.#guild = guild;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.#counts.length; i++) {
      await this.#subscriber.subscribe(this.#guild, TOPIC, () => {
        this.#counts[i] = (this.#counts[i] ?? 0) + 1;
        const waiting = this.#waiting;
        if (waiting !== undefined && this.#counts.every((c) => c >= waiting.target)) {
          this.#waiting = undefined;
          waiting.resolve(performance.now());
        }
      });
    }
  }

  /** Resolves with the time at which every subscription has `target` messages. */
  #allReach(target: number): Promise<number> {
    return new Promise((resolve) => (this.#waiting = { target, resolve }));
  }

  /** `publish` to delivery at every subscription, in milliseconds. */
  async roundTrip(m: Message): Promise<number> {
    const delivered = this.#allReach((this.#counts[0] ?? 0) + 1);
    const started = performance.now();
    await this.#publisher.publish(this.#guild, m);
    return (await delivered) - started;
  }

  /** Messages per second from the first publish until every subscription has them all. */
  async throughput(messages: readonly Message[]): Promise<number> {
    const delivered = this.#allReach((this.#counts[0] ?? 0) + messages.length);
    const started = performance.now();
    await windowed(messages, (m) => this.#publisher.publish(this.#guild, m));
    return messages.length / (((await delivered) - started) / 1000);
  }

  async close(): Promise<void> {
    await Promise.all([this.#publisher.close(), this.#subscriber.close()]);
  }
}

/** A test message of the bench's topic. */
export function benchMessage(payload: JsonValue): Message {
  return createMessage({ topic: TOPIC, sender, payload });
}

/** Places one agent of a pair on a host of its own (`hostIndex` 0 or 1) and resolves once it is ready. */
export type PlaceAgent = (agent: AgentSpec, hostIndex: number) => Promise<void>;

/** The agent ids of an {@link AgentPair}, and the topic its Pinger reports on. */
export interface PairNames {
  readonly pinger: string;
  readonly ponger: string;
  readonly results: string;
}

/** The names of a guild's only pair. */
const ONE_PAIR: PairNames = { pinger: "pinger", ponger: "ponger", results: "bench-results" };

/**
 * A Pinger agent on one host and a Ponger on another, and a guild client on the hosts' Redis
 * bus that starts them and collects what the Pinger measured: the path a message takes between
 * agents of a real cluster, minus the network.
 */
export class AgentPair {
  readonly #bus: RedisBus;
  readonly #guildId: string;
  /** The pair's agent ids and results topic: a guild of several pairs names each its own. */
  readonly names: PairNames;
  #client: GuildClient | undefined;
  #waiting: ((payload: Record<string, unknown>) => void) | undefined;
  #closing: Promise<void> | undefined;

  /** `url` and `prefix`: the bus of the hosts. */
  constructor(url: string, prefix: string, guildId: string, names: PairNames = ONE_PAIR) {
    this.#bus = new RedisBus({ url, prefix });
    this.#guildId = guildId;
    this.names = names;
  }

  async start(place: PlaceAgent): Promise<void> {
    const { pinger, ponger, results } = this.names;
    await place(
      {
        id: pinger,
        name: "Pinger",
        className: agentClass("ping-pong-agents.mjs", "Pinger"),
        properties: { peer: ponger, results },
      },
      0,
    );
    await place(
      { id: ponger, name: "Ponger", className: agentClass("ping-pong-agents.mjs", "Ponger") },
      1,
    );
    this.#client = connectGuildClient(this.#bus, { guildId: this.#guildId, id: "bench" });
    await this.#client.subscribe(results, (m) =>
      this.#waiting?.(m.payload as Record<string, unknown>),
    );
  }

  /**
   * Asks the Pinger for `exchanges` ping/pongs and resolves with its report. A Pinger whose handler
   * failed never reports, so the ask fails after a deadline generous for this machine instead of
   * holding the benchmark forever.
   */
  async #ask(payload: JsonValue, exchanges: number): Promise<Record<string, unknown>> {
    const client = this.#client;
    if (client === undefined) throw new Error("AgentPair.start() first");
    const deadlineMs = ASK_MIN_MS + exchanges * ASK_MS_PER_EXCHANGE;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Record<string, unknown>>((resolve, reject) => {
        this.#waiting = resolve;
        timer = setTimeout(() => {
          reject(
            new Error(
              `${this.names.pinger} did not report ${JSON.stringify(payload)} within ${deadlineMs} ms: its handler failed or a host stalled (see the hosts' logs)`,
            ),
          );
        }, deadlineMs);
        client.publish(`inbox:${this.names.pinger}`, payload).catch(reject);
      });
    } finally {
      clearTimeout(timer);
      this.#waiting = undefined;
    }
  }

  /** Round trip times (ms) of `rounds` ping/pongs, timed inside the Pinger. */
  async roundTrips(rounds: number): Promise<number[]> {
    return (await this.#ask({ rounds }, rounds))["samplesMs"] as number[];
  }

  /** Messages per second (pings and pongs) of `pongs` exchanges with `window` pings in flight. */
  async throughput(pongs: number, window: number): Promise<number> {
    const result = await this.#ask({ burst: pongs, window }, pongs);
    return (result["messages"] as number) / ((result["elapsedMs"] as number) / 1000);
  }

  /** Closes the client and its bus (the agents keep running). Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#client?.close();
      await this.#bus.close();
    })();
    await this.#closing;
  }
}

/** Options of {@link messagingBenchmark}. */
export interface MessagingOptions {
  readonly rounds: number;
  readonly messages: number;
  readonly subscribers: number;
  readonly agentRounds: number;
}

/** What {@link messagingBenchmark} measured, in milliseconds and messages per second. */
export interface MessagingResult {
  readonly bareRoundTrip: Percentiles;
  readonly busRoundTrip: Percentiles;
  readonly bareMessagesPerSecond: number;
  readonly busMessagesPerSecond: number;
  readonly bareBesideAgents: Percentiles;
  readonly agentRoundTrip: Percentiles;
}

/**
 * Two in-process agent hosts, each with its own registry and bus connections to `url`: where the
 * standalone benchmark runs its agent pair.
 */
async function startInProcessHosts(
  url: string,
  prefix: string,
): Promise<{ place: PlaceAgent; close: () => Promise<void> }> {
  const hosts: AgentHost[] = [];
  const backends: { close(): Promise<void> }[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(hosts.map((host) => host.close()));
    await Promise.allSettled(backends.map((backend) => backend.close()));
  };
  try {
    for (let i = 0; i < 2; i++) {
      // The host uses these but does not own them: they are closed after it.
      const registry = new RedisLocationRegistry({ url, prefix });
      const bus = new RedisBus({ url, prefix });
      backends.push(registry, bus);
      const host = createAgentHost({
        port: 0,
        registry,
        bus,
        agentModules: [AGENTS_DIR],
        metricsPort: false,
        logLevel: "warn",
        warmPoolSize: 0,
      });
      hosts.push(host);
      await host.start();
    }
  } catch (error) {
    await close();
    throw error;
  }
  const place: PlaceAgent = async (agent, index) => {
    const host = hosts[index];
    if (host === undefined) throw new Error(`no host ${index}`);
    await createClient(
      AgentHostService,
      createGrpcTransport({ baseUrl: `http://${host.address}` }),
    ).createAgent({ guild: { id: "bench", name: "Bench" }, agent: agentSpecToProto(agent) });
  };
  return { place, close };
}

async function messagingBenchmark(options: MessagingOptions): Promise<MessagingResult> {
  const maxLen = Math.max(10_000, 4 * options.messages);
  const redis = await startRedisServer();
  const bare = new Bare(redis.url, maxLen);
  const bus = new Bus(redis.url, options.subscribers, maxLen);
  const agents = new AgentPair(redis.url, "bench:", "bench");
  let hosts: { close(): Promise<void> } | undefined;
  const samples = {
    bare: [] as number[],
    bus: [] as number[],
    bareBesideAgents: [] as number[],
    agents: [] as number[],
  };
  const rates = { bare: [] as number[], bus: [] as number[] };
  try {
    await bus.start();
    const m = benchMessage({ text: "hello", n: 1 });
    const json = JSON.stringify(m);
    // Unmeasured warm-up: connections, the JIT, Redis's allocator.
    for (let i = 0; i < 200; i++) {
      await bare.roundTrip(json);
      await bus.roundTrip(m);
    }
    // Each round trip starts from a quiet process (setImmediate), as an isolated message would:
    // the bus's reader has re-issued its blocking read, as the bare reader always has.
    for (let done = 0; done < options.rounds; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) {
        await settle();
        samples.bare.push(await bare.roundTrip(json));
      }
      for (let i = 0; i < BLOCK; i++) {
        await settle();
        samples.bus.push(await bus.roundTrip(m));
      }
    }
    const batch = Array.from({ length: options.messages }, (_, i) =>
      benchMessage({ text: "hello", n: i }),
    );
    const jsons = batch.map((each) => JSON.stringify(each));
    for (let repeat = 0; repeat < 3; repeat++) {
      rates.bare.push(await bare.throughput(jsons));
      rates.bus.push(await bus.throughput(batch));
    }
    const started = await startInProcessHosts(redis.url, "bench:");
    hosts = started;
    await agents.start(started.place);
    await agents.roundTrips(AGENT_WARM_UP);
    for (let done = 0; done < options.agentRounds; done += BLOCK) {
      for (let i = 0; i < BLOCK; i++) {
        await settle();
        samples.bareBesideAgents.push(await bare.roundTrip(json));
      }
      samples.agents.push(...(await agents.roundTrips(BLOCK)));
    }
  } finally {
    await Promise.allSettled([bare.close(), bus.close(), agents.close()]);
    await hosts?.close();
    await redis.stop();
  }
  return {
    bareRoundTrip: percentiles(samples.bare),
    busRoundTrip: percentiles(samples.bus),
    bareMessagesPerSecond: median(rates.bare),
    busMessagesPerSecond: median(rates.bus),
    bareBesideAgents: percentiles(samples.bareBesideAgents),
    agentRoundTrip: percentiles(samples.agents),
  };
}

function printMessaging(r: MessagingResult, options: MessagingOptions): void {
  const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
  const rate = (perSecond: number): string =>
    `${Math.round(perSecond).toLocaleString("en-US")} msg/s`;
  const bus = ratios(r.busRoundTrip, r.bareRoundTrip);
  // An agent round trip is two hops (ping, then pong), each one bare XADD + XREAD at best.
  const agents = ratios(r.agentRoundTrip, r.bareBesideAgents, 2);
  console.log(
    `RedisBus messaging, one topic, ${options.subscribers} subscribers (${r.busRoundTrip.n} round trips each, ${options.messages} messages × 3 for throughput)`,
  );
  for (const q of ["p50", "p99"] as const) {
    console.log(
      `  round trip ${q}   bare XADD+XREAD ${us(r.bareRoundTrip[q])}   RedisBus ${us(r.busRoundTrip[q])}   ×${bus[q].toFixed(2)}`,
    );
  }
  console.log(
    `  throughput       bare XADD+XREAD ${rate(r.bareMessagesPerSecond)}   RedisBus ${rate(r.busMessagesPerSecond)} delivered to each subscriber   ×${(r.busMessagesPerSecond / r.bareMessagesPerSecond).toFixed(2)}`,
  );
  console.log(
    `agent to agent through two hosts and Redis (${r.agentRoundTrip.n} ping/pong round trips = 2 hops each)`,
  );
  for (const q of ["p50", "p99"] as const) {
    console.log(
      `  round trip ${q}   2 × bare ${us(2 * r.bareBesideAgents[q])}   agents ${us(r.agentRoundTrip[q])}   ×${agents[q].toFixed(2)}`,
    );
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "2000" },
      messages: { type: "string", default: "20000" },
      subscribers: { type: "string", default: "10" },
      "agent-rounds": { type: "string", default: "1000" },
      json: { type: "boolean", default: false },
    },
  });
  const options: MessagingOptions = {
    rounds: Number(values.rounds),
    messages: Number(values.messages),
    subscribers: Number(values.subscribers),
    agentRounds: Number(values["agent-rounds"]),
  };
  const result = await messagingBenchmark(options);
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else printMessaging(result, options);
}
