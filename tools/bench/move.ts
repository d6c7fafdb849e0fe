// Moving an agent (ClusterExecutionEngine.moveAgent: stop it keeping its state, then start it on
// another host from that state) while it handles a steady stream of messages, next to a warm
// create (and a stop) on the same 2-host Redis cluster under the same stream, and a bare child
// process told to exit (what a stop costs at least), in interleaved rounds. A move ends, for this benchmark, when the moved agent's new copy has answered a message
// published since the move began; when moveAgent resolves (the agent is ready on its new host:
// its process runs, onStart ran, it is subscribed and registered) is measured too.
import { RedisBus } from "@guildhall/bus-redis";
import { connectGuildClient, inboxTopic, type GuildClient } from "@guildhall/core";
import { startRedisBenchCluster, type BenchCluster, type Quiet } from "./clusters.js";
import { benchGuild } from "./create.js";
import { agentClass } from "./paths.js";
import { bareFork } from "./spawn.js";
import { since, timed } from "./stats.js";
import { Teardown } from "./teardown.js";

const NOOP = agentClass("noop-agent.mjs", "Noop");
const STREAMED = agentClass("move-agents.mjs", "Streamed");
const FEEDER = "bench-move-feeder";
/** The longest a reply may take before the run fails rather than hang. */
const REPLY_TIMEOUT_MS = 30_000;

/** Options of {@link measureMove}. */
export interface MoveOptions {
  /** Rounds: each a bare fork, a warm create, a stop and a move, every one from a quiet machine. */
  readonly rounds: number;
  /** Agents fed the stream; each round moves the next one, to the other host. */
  readonly agents: number;
  /** Messages per second of the stream, over all of those agents. */
  readonly rate: number;
}

/** Samples of {@link measureMove}, in milliseconds. */
export interface MoveSamples {
  /** runAgent → ready of a fresh agent, under the stream. */
  readonly warmCreateMs: number[];
  /** stopAgent → stopped of that agent, under the stream. */
  readonly stopMs: number[];
  /** A bare child told to exit → its exit, under the stream: what stopping a process costs at least. */
  readonly bareExitMs: number[];
  /** moveAgent → resolved: stopped on its host, then ready on the other. */
  readonly moveResolvedMs: number[];
  /** moveAgent called → the new copy's first reply to a message published since the call. */
  readonly moveAnsweredMs: number[];
  /** Messages the stream sent, all counted exactly once by their agents (checked). */
  readonly messages: number;
  readonly warmPoolSize: number;
}

/** A reply of a Streamed agent, and when it came. */
interface Reply {
  readonly n: number;
  readonly count: number;
  readonly agentId: string;
  readonly pid: number;
  readonly at: number;
}

/**
 * Numbered messages to the agents' inboxes, round robin at a steady rate, and their replies:
 * which process answered each agent last, and waits for a reply that matches.
 */
class Stream {
  readonly #client: GuildClient;
  readonly #ids: readonly string[];
  readonly #gapMs: number;
  /** When message `n` was handed to the bus (performance.now()), before its publish. */
  readonly #sentAt: number[] = [];
  readonly #sent = new Map<string, number>();
  readonly #last = new Map<string, Reply>();
  readonly #waiters = new Set<{ match: (r: Reply) => boolean; resolve: (r: Reply) => void }>();
  #running = false;
  #loop: Promise<void> | undefined;
  #next = 0;

  constructor(bus: RedisBus, guildId: string, ids: readonly string[], ratePerSecond: number) {
    this.#client = connectGuildClient(bus, { guildId, id: FEEDER });
    this.#ids = ids;
    this.#gapMs = 1_000 / ratePerSecond;
  }

