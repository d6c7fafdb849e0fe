// Agent relay throughput: one Relay agent (agents/relay-agents.mjs) on one `guildhall host` of a
// Redis-backed cluster, against a bare relay process (bare-relay-child.mjs) doing the same reads
// and writes with plain ioredis, measured in the same run in alternating rounds. The same client
// code drives both (a RedisBus publishing to the relay's inbox and subscribed to its replies, 64
// messages in flight), each relay in a guild of its own, so the ratio compares relay with relay.
import { RedisBus } from "@guildhall/bus-redis";
import { createMessage } from "@guildhall/core";
import { busStreamKey, startBareRelay } from "./bare-children.js";
import { runPinned, type BenchCluster, type Quiet } from "./clusters.js";
import { benchGuild } from "./create.js";
import { agentClass } from "./paths.js";
import { inParallel, since } from "./stats.js";
import type { Teardown } from "./teardown.js";

/** Messages in flight from the client: it publishes the next when a reply comes. */
export const RELAY_WINDOW = 64;
/** The relay's agent id (its inbox is `inbox:relay`), also the sender of the bare relay's replies. */
const RELAY = "relay";
/** The topic both relays reply on. */
const REPLIES = "relay-replies";
const CLIENT = "bench-relay-client";
/** The longest a round may take before the run fails rather than hang on a lost reply. */
const ROUND_TIMEOUT_MS = 120_000;

/** The two relays, in the order each round runs them. */
const RELAYS = ["bare", "agent"] as const;
type RelayName = (typeof RELAYS)[number];

/** Samples of {@link measureRelay}: messages relayed per second, and publish → reply in ms. */
export type RelaySamples = Record<
  RelayName,
  { readonly messagesPerSecond: number[]; readonly latencyMs: number[] }
>;

/** Options of {@link measureRelay}. */
export interface RelayOptions {
  /** Messages of each round, for each relay. */
  readonly messages: number;
  /** Measured rounds of each relay. */
  readonly rounds: number;
}

/**
 * Publishes numbered messages to a relay's inbox and waits for each one's reply on
 * {@link REPLIES}: one instance per relay, the same code for both.
 */
class RelayClient {
  readonly #bus: RedisBus;
  readonly #guildId: string;
  /** By message number, what to call when its reply comes. */
  readonly #waiting = new Map<number, () => void>();
  /** Numbers go on across rounds, so a reply can only ever settle its own message. */
  #next = 0;
  #closing: Promise<void> | undefined;

  /** `url` and `prefix`: the bus of the hosts; `guildId`: the relay's guild. */
  constructor(url: string, prefix: string, guildId: string) {
    this.#bus = new RedisBus({ url, prefix });
    this.#guildId = guildId;
  }

  async start(): Promise<void> {
    await this.#bus.subscribe(this.#guildId, REPLIES, (message) => {
      const { n } = message.payload as { n: number };
      const replied = this.#waiting.get(n);
      this.#waiting.delete(n);
      replied?.();
    });
  }

  /** Publish of message `n` → its reply here, in milliseconds. */
  async #relay(n: number): Promise<number> {
    const replied = new Promise<void>((resolve) => this.#waiting.set(n, resolve));
    const started = performance.now();
    await this.#bus.publish(
      this.#guildId,
      createMessage({ topic: `inbox:${RELAY}`, sender: { id: CLIENT }, payload: { n } }),
    );
    await replied;
    return since(started);
  }

  /** `messages` messages, {@link RELAY_WINDOW} in flight: messages/s and each one's latency. */
  async round(messages: number): Promise<{ messagesPerSecond: number; latencyMs: number[] }> {
    const first = this.#next;
    this.#next += messages;
    const ns = Array.from({ length: messages }, (_, i) => first + i);
    const latencyMs: number[] = [];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `relay round: ${messages - latencyMs.length} of ${messages} replies missing after ${ROUND_TIMEOUT_MS} ms`,
            ),
          ),
        ROUND_TIMEOUT_MS,
      );
    });
    const started = performance.now();
    try {
      await Promise.race([
        inParallel(ns, RELAY_WINDOW, async (n) => void latencyMs.push(await this.#relay(n))),
        timedOut,
      ]);
    } finally {
      clearTimeout(timer);
    }
    return { messagesPerSecond: messages / (since(started) / 1000), latencyMs };
  }

  /** Closes the bus (its subscription with it). Idempotent. */
  async close(): Promise<void> {
    this.#closing ??= this.#bus.close();
    await this.#closing;
  }
}

/**
 * Places a Relay on the first host of `cluster` (whose bus is `prefix` on `redisUrl`) and starts
 * a bare relay process on the same Redis, then runs `rounds` rounds of `messages` messages
 * through each, alternating (bare, agent, bare, …), each from a quiet machine; stops both after.
 */
export async function measureRelay(
  teardown: Teardown,
  quiet: Quiet,
  cluster: BenchCluster,
  bus: { redisUrl: string; prefix: string },
  options: RelayOptions,
): Promise<RelaySamples> {
  const guild = benchGuild("bench-relay");
  await runPinned(
    cluster,
    guild,
    {
      id: RELAY,
      name: "Relay",
      className: agentClass("relay-agents.mjs", "Relay"),
      properties: { replyTo: REPLIES },
    },
    0,
  );
  // The bare relay reads and writes the streams a host's bus would for the same agent and topic,
  // in a guild of its own: the two relays never see each other's entries.
  const bareGuild = "bench-relay-bare";
  const bare = await startBareRelay(teardown, quiet, bus.redisUrl, [
    {
      from: busStreamKey(bus.prefix, bareGuild, `inbox:${RELAY}`),
      to: busStreamKey(bus.prefix, bareGuild, REPLIES),
      topic: REPLIES,
      sender: RELAY,
    },
  ]);
  const clients: Record<RelayName, RelayClient> = {
    bare: new RelayClient(bus.redisUrl, bus.prefix, bareGuild),
    agent: new RelayClient(bus.redisUrl, bus.prefix, guild.id),
  };
  for (const name of RELAYS) {
    teardown.add(`${name} relay client`, () => clients[name].close());
    await clients[name].start();
  }

  // Unmeasured warm-up: the agent process, its host's path to it, and the JIT everywhere.
  for (const name of RELAYS) await clients[name].round(Math.min(options.messages, 1_000));
  const samples: RelaySamples = {
    bare: { messagesPerSecond: [], latencyMs: [] },
    agent: { messagesPerSecond: [], latencyMs: [] },
  };
  for (let round = 0; round < options.rounds; round++) {
    for (const name of RELAYS) {
      await quiet.wait(new Map([[cluster, 1]]));
      const { messagesPerSecond, latencyMs } = await clients[name].round(options.messages);
      samples[name].messagesPerSecond.push(messagesPerSecond);
      samples[name].latencyMs.push(...latencyMs);
    }
  }
  await Promise.all(RELAYS.map((name) => clients[name].close()));
  await bare.stop();
  await cluster.engine.stopAgent(guild.id, RELAY);
  return samples;
}
