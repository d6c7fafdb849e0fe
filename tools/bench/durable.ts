// Durable handling: what committing each handled message costs. First the commit alone
// (RedisBus.commitAgent with a new state, a position and one released message, as a host makes
// after a typical handler) against a bare EVALSHA of `return 1`, serially, in interleaved blocks.
// Then messages handled by an agent on a real host, publish → reply and messages/s, with and
// without a state change, against the same host and agent code whose bus does not commit
// (handling-host.ts): handling without its commits, measured in the same run.
import { fork } from "node:child_process";
import { once } from "node:events";
import { Redis } from "ioredis";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { RedisBus } from "@guildhall/bus-redis";
import {
  connectGuildClient,
  createMessage,
  type AgentCommit,
  type AgentSpec,
  type GuildClient,
  validateParsedMessage,
} from "@guildhall/core";
import { agentSpecToProto } from "@guildhall/host-server";
import { AgentHostService } from "@guildhall/proto";
import { agentClass, compiledFile } from "./paths.js";
import { waitForQuiet } from "./proc.js";
import { inParallel, since } from "./stats.js";
import type { Teardown } from "./teardown.js";

/** Calls per interleaved block of the commit and EVALSHA round trips. */
const COMMIT_BLOCK = 100;
/** Publish → reply round trips per interleaved block, per agent. */
const HANDLE_BLOCK = 25;
/** Publishes in flight while an agent is fed a burst: far more than it handles at once. */
const FEED_WINDOW = 256;
/** The longest a burst or a reply may take before the run fails rather than hang. */
const REPLY_TIMEOUT_MS = 60_000;
const FEEDER = "bench-feeder";

/**
 * The agents fed messages, each alone on a host of its own, so that each host works and idles
 * alike while they take turns: which host, which class.
 */
const HANDLERS = {
  /** The yardstick: a Replier on a host whose bus does not commit. */
  plain: { mode: "plain", exportName: "Replier" },
  /** Counter on a durable host: each commit stores a new state. */
  state: { mode: "durable", exportName: "Counter" },
  /** Replier on a durable host: each commit stores the position and the reply only. */
  unchanged: { mode: "durable", exportName: "Replier" },
} as const;
type Handler = keyof typeof HANDLERS;
const HANDLER_NAMES = Object.keys(HANDLERS) as Handler[];

/** Samples of {@link measureDurableHandling}: milliseconds, and messages handled per second. */
export interface DurableSamples {
  readonly bareEvalshaMs: number[];
  readonly commitMs: number[];
  /** Redis's own time per call (INFO commandstats), in µs: the rest is the trip and the client. */
  readonly serverUs: { bareEvalsha: number; commit: number };
  readonly handleMs: Record<Handler, number[]>;
  readonly messagesPerSecond: Record<Handler, number[]>;
}

