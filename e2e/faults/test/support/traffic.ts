// Steady traffic for the durable-agent scenarios: one client publishes numbered messages, round
// robin, to each agent's inbox at a fixed overall rate, and records every reply. A publish that
// fails (Redis down) is retried until Redis has it, so the numbers each agent gets have no gap;
// only accepted publishes count as published.
import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import {
  connectGuildClient,
  createMessage,
  inboxTopic,
  type GuildClient,
  type JsonValue,
  type MessageBus,
} from "@guildhall/core";
import type { HostDiscovery } from "@guildhall/placement";
import type { FaultCluster } from "./fault-cluster.js";

/** What an agent is sent: `{ kind: "record" | "count", seq }`, seq 1, 2, 3… per agent. */
export type TrafficKind = "record" | "count";

/** One reply an agent sent to the traffic client. */
export interface TrafficReply {
  readonly kind: string;
  readonly seq?: number;
  readonly count?: number;
  readonly pid: number;
  /** When the client received it (ms since the epoch). */
  readonly at: number;
}

interface Lane {
  readonly agentId: string;
  readonly kind: TrafficKind;
  /** When each seq was accepted: index seq - 1. */
  readonly acceptedAt: number[];
  /** When each seq was first published, before Redis answered: index seq - 1. */
  readonly sentAt: number[];
  readonly replies: TrafficReply[];
}

/** What {@link NumberedTraffic.inject} published, and what the agent had been sent before it. */
export interface Injected {
  readonly acceptedAt: number;
  /** Numbered messages the agent had been sent before this one. */
  readonly numberedBefore: number;
}

/**
 * The hosts a cluster has started so far, as an engine discovers them: a host started after the
 * engine (a replacement) takes placements too, as a new pod would.
 */
export function clusterDiscovery(cluster: FaultCluster): HostDiscovery {
  return {
    ready: () => Promise.resolve(),
    hosts: () => [...new Set(cluster.hosts.map((h) => h.address))].sort(),
    onChange: () => () => undefined,
    close: () => Promise.resolve(),
  };
}

/** Numbered messages to a set of agents at a steady rate, and their replies. */
export class NumberedTraffic {
  readonly #bus: MessageBus;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #guildId: string;
  readonly #client: GuildClient;
  readonly #lanes: Lane[];
  readonly #byAgent: Map<string, Lane>;
  readonly #ratePerSecond: number;
  #chain: Promise<unknown> = Promise.resolve();
  #running = false;
  #closed = false;
  #loop: Promise<void> | undefined;
  #failedAttempts = 0;
  #next = 0;

  private constructor(
    cluster: FaultCluster,
    guildId: string,
    client: GuildClient,
    lanes: Lane[],
    ratePerSecond: number,
  ) {
    this.#bus = cluster.bus;
    // Reads the streams directly only to settle a publish whose answer was lost.
    this.#redis = new Redis(cluster.redis.url, { maxRetriesPerRequest: 0, lazyConnect: true });
    this.#redis.on("error", () => undefined);
    this.#prefix = cluster.prefix;
    this.#guildId = guildId;
    this.#client = client;
    this.#lanes = lanes;
    this.#byAgent = new Map(lanes.map((lane) => [lane.agentId, lane]));
    this.#ratePerSecond = ratePerSecond;
  }

  /** Subscribes to the client's inbox, where the agents reply. */
  static async open(
    cluster: FaultCluster,
    guildId: string,
    agents: readonly { agentId: string; kind: TrafficKind }[],
    ratePerSecond: number,
  ): Promise<NumberedTraffic> {
    const id = `traffic-${randomUUID().slice(0, 8)}`;
    const client = connectGuildClient(cluster.bus, { guildId, id });
    const lanes = agents.map((a) => ({ ...a, acceptedAt: [], sentAt: [], replies: [] }));
    const traffic = new NumberedTraffic(cluster, guildId, client, lanes, ratePerSecond);
    await client.subscribe(inboxTopic(id), (message) => {
      const reply = message.payload as {
        kind?: string;
        agentId?: string;
        seq?: number;
        count?: number;
        pid?: number;
      };
      const lane = traffic.#byAgent.get(reply.agentId ?? "");
      if (lane === undefined || typeof reply.kind !== "string" || typeof reply.pid !== "number") {
        return;
      }
      lane.replies.push({
        kind: reply.kind,
        pid: reply.pid,
        at: Date.now(),
        ...(typeof reply.seq === "number" && { seq: reply.seq }),
        ...(typeof reply.count === "number" && { count: reply.count }),
      });
    });
    return traffic;
  }

