// Sleeping agents (DESIGN section 13), in one run: how fast an engine declares lazy agents on one
// host of a local cluster and what each sleeping agent costs that process in memory (both in a
// child process, sleep-child.ts), and how long a message takes to wake a sleeping agent until its
// reply, next to a warm-pool create on the same cluster in interleaved rounds, each from a quiet
// machine. Every wake is checked: the agent answers from a new process with exactly the count of
// the messages it was sent, across at least three sleep/wake cycles per agent.
import { fork } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { connectGuildClient, inboxTopic, type GuildClient } from "@guildhall/core";
import { HostClients } from "@guildhall/engine";
import { startLocalCluster } from "@guildhall/local";
import { AgentState } from "@guildhall/proto";
import { waitFor } from "@guildhall/testing";
import {
  DEFAULT_WARM_POOL_SIZE,
  PinnablePlacement,
  type BenchCluster,
  type Quiet,
} from "./clusters.js";
import { benchGuild } from "./create.js";
import { AGENTS_DIR, agentClass, compiledFile } from "./paths.js";
import type { SleepChildResult } from "./sleep-child.js";
import { since, timed } from "./stats.js";
import { Teardown } from "./teardown.js";

const NOOP = agentClass("noop-agent.mjs", "Noop");
const SLEEPER = agentClass("sleep-agents.mjs", "Sleeper");
const APP = "bench-sleep-app";
/** A woken agent's idle time before it sleeps again: short, so each round starts with it asleep. */
const SLEEP_AFTER_MS = 50;
/** The agents woken in turn; each sleeps again between its wakes. */
const MAX_SLEEPERS = 5;
/** Sleep/wake cycles each agent must go through with its state intact. */
const MIN_CYCLES = 3;
/** The longest a reply, or the declare child, may take before the run fails rather than hang. */
const REPLY_TIMEOUT_MS = 30_000;
const CHILD_TIMEOUT_MS = 600_000;

/** Options of {@link measureSleep}. */
export interface SleepOptions {
  /** Lazy agents declared for the rate and memory figures. */
  readonly agents: number;
  /** runAgent calls in flight while declaring. */
  readonly concurrency: number;
  /** Rounds of one wake and one warm create each. */
  readonly rounds: number;
}

/** What {@link measureSleep} measured. */
export interface SleepSamples {
  readonly declare: SleepChildResult;
  /** Message published → the sleeping agent's reply, ms. */
  readonly wakeMs: number[];
  /** runAgent (eager) → ready of a fresh agent, warm pool, same cluster, ms. */
  readonly warmCreateMs: number[];
  /** The agents woken in turn, and the fewest sleep/wake cycles any of them went through. */
  readonly sleepers: number;
  readonly cycles: number;
  readonly warmPoolSize: number;
}