  async open(): Promise<void> {
    await this.#client.subscribe(inboxTopic(FEEDER), (message) => {
      const reply = { ...(message.payload as Omit<Reply, "at">), at: performance.now() };
      this.#last.set(reply.agentId, reply);
      for (const waiter of this.#waiters) {
        if (waiter.match(reply)) {
          this.#waiters.delete(waiter);
          waiter.resolve(reply);
        }
      }
    });
  }

  /** When message `n` was sent. */
  sentAt(n: number): number {
    return this.#sentAt[n] ?? Number.NaN;
  }

  /** The last reply of `agentId`. */
  last(agentId: string): Reply | undefined {
    return this.#last.get(agentId);
  }

  /** Messages sent so far, to `agentId` or to all. */
  sent(agentId?: string): number {
    if (agentId !== undefined) return this.#sent.get(agentId) ?? 0;
    return [...this.#sent.values()].reduce((a, b) => a + b, 0);
  }

  /** Publishes one message to `agentId`; resolves with its number once the bus has it. */
  async publish(agentId: string): Promise<number> {
    const n = this.#next++;
    this.#sentAt[n] = performance.now();
    await this.#client.publish(inboxTopic(agentId), { n });
    this.#sent.set(agentId, this.sent(agentId) + 1);
    return n;
  }

  /** The next reply that matches, or the last one of its agent if that matches already. */
  reply(match: (r: Reply) => boolean, what: string): Promise<Reply> {
    const done = [...this.#last.values()].find(match);
    if (done !== undefined) return Promise.resolve(done);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`move benchmark: no ${what} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      const waiter = {
        match,
        resolve: (r: Reply) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Starts the stream; resolves once every agent answered a message of it. */
  async start(): Promise<void> {
    if (this.#loop !== undefined) throw new Error("the stream is already flowing");
    const startedAt = performance.now();
    this.#running = true;
    this.#loop = this.#run();
    await Promise.all(
      this.#ids.map((id) =>
        this.reply(
          (r) => r.agentId === id && this.sentAt(r.n) >= startedAt,
          `answer of ${id} to the stream`,
        ),
      ),
    );
  }

  /** Stops the stream once the publish in progress is done. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    this.#loop = undefined;
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  async #run(): Promise<void> {
    let due = performance.now();
    for (let i = 0; this.#running; i++) {
      await this.publish(this.#ids[i % this.#ids.length] ?? "");
      due += this.#gapMs;
      const waitMs = due - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      else if (waitMs < -10 * this.#gapMs) due = performance.now();
    }
  }
}

/**
 * On a fresh 2-host Redis cluster (`guildhall host` processes, default warm pool): `agents`
 * Streamed agents fed `rate` messages a second in all. Each round, from a quiet machine each time
 * and with the stream flowing: a bare child forked and told to exit (its exit timed), a fresh
 * agent created (timed), then stopped (timed), then one of
 * the streamed agents moved to the other host (timed to moveAgent's answer and to its new copy's
 * first reply to a message published since the call). Last, every streamed agent must have
 * counted every message it was sent exactly once.
 */
export async function measureMove(
  parent: Teardown,
  redisUrl: string,
  quiet: Quiet,
  options: MoveOptions,
): Promise<MoveSamples> {
  // Stopped at the end, or with everything else when the run is interrupted.
  const teardown = new Teardown();
  parent.add("move cluster", () => teardown.run());
  try {
    const prefix = "bench-move:";
    const cluster: BenchCluster = await startRedisBenchCluster(teardown, {
      redisUrl,
      prefix,
      hosts: 2,
    });
    quiet.add(cluster);
    teardown.add("quiet", () => quiet.remove(cluster));
    const bus = new RedisBus({ url: redisUrl, prefix });
    teardown.add("move feeder bus", () => bus.close());
    const { engine } = cluster;
    const guild = benchGuild("bench-move");
    const ids = Array.from({ length: options.agents }, (_, i) => `streamed-${i}`);
    const running = new Map([[cluster, ids.length]]);

    // Unmeasured first: an agent on each host (a host's first agent costs it far more than the
    // next), then the streamed agents, spread over both hosts.
    for (const [index, address] of cluster.addresses.entries()) {
      const id = `warm-up-${index}`;
      cluster.placement.pinned = address;
      await engine.runAgent(guild, { id, name: "noop", className: NOOP });
      cluster.placement.pinned = undefined;
      await engine.stopAgent(guild.id, id);
    }
    for (const id of ids) await engine.runAgent(guild, { id, name: id, className: STREAMED });
    const stream = new Stream(bus, guild.id, ids, options.rate);
    teardown.add("move stream", () => stream.close());
    await stream.open();

    /** Moves `id` to the other host; the two times of {@link MoveSamples}. */
    const move = async (id: string): Promise<{ resolvedMs: number; answeredMs: number }> => {
      const before = stream.last(id)?.pid;
      const startedAt = performance.now();
      const answered = stream.reply(
        (r) => r.agentId === id && r.pid !== before && stream.sentAt(r.n) >= startedAt,
        `answer of ${id}'s new copy`,
      );
      // Should the move fail, its rejection is the one reported.
      answered.catch(() => undefined);
      const moved = await engine.moveAgent(guild.id, id);
      const resolvedMs = since(startedAt);
      if (moved.to === moved.from) throw new Error(`${id} was "moved" to where it ran`);
      // A message for the new copy right away, whenever the stream's next one for it is due.
      await stream.publish(id);
      return { resolvedMs, answeredMs: (await answered).at - startedAt };
    };

    // Unmeasured too: the engine's and the hosts' code paths of a move, and of a create and a
    // stop under the stream, once each way.
    await stream.start();
    await move(ids[0] ?? "");
    await move(ids[0] ?? "");
    await engine.runAgent(guild, { id: "warm-up", name: "noop", className: NOOP });
    await engine.stopAgent(guild.id, "warm-up");
    await stream.stop();

    const samples: MoveSamples = {
      warmCreateMs: [],
      stopMs: [],
      bareExitMs: [],
      moveResolvedMs: [],
      moveAnsweredMs: [],
      messages: 0,
      warmPoolSize: cluster.warmPoolSize,
    };
    for (let round = 0; round < options.rounds; round++) {
      const id = `created-${round}`;
      await quiet.wait(running);
      await stream.start();
      samples.bareExitMs.push((await bareFork()).exitMs);
      await stream.stop();

      await quiet.wait(running);
      await stream.start();
      samples.warmCreateMs.push(
        await timed(() => engine.runAgent(guild, { id, name: "noop", className: NOOP })),
      );
      await stream.stop();

      await quiet.wait(new Map([[cluster, ids.length + 1]]));
      await stream.start();
      samples.stopMs.push(await timed(() => engine.stopAgent(guild.id, id)));
      await stream.stop();

      await quiet.wait(running);
      await stream.start();
      const { resolvedMs, answeredMs } = await move(ids[round % ids.length] ?? "");
      samples.moveResolvedMs.push(resolvedMs);
      samples.moveAnsweredMs.push(answeredMs);
      await stream.stop();
    }

    // Nothing lost nor handled twice across the moves: each count is what its agent was sent.
    for (const id of ids) {
      const n = await stream.publish(id);
      const last = await stream.reply((r) => r.agentId === id && r.n === n, `count of ${id}`);
      if (last.count !== stream.sent(id)) {
        throw new Error(
          `move benchmark: ${id} counted ${last.count} messages of the ${stream.sent(id)} sent to it`,
        );
      }
    }
    return { ...samples, messages: stream.sent() };
  } finally {
    await teardown.run();
  }
}