/** Options of {@link measureDurableHandling}. */
export interface DurableOptions {
  /** Commits, and bare EVALSHAs. */
  readonly commits: number;
  /** Publish → reply round trips per agent. */
  readonly rounds: number;
  /** Messages of each throughput round, per agent. */
  readonly messages: number;
  readonly throughputRounds: number;
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The commit and EVALSHA round trips, then the agents on their hosts (two durable, one without
 * commits), on the Redis at `redisUrl`. Stops what it started before it returns.
 */
export async function measureDurableHandling(
  teardown: Teardown,
  redisUrl: string,
  log: (line: string) => void,
  options: DurableOptions,
): Promise<DurableSamples> {
  const samples: DurableSamples = {
    bareEvalshaMs: [],
    commitMs: [],
    serverUs: { bareEvalsha: Number.NaN, commit: Number.NaN },
    handleMs: { plain: [], state: [], unchanged: [] },
    messagesPerSecond: { plain: [], state: [], unchanged: [] },
  };
  await measureCommits(teardown, redisUrl, options.commits, samples);
  await measureHandling(teardown, redisUrl, log, options, samples);
  return samples;
}

async function measureCommits(
  teardown: Teardown,
  redisUrl: string,
  commits: number,
  samples: DurableSamples,
): Promise<void> {
  const bare = new Redis(redisUrl);
  let quitting: Promise<unknown> | undefined;
  const quitBare = (): Promise<unknown> => (quitting ??= bare.quit());
  teardown.add("bare EVALSHA client", quitBare);
  const bus = new RedisBus({ url: redisUrl, prefix: "bench-commit:" });
  teardown.add("commit bus", () => bus.close());
  const sha = (await bare.script("LOAD", "return 1")) as string;
  const guildId = "bench-commit";
  const agentId = "committer";
  const inbox = `inbox:${agentId}`;
  const epoch = 1;
  let sequence = (await bus.claimAgent(guildId, agentId, { epoch, topics: [inbox] })).commits;
  // Positions need not be entries of the stream for the script: it stores them as given.
  const commitOnce = async (n: number): Promise<number> => {
    const commit: AgentCommit = {
      epoch,
      sequence: ++sequence,
      state: JSON.stringify({ count: n }),
      position: { topic: inbox, position: `1-${n}` },
      // Checked as a host checks each send of its agent (its payload JSON by construction), so
      // the commit encodes it as a host's commit does, without walking the payload again.
      messages: [
        validateParsedMessage(
          createMessage({
            topic: `inbox:${FEEDER}`,
            sender: { id: agentId },
            payload: { n, count: n },
          }),
        ),
      ],
    };
    const started = performance.now();
    const result = await bus.commitAgent(guildId, agentId, commit);
    const elapsed = since(started);
    if (result !== "committed") throw new Error(`bench commit ${sequence} was ${result}`);
    return elapsed;
  };
  const evalshaOnce = async (): Promise<number> => {
    const started = performance.now();
    await bare.evalsha(sha, 0);
    return since(started);
  };
  // Both are EVALSHA to Redis: their server times are told apart by reading the counter around
  // each block.
  const evalshaUsec = async (): Promise<number> => {
    const stats = await bare.info("commandstats");
    return Number(/^cmdstat_evalsha:calls=\d+,usec=(\d+)/m.exec(stats)?.[1] ?? Number.NaN);
  };
  const serverUsec = { bareEvalsha: 0, commit: 0 };
  let n = 0;
  // Unmeasured warm-up: connections, the JIT, Redis's script cache and allocator.
  for (let i = 0; i < 2 * COMMIT_BLOCK; i++) {
    await evalshaOnce();
    await commitOnce(n++);
  }
  for (let done = 0; done < commits; done += COMMIT_BLOCK) {
    let before = await evalshaUsec();
    for (let i = 0; i < COMMIT_BLOCK; i++) {
      await settle();
      samples.bareEvalshaMs.push(await evalshaOnce());
    }
    let after = await evalshaUsec();
    serverUsec.bareEvalsha += after - before;
    before = after;
    for (let i = 0; i < COMMIT_BLOCK; i++) {
      await settle();
      samples.commitMs.push(await commitOnce(n++));
    }
    after = await evalshaUsec();
    serverUsec.commit += after - before;
  }
  samples.serverUs.bareEvalsha = serverUsec.bareEvalsha / samples.bareEvalshaMs.length;
  samples.serverUs.commit = serverUsec.commit / samples.commitMs.length;
  await Promise.all([quitBare(), bus.close()]);
}

/** A handling host process (handling-host.ts). */
interface HandlingHost {
  readonly pid: number;
  readonly address: string;
  stop(): Promise<void>;
}

async function startHandlingHost(
  teardown: Teardown,
  mode: "durable" | "plain",
  redisUrl: string,
  prefix: string,
): Promise<HandlingHost> {
  const child = fork(compiledFile("handling-host.js"), [mode, redisUrl, prefix], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = once(child, "exit");
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    })());
  teardown.add(`${mode} handling host`, stop);
  const [message] = (await Promise.race([
    once(child, "message"),
    exited.then(([code, signal]) => {
      throw new Error(`the ${mode} handling host exited (code ${code}, signal ${signal})`);
    }),
  ])) as [{ address: string }];
  if (child.pid === undefined) throw new Error(`the ${mode} handling host has no pid`);
  return { pid: child.pid, address: message.address, stop };
}

/** A guild client that publishes to the agents' inboxes and counts their replies in its own. */
class Feeder {
  readonly #client: GuildClient;
  #replies = 0;
  #waiting: { target: number; resolve: (at: number) => void } | undefined;

  constructor(bus: RedisBus, guildId: string) {
    this.#client = connectGuildClient(bus, { guildId, id: FEEDER });
  }