/** Runs sleep-child.js and returns what it reports. */
async function declareInChild(
  teardown: Teardown,
  options: SleepOptions,
): Promise<SleepChildResult> {
  const child = fork(
    compiledFile("sleep-child.js"),
    [String(options.agents), String(options.concurrency)],
    { execArgv: ["--expose-gc"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  const exited = once(child, "exit");
  teardown.add("sleep declare child", async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  try {
    const [result] = await Promise.race([
      once(child, "message") as Promise<[SleepChildResult]>,
      exited.then(([code, signal]) => {
        throw new Error(
          `sleep benchmark: the declare child exited (${String(code ?? signal)}) without a result`,
        );
      }),
    ]);
    await exited;
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Replies to the bench's guild client, by the id of the message they answer. */
class Replies {
  readonly #waiting = new Map<string, (payload: Reply) => void>();
  readonly #early = new Map<string, Reply>();

  handle(inResponseTo: string | undefined, payload: Reply): void {
    if (inResponseTo === undefined) return;
    const waiter = this.#waiting.get(inResponseTo);
    if (waiter === undefined) this.#early.set(inResponseTo, payload);
    else {
      this.#waiting.delete(inResponseTo);
      waiter(payload);
    }
  }

  of(messageId: string, what: string): Promise<Reply> {
    const early = this.#early.get(messageId);
    if (early !== undefined) {
      this.#early.delete(messageId);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(messageId);
        reject(new Error(`sleep benchmark: no ${what} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.#waiting.set(messageId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }
}

interface Reply {
  readonly n: number;
  readonly count: number;
  readonly pid: number;
}

/**
 * The `sleep` section: first the declare rate and bytes per sleeping agent (sleep-child.ts), then
 * on a local cluster of one host with the default warm pool, `rounds` rounds of a wake (a message
 * to one of a few sleeping Sleepers → its reply) and a warm create (runAgent of a Noop → ready),
 * alternating which goes first, each from a quiet machine with every Sleeper asleep again.
 */
export async function measureSleep(
  parent: Teardown,
  quiet: Quiet,
  log: (line: string) => void,
  options: SleepOptions,
): Promise<SleepSamples> {
  log(
    `sleep: declaring ${options.agents} lazy agents, ${options.concurrency} in flight (child process)`,
  );
  const declare = await declareInChild(parent, options);
  if (declare.processes !== 0 || declare.listed !== declare.agents || declare.awake !== 0) {
    throw new Error(
      `sleep benchmark: after declaring ${declare.agents} lazy agents the host had ${declare.processes} child processes and listed ${declare.listed} agents, ${declare.awake} of them awake; expected none, all and none`,
    );
  }

  const teardown = new Teardown();
  parent.add("sleep cluster", () => teardown.run());
  try {
    const token = randomBytes(16).toString("base64url");
    const placement = new PinnablePlacement();
    const local = await startLocalCluster({
      hosts: 1,
      agentModules: [AGENTS_DIR],
      placement,
      token,
      hostOptions: { logLevel: "warn" },
    });
    teardown.add("sleep local cluster", () => local.stop());
    const address = local.hosts[0]?.address ?? "";
    const cluster: BenchCluster = {
      name: `local, 1 host, warm pool (${DEFAULT_WARM_POOL_SIZE})`,
      engine: local.engine,
      registry: local.registry,
      placement,
      addresses: [address],
      warmPoolSize: DEFAULT_WARM_POOL_SIZE,
      hostProcesses: [],
    };
    quiet.add(cluster);
    teardown.add("quiet", () => quiet.remove(cluster));
    const hostClients = new HostClients({ token });
    teardown.add("sleep host clients", () => hostClients.close());
    const host = hostClients.get(address);
    const { engine } = local;
    const guild = benchGuild("bench-sleep");

    const app: GuildClient = connectGuildClient(local.bus, { guildId: guild.id, id: APP });
    teardown.add("sleep app client", () => app.close());
    const replies = new Replies();
    await app.subscribe(inboxTopic(APP), (message) =>
      replies.handle(message.inResponseTo, message.payload as unknown as Reply),
    );

    const sleepers = Array.from(
      { length: Math.max(1, Math.min(MAX_SLEEPERS, Math.floor(options.rounds / MIN_CYCLES))) },
      (_, i) => `sleeper-${i}`,
    );
    const sent = new Map(sleepers.map((id) => [id, 0]));
    const lastPid = new Map<string, number>();
    const cycles = new Map(sleepers.map((id) => [id, 0]));
    for (const id of sleepers) {
      await engine.runAgent(
        guild,
        { id, name: "sleeper", className: SLEEPER, hibernateAfterMs: SLEEP_AFTER_MS },
        { lazy: true },
      );
    }

    const asleep = (id: string): Promise<unknown> =>
      waitFor(
        async () =>
          (await host.getAgentInfo({ guildId: guild.id, agentId: id })).agent?.state ===
          AgentState.HIBERNATED,
        { description: `${id} asleep again`, timeoutMs: REPLY_TIMEOUT_MS, intervalMs: 10 },
      );
    /** Wakes `id` with one message; checks its answer; resolves once it sleeps again. */
    const wake = async (id: string): Promise<number> => {
      const n = (sent.get(id) ?? 0) + 1;
      const startedAt = performance.now();
      const message = await app.publish(inboxTopic(id), { n });
      const reply = await replies.of(message.id, `answer of ${id} to message ${n}`);
      const wakeMs = since(startedAt);
      sent.set(id, n);
      if (reply.count !== n) {
        throw new Error(
          `sleep benchmark: ${id} answered its message ${n} with count ${reply.count}: its state did not survive its sleep`,
        );
      }
      if (reply.pid === lastPid.get(id)) {
        throw new Error(
          `sleep benchmark: ${id} answered from pid ${reply.pid} again: it never slept`,
        );
      }
      lastPid.set(id, reply.pid);
      cycles.set(id, (cycles.get(id) ?? 0) + 1);
      await asleep(id);
      return wakeMs;
    };

    // Unmeasured first: a create and a stop, and each sleeper's first wake (its first claim).
    await quiet.wait();
    await engine.runAgent(guild, { id: "warm-up", name: "noop", className: NOOP });
    await quiet.wait(new Map([[cluster, 1]]));
    await engine.stopAgent(guild.id, "warm-up");
    for (const id of sleepers) {
      await quiet.wait();
      await wake(id);
    }

    const samples = { wakeMs: [] as number[], warmCreateMs: [] as number[] };
    const measureWake = async (round: number): Promise<void> => {
      await quiet.wait();
      samples.wakeMs.push(await wake(sleepers[round % sleepers.length] ?? ""));
    };
    const measureCreate = async (round: number): Promise<void> => {
      const id = `created-${round}`;
      await quiet.wait();
      samples.warmCreateMs.push(
        await timed(() => engine.runAgent(guild, { id, name: "noop", className: NOOP })),
      );
      await quiet.wait(new Map([[cluster, 1]]));
      await engine.stopAgent(guild.id, id);
    };
    for (let round = 0; round < options.rounds; round++) {
      if (round % 2 === 0) {
        await measureWake(round);
        await measureCreate(round);
      } else {
        await measureCreate(round);
        await measureWake(round);
      }
    }
    // Every sleeper through MIN_CYCLES sleep/wake cycles at least, its count checked each time.
    for (const id of sleepers) {
      while ((cycles.get(id) ?? 0) < MIN_CYCLES) await wake(id);
    }
    return {
      declare,
      ...samples,
      sleepers: sleepers.length,
      cycles: Math.min(...cycles.values()),
      warmPoolSize: cluster.warmPoolSize,
    };
  } finally {
    await teardown.run();
  }
}