  /** Starts publishing; messages go to each agent in turn. */
  start(): void {
    if (this.#loop !== undefined) throw new Error("traffic is already flowing");
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops publishing and waits for the publish in progress to be accepted. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#loop = undefined;
  }

  /**
   * Publishes `payload` to `agentId`'s inbox in line with the traffic (after every numbered
   * message accepted so far), retried until accepted.
   */
  inject(agentId: string, payload: JsonValue): Promise<Injected> {
    const lane = this.#lane(agentId);
    return this.#enqueue(async () => {
      const numberedBefore = lane.acceptedAt.length;
      const acceptedAt = await this.#publish(agentId, payload);
      return { acceptedAt, numberedBefore };
    });
  }

  /** How many numbered messages `agentId` was sent. */
  accepted(agentId: string): number {
    return this.#lane(agentId).acceptedAt.length;
  }

  /** Numbered messages sent to all agents. */
  acceptedTotal(): number {
    return this.#lanes.reduce((sum, lane) => sum + lane.acceptedAt.length, 0);
  }

  /** When numbered message `seq` to `agentId` was accepted. */
  acceptedAt(agentId: string, seq: number): number {
    const at = this.#lane(agentId).acceptedAt[seq - 1];
    if (at === undefined) throw new Error(`${agentId} was never sent message ${seq}`);
    return at;
  }

  /** Every reply of `agentId` so far, in arrival order. */
  replies(agentId: string): readonly TrafficReply[] {
    return this.#lane(agentId).replies;
  }

  /**
   * The first reply of `agentId` to a numbered message first published at or after `sinceMs`:
   * proof that the agent handles what was published since. Counted from the publish, not from
   * Redis's answer to it: an agent may handle a message before its publisher has that answer.
   */
  answerSince(agentId: string, sinceMs: number): TrafficReply | undefined {
    const lane = this.#lane(agentId);
    return lane.replies.find(
      (r) => r.seq !== undefined && (lane.sentAt[r.seq - 1] ?? 0) >= sinceMs,
    );
  }

  /** Publish attempts that failed and were retried. */
  get failedAttempts(): number {
    return this.#failedAttempts;
  }

  /** Stops, giving up a publish that is still being retried. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.stop().catch(() => undefined);
    await this.#client.close();
    this.#redis.disconnect();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("the traffic was closed");
  }

  #lane(agentId: string): Lane {
    const lane = this.#byAgent.get(agentId);
    if (lane === undefined) throw new Error(`no traffic to ${agentId}`);
    return lane;
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #run(): Promise<void> {
    const gapMs = 1_000 / this.#ratePerSecond;
    let due = performance.now();
    while (this.#running) {
      const lane = this.#lanes[this.#next++ % this.#lanes.length]!;
      await this.#enqueue(async () => {
        const seq = lane.acceptedAt.length + 1;
        lane.sentAt.push(Date.now());
        lane.acceptedAt.push(await this.#publish(lane.agentId, { kind: lane.kind, seq }));
      });
      due += gapMs;
      const waitMs = due - performance.now();
      if (waitMs > 0) await delay(waitMs);
      // After a stall (Redis down) go on at the rate rather than in a burst.
      else if (waitMs < -10 * gapMs) due = performance.now();
    }
  }

  /** Publishes once, whatever fails meanwhile; resolves with when it was accepted. */
  async #publish(agentId: string, payload: JsonValue): Promise<number> {
    const topic = inboxTopic(agentId);
    const message = createMessage({ topic, sender: { id: this.#client.id }, payload });
    for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 500)) {
      this.#checkOpen();
      try {
        await this.#bus.publish(this.#guildId, message);
        return Date.now();
      } catch {
        this.#failedAttempts++;
      }
      // A publish whose connection died may still have been applied (and, with appendfsync
      // always, kept): publishing it again would send it twice.
      if (await this.#landed(topic, message.id)) return Date.now();
      await delay(pauseMs);
    }
  }

  /** Whether the stream of `topic` holds message `id`, asking until Redis answers. */
  async #landed(topic: string, id: string): Promise<boolean> {
    // The bus's key layout (bus-redis README, "Key layout").
    const key = `${this.#prefix}bus:{${this.#guildId}}:${topic}`;
    for (;;) {
      this.#checkOpen();
      try {
        if (this.#redis.status === "wait") await this.#redis.connect();
        // This client publishes to the topic one message at a time: it is the last entry, if any.
        const entries = await this.#redis.xrevrange(key, "+", "-", "COUNT", 3);
        return entries.some(([, fields]) => {
          const json = fields[fields.indexOf("m") + 1];
          return json !== undefined && (JSON.parse(json) as { id?: string }).id === id;
        });
      } catch {
        await delay(100);
      }
    }
  }
}