  async start(): Promise<void> {
    await this.#client.subscribe(`inbox:${FEEDER}`, () => {
      this.#replies += 1;
      const waiting = this.#waiting;
      if (waiting !== undefined && this.#replies >= waiting.target) {
        this.#waiting = undefined;
        waiting.resolve(performance.now());
      }
    });
  }

  /** Resolves with the time at which `count` more replies have come. */
  #replied(count: number, what: string): Promise<number> {
    const target = this.#replies + count;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${what}: ${target - this.#replies} of ${count} replies missing after ${REPLY_TIMEOUT_MS} ms`,
            ),
          ),
        REPLY_TIMEOUT_MS,
      );
      this.#waiting = {
        target,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
    });
  }

  /** Publish of one message to `agentId` → its reply here, in milliseconds. */
  async roundTrip(agentId: string): Promise<number> {
    const replied = this.#replied(1, `reply of ${agentId}`);
    const started = performance.now();
    await this.#client.publish(`inbox:${agentId}`, { n: 0 });
    return (await replied) - started;
  }

  /** Messages handled per second: from the first of `messages` publishes to the last reply. */
  async burst(agentId: string, messages: number): Promise<number> {
    const replied = this.#replied(messages, `burst to ${agentId}`);
    const started = performance.now();
    const ns = Array.from({ length: messages }, (_, n) => n);
    await inParallel(ns, FEED_WINDOW, (n) => this.#client.publish(`inbox:${agentId}`, { n }));
    return messages / (((await replied) - started) / 1000);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

async function measureHandling(
  teardown: Teardown,
  redisUrl: string,
  log: (line: string) => void,
  options: DurableOptions,
  samples: DurableSamples,
): Promise<void> {
  const prefix = "bench-handling:";
  const agentId = "agent";
  const bus = new RedisBus({ url: redisUrl, prefix });
  teardown.add("feeder bus", () => bus.close());
  const hosts = new Map<Handler, HandlingHost>();
  const feeders = new Map<Handler, Feeder>();
  const managers: Http2SessionManager[] = [];
  teardown.add("handling host clients", () => managers.forEach((m) => m.abort()));
  for (const name of HANDLER_NAMES) {
    const { mode, exportName } = HANDLERS[name];
    const host = await startHandlingHost(teardown, mode, redisUrl, prefix);
    hosts.set(name, host);
    const guildId = `bench-${name}`;
    const feeder = new Feeder(bus, guildId);
    await feeder.start();
    feeders.set(name, feeder);
    const baseUrl = `http://${host.address}`;
    const manager = new Http2SessionManager(baseUrl);
    managers.push(manager);
    const client = createClient(
      AgentHostService,
      createGrpcTransport({ baseUrl, sessionManager: manager }),
    );
    const spec: AgentSpec = {
      id: agentId,
      name: exportName,
      className: agentClass("durable-agents.mjs", exportName),
    };
    await client.createAgent({
      guild: { id: guildId, name: guildId },
      agent: agentSpecToProto(spec),
    });
    manager.abort();
  }
  const feeder = (name: Handler): Feeder => {
    const found = feeders.get(name);
    if (found === undefined) throw new Error(`no feeder for ${name}`);
    return found;
  };
  const quiet = (): Promise<void> =>
    waitForQuiet([
      { pids: [...hosts.values()].map((h) => h.pid), children: hosts.size, self: true },
    ]);

  // Unmeasured warm-up: each agent process, its host's path to it and the JIT on both ends.
  for (const name of HANDLER_NAMES) {
    for (let i = 0; i < 50; i++) await feeder(name).roundTrip(agentId);
    await feeder(name).burst(agentId, 100);
  }
  log("durable handling: agents placed and warmed up; publish → reply round trips");
  await quiet();
  // The agents take turns block by block, so each host idles as long between two of its blocks
  // and load from elsewhere on the machine falls on all of them alike.
  for (let done = 0; done < options.rounds; done += HANDLE_BLOCK) {
    for (const name of HANDLER_NAMES) {
      for (let i = 0; i < HANDLE_BLOCK; i++) {
        await settle();
        samples.handleMs[name].push(await feeder(name).roundTrip(agentId));
      }
    }
  }
  log("durable handling: throughput");
  for (let round = 0; round < options.throughputRounds; round++) {
    for (const name of HANDLER_NAMES) {
      await quiet();
      samples.messagesPerSecond[name].push(await feeder(name).burst(agentId, options.messages));
    }
  }
  await Promise.all([...feeders.values()].map((f) => f.close()));
  await bus.close();
  await Promise.all([...hosts.values()].map((h) => h.stop()));
}
