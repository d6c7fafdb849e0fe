// The whole benchmark, as `npm run bench` runs it (after building the packages and this harness):
// agent create / stop latency through local and Redis-backed clusters, create throughput, lookups,
// host calls, failover, agent-to-agent messaging (one pair, a relay, n:n), durable handling, moves
// and memory, each next to its physical limit measured in the same run. Writes bench/report.json
// and bench/report.md.
//
//   node tools/bench/dist/bench/run.js [--rounds 60] [--failover-rounds 1] … (see --help)
//   node tools/bench/dist/bench/run.js --sections durable --out /tmp/bench   (some sections only)
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { format, resolveConfig } from "prettier";
import { Redis } from "ioredis";
import { startRedisServer } from "@guildhall/testing";
import { AGENT_WINDOW, measureAgentMessaging } from "./agent-messaging.js";
import {
  DEFAULT_WARM_POOL_SIZE,
  Quiet,
  startLocalBenchCluster,
  startRedisBenchCluster,
  type BenchCluster,
} from "./clusters.js";
import { benchGuild, measureLifecycle, measureThroughput } from "./create.js";
import { measureDurableHandling } from "./durable.js";
import { defaultFailoverSettings, measureFailover, type FailoverRound } from "./failover.js";
import { readRunContext } from "./machine.js";
import { agentPidsOf, memoryFigure, sizeFigure } from "./memory.js";
import { AGENT_WARM_UP } from "./messaging.js";
import { measureMove, type MoveSamples } from "./move.js";
import { measureNn } from "./nn.js";
import { measureSleep } from "./sleep.js";
import { agentClass, benchFile } from "./paths.js";
import { childPids, rssBytes } from "./proc.js";
import { compareLookups } from "./registry.js";
import { measureRelay, RELAY_WINDOW } from "./relay.js";
import { formatMs, latency, renderMarkdown, type BenchReport, type Figure } from "./report.js";
import { emptyCallTo, measureRpc, startHealthServer } from "./rpc.js";
import { AGENT_ENV_WITHOUT_EXTRA_CA, bareFork, spawnBenchmark } from "./spawn.js";
import { inParallel, median, percentiles } from "./stats.js";
import { evaluateTargets } from "./targets.js";
import { measureTracingCost } from "./tracing.js";
import { Teardown } from "./teardown.js";

/** Options, their defaults (sized for a run under 5 minutes on 2 cores), and their env names. */
const OPTIONS = {
  "spawn-rounds": [30, "process manager rounds (bare fork, fork + core, cold and warm spawn)"],
  rounds: [60, "create/stop rounds (each: a bare fork and one agent per cluster)"],
  "throughput-agents": [200, "agents created in parallel over 2 hosts"],
  concurrency: [8, "runAgent calls in flight during the throughput run"],
  "throughput-rounds": [1, "rounds of the throughput run"],
  lookups: [5000, "lookups of each kind"],
  "rpc-calls": [1000, "host calls of each kind"],
  "agent-rounds": [1000, "agent-to-agent ping/pong round trips"],
  "agent-warm-up": [
    AGENT_WARM_UP,
    "agent round trips (and as many bare hops and IPC round trips) before the timed ones",
  ],
  "agent-messages": [4000, "messages of each agent-to-agent throughput round"],
  "relay-messages": [10_000, "messages of each relay round, agent and bare relay (64 in flight)"],
  "relay-rounds": [3, "relay rounds of each (bare relay and agent, alternating)"],
  "nn-pairs": [8, "Pinger/Ponger pairs of the n:n run (Pingers on one host, Pongers on the other)"],
  "nn-messages": [2000, "messages (pings + pongs) per pair of each n:n round"],
  "nn-rounds": [3, "n:n rounds of each (bare processes and agents, alternating)"],
  "tracing-rounds": [4, "agent-to-agent throughput rounds with tracing on, and as many off"],
  "tracing-messages": [2000, "messages of each of those rounds"],
  "durable-commits": [2000, "commits, and bare EVALSHAs, timed one at a time"],
  "durable-rounds": [200, "publish → reply round trips of each durable-handling agent"],
  "durable-messages": [300, "messages of each durable-handling throughput round, per agent"],
  "durable-bursts": [7, "durable-handling throughput rounds (each agent in turn)"],
  "move-rounds": [30, "moves, each next to a warm create and a stop (a fresh 2-host cluster)"],
  "move-agents": [4, "agents under a steady stream of messages, moved in turn"],
  "move-rate": [80, "messages per second of that stream, over all its agents"],
  "sleep-agents": [
    10_000,
    "lazy agents declared on one host (declare rate, bytes per sleeping agent)",
  ],
  "sleep-concurrency": [64, "runAgent calls in flight while declaring them"],
  "sleep-rounds": [100, "wakes of a sleeping agent, each next to a warm create (one local host)"],
  "failover-rounds": [1, "failovers (each a fresh 2-host cluster)"],
  "failover-agents": [30, "agents on the host that is killed"],
} as const;
type OptionName = keyof typeof OPTIONS;

/**
 * The parts of the run, in the order they run; `--sections` picks some. Each starts only what it
 * needs (the clusters, the trivial server), so a section alone takes a fraction of the run.
 */
const SECTIONS = {
  spawn: "process manager alone (spawn.ts)",
  create: "create and stop latency on the four clusters",
  rpc: "engine → host calls",
  throughput: "create throughput, then memory and lookups with its agents",
  messaging: "agent → agent round trips and messages/s",
  relay: "one agent relaying messages/s vs a bare Redis Streams relay process",
  nn: "n:n messages/s, agent pairs over 2 hosts, vs two bare processes",
  tracing: "agent → agent messages/s with tracing on (OTLP export) vs off",
  durable: "commit vs bare EVALSHA, durable handling vs handling without commits",
  move: "moveAgent under a steady stream vs a warm create, on a fresh 2-host Redis cluster",
  sleep: "lazy agents: declare rate, bytes per sleeping agent, wake vs warm create (local)",
  failover: "kill -9 of a host",
} as const;
type SectionName = keyof typeof SECTIONS;
const SECTION_NAMES = Object.keys(SECTIONS) as SectionName[];

function readOptions(): {
  options: Record<OptionName, number>;
  sections: readonly SectionName[];
  out: string;
} {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(
        Object.keys(OPTIONS).map((name) => [name, { type: "string" as const }]),
      ),
      sections: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help === true) {
    console.log(
      "npm run bench -- [options]   (each also as env BENCH_<NAME>, e.g. BENCH_ROUNDS=50)",
    );
    for (const [name, [fallback, what]] of Object.entries(OPTIONS)) {
      console.log(`  --${name.padEnd(18)} ${what} (default ${fallback})`);
    }
    console.log("  --out <dir>          where report.json and report.md go (default bench/)");
    console.log(
      "  --sections <a,b>     run only these sections (env BENCH_SECTIONS; default all):",
    );
    for (const [name, what] of Object.entries(SECTIONS)) {
      console.log(`      ${name.padEnd(16)} ${what}`);
    }
    process.exit(0);
  }
  const options = {} as Record<OptionName, number>;
  for (const [name, [fallback]] of Object.entries(OPTIONS) as [
    OptionName,
    readonly [number, string],
  ][]) {
    const env = `BENCH_${name.toUpperCase().replaceAll("-", "_")}`;
    const raw = (values as Record<string, unknown>)[name] ?? process.env[env];
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isSafeInteger(value) || value < 1) {
      console.error(
        `bench: --${name} (or ${env}) must be a whole number of at least 1, got ${JSON.stringify(raw)}`,
      );
      process.exit(2);
    }
    options[name] = value;
  }
  const rawSections = values.sections ?? process.env["BENCH_SECTIONS"];
  const sections =
    rawSections === undefined
      ? SECTION_NAMES
      : rawSections
          .split(",")
          .map((name) => name.trim())
          .filter((name) => name !== "");
  const unknown = sections.filter((name) => !SECTION_NAMES.includes(name as SectionName));
  if (unknown.length > 0 || sections.length === 0) {
    console.error(
      `bench: --sections (or BENCH_SECTIONS) takes a comma-separated list of ${SECTION_NAMES.join(", ")}; got ${JSON.stringify(rawSections)}`,
    );
    process.exit(2);
  }
  return {
    options,
    // In the run's order, whatever the order asked.
    sections: SECTION_NAMES.filter((name) => sections.includes(name)),
    out: values.out ?? benchFile("../../bench"),
  };
}

const runStart = performance.now();
const log = (line: string): void =>
  console.log(
    `bench [${((performance.now() - runStart) / 1000).toFixed(0).padStart(3)} s]: ${line}`,
  );

/**
 * Kills every process this one started, and theirs, at once, and returns their pids: what the
 * stops left behind (a process still starting when the run was interrupted has no stop yet).
 */
function killEverything(): number[] {
  const tree = (pid: number): number[] => [pid, ...childPids(pid).flatMap(tree)];
  const left = childPids(process.pid).flatMap(tree);
  for (const pid of left) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
  return left;
}

/** Writes `text` as the repository's Prettier settings format it, so the reports pass format:check. */
async function writeFormatted(file: string, text: string): Promise<void> {
  const config = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(text, { ...config, filepath: file }));
}

async function main(): Promise<void> {
  const { options, sections, out } = readOptions();
  const runs = (section: SectionName): boolean => sections.includes(section);
  const context = readRunContext();
  const startedAt = performance.now();
  const teardown = new Teardown();
  teardown.onSignals(() => void killEverything());
  const figures: Figure[] = [];
  const notes: string[] = [];
  const settings: Record<string, number | string> = {};
  const failover: FailoverRound[] = [];
  let durableServerUs: { bareEvalsha: number; commit: number } | undefined;
  let bareIpcMs: number | undefined;
  let failure: unknown;
  log(
    `${context.cores} cores, ${context.cpuModel}, node ${context.node}, load ${context.loadAverageAtStart.map((l) => l.toFixed(2)).join(" ")}`,
  );
  try {
    const redis = await startRedisServer();
    teardown.add("redis-server", () => redis.stop());
    const quiet = new Quiet();
    if (redis.pid !== undefined) quiet.infrastructure.add(redis.pid);
    const health = runs("create") || runs("rpc") ? await startHealthServer(teardown) : undefined;
    if (health !== undefined) quiet.infrastructure.add(health.pid);

    // The process manager on its own, before any cluster runs: the part of an agent create that
    // is not RPC nor registry, next to what any agent process costs (fork + import core).
    if (runs("spawn")) {
      log(`process manager alone: ${options["spawn-rounds"]} rounds`);
      const spawns = await spawnBenchmark({ rounds: options["spawn-rounds"], idleAgents: 0 });
      const spawnLimit = "bare fork + IPC hello";
      figures.push(
        latency(
          "spawn.core",
          "Fork + import @guildhall/core + IPC hello (what any agent process costs)",
          spawns.forkWithCore,
          spawnLimit,
          spawns.bareFork,
        ),
        latency(
          "spawn.cold",
          "Agent start, process manager alone, cold (spawn → ready)",
          spawns.coldSpawn,
          spawnLimit,
          spawns.bareFork,
        ),
        latency(
          "spawn.warm",
          `Agent start, process manager alone, warm pool (${DEFAULT_WARM_POOL_SIZE})`,
          spawns.warmSpawn,
          spawnLimit,
          spawns.bareFork,
        ),
      );
      if (AGENT_ENV_WITHOUT_EXTRA_CA !== undefined) {
        const withCa: number[] = [];
        const withoutCa: number[] = [];
        for (let round = 0; round < 10; round++) {
          withCa.push((await bareFork()).readyMs);
          withoutCa.push((await bareFork({ env: AGENT_ENV_WITHOUT_EXTRA_CA })).readyMs);
        }
        notes.push(
          `This machine sets NODE_EXTRA_CA_CERTS, which agent processes inherit by default (and the bare forks here get too). Node.js 20 parses that bundle at every start: a bare fork + IPC hello took ${formatMs(median(withCa))} (p50 of 10) with it and ${formatMs(median(withoutCa))} without, interleaved.`,
        );
      }
    }

    // The cold clusters serve create and stop only; the warm Redis cluster every cluster section.
    const clusters: BenchCluster[] = [];
    let warm: BenchCluster | undefined;
    if (runs("create")) {
      log("starting clusters: local cold, local warm, Redis cold (2 hosts each)");
      clusters.push(
        await startLocalBenchCluster(teardown, 0),
        await startLocalBenchCluster(teardown, DEFAULT_WARM_POOL_SIZE),
      );
      const redisCold = await startRedisBenchCluster(teardown, {
        redisUrl: redis.url,
        prefix: "bench-cold:",
        hosts: 2,
        warmPoolSize: 0,
      });
      if (redisCold.warmPoolSize === 0) {
        clusters.push(redisCold);
      } else {
        notes.push(
          `Redis cold create not measured: \`guildhall host\` ignores GUILDHALL_WARM_POOL_SIZE (its hosts kept ${redisCold.warmPoolSize} idle runners each).`,
        );
        await redisCold.engine.shutdown();
        await Promise.all(redisCold.hostProcesses.map((h) => h.kill("SIGTERM")));
      }
    }
    if (
      runs("create") ||
      runs("rpc") ||
      runs("throughput") ||
      runs("messaging") ||
      runs("relay") ||
      runs("nn")
    ) {
      log("starting the warm Redis cluster (2 hosts)");
      const maxAgents = Math.max(100, Math.ceil(options["throughput-agents"] * 0.75));
      warm = await startRedisBenchCluster(teardown, {
        redisUrl: redis.url,
        prefix: "bench:",
        hosts: 2,
        maxAgents,
      });
      clusters.push(warm);
      settings["host warmPoolSize (default)"] = DEFAULT_WARM_POOL_SIZE;
      settings["throughput hosts' maxAgents"] = maxAgents;
    }
    for (const cluster of clusters) quiet.add(cluster);

    // Memory of idle processes, before any agent ran.
    let bareRss = NaN;
    let idleHostRss = NaN;
    if (runs("throughput") && warm !== undefined) {
      await quiet.wait();
      bareRss = (await bareFork({ measureRss: true })).rssBytes ?? NaN;
      idleHostRss = median(warm.hostProcesses.map((h) => rssBytes(h.pid)));
    }

    let emptyCallAfterQuiet: number[] | undefined;
    if (runs("create") && health !== undefined) {
      log(`create and stop latency: ${options.rounds} rounds`);
      const emptyCall = emptyCallTo(health.address);
      teardown.add("empty call client", () => emptyCall.close());
      const lifecycle = await measureLifecycle(clusters, quiet, options.rounds, emptyCall);
      emptyCallAfterQuiet = lifecycle.emptyCallAfterQuiet;
      const bareReady = percentiles(lifecycle.bareReady);
      const bareExit = percentiles(lifecycle.bareExit);
      for (const cluster of clusters) {
        const cold = cluster.warmPoolSize === 0;
        figures.push(
          latency(
            `create.${cluster.hostProcesses.length > 0 ? "redis" : "local"}.${cold ? "cold" : "warm"}`,
            `Agent create (runAgent → ready), ${cluster.name}`,
            percentiles(lifecycle.create.get(cluster.name) ?? []),
            "bare fork + IPC hello",
            bareReady,
          ),
        );
      }
      for (const cluster of clusters.filter((c) => c.warmPoolSize === 0)) {
        figures.push(
          latency(
            `stop.${cluster.hostProcesses.length > 0 ? "redis" : "local"}`,
            `Agent stop (stopAgent → stopped), ${cluster.name}`,
            percentiles(lifecycle.stop.get(cluster.name) ?? []),
            "bare child told to exit → exited",
            bareExit,
          ),
        );
      }
    }

    if (runs("rpc") && warm !== undefined && health !== undefined) {
      log(`engine → host calls: ${options["rpc-calls"]} of each`);
      const rpcGuild = benchGuild("bench-rpc");
      warm.placement.pinned = warm.addresses[0];
      await warm.engine.runAgent(rpcGuild, {
        id: "probe",
        name: "probe",
        className: agentClass("noop-agent.mjs", "Noop"),
      });
      warm.placement.pinned = undefined;
      await quiet.wait(new Map([[warm, 1]]));
      const rpc = await measureRpc(
        health.address,
        warm.addresses[0] ?? "",
        { guildId: rpcGuild.id, agentId: "probe" },
        options["rpc-calls"],
      );
      await warm.engine.stopAgent(rpcGuild.id, "probe");
      const bareCheck = percentiles(rpc.bareCheck);
      figures.push(
        latency(
          "rpc.health",
          "Host call: Health.Check on an agent host",
          percentiles(rpc.hostCheck),
          "empty unary call, trivial server",
          bareCheck,
        ),
        latency(
          "rpc.getAgentInfo",
          "Host call: GetAgentInfo on an agent host",
          percentiles(rpc.getAgentInfo),
          "empty unary call, trivial server",
          bareCheck,
        ),
      );
      // Every create starts after a quiet wait, with the processes on both ends idle: what one
      // call costs then is the part of a create's latency that no host code can remove.
      if (emptyCallAfterQuiet !== undefined) {
        figures.push(
          latency(
            "rpc.emptyAfterQuiet",
            "Empty unary call, trivial server, after the quiet wait each create starts from",
            percentiles(emptyCallAfterQuiet),
            "empty unary call, trivial server",
            bareCheck,
          ),
        );
      }
    }

    if (runs("throughput") && warm !== undefined) {
      log(
        `create throughput: ${options["throughput-agents"]} agents, ${options.concurrency} in flight`,
      );
      const throughput = await measureThroughput(warm, quiet, {
        agents: options["throughput-agents"],
        concurrency: options.concurrency,
        rounds: options["throughput-rounds"],
      });
      const agentRates = throughput.rounds.map((r) => r.agentsPerSecond);
      const forkRates = throughput.rounds.map((r) => r.bareForksPerSecond);
      figures.push({
        kind: "rate",
        id: "create.throughput",
        title: `Agent create throughput, ${warm.name}, ${options["throughput-agents"]} agents, ${options.concurrency} in flight`,
        unit: "agents/s",
        rounds: agentRates,
        median: median(agentRates),
        limit: {
          title: `bare forks + IPC hello, ${options.concurrency} in flight`,
          rounds: forkRates,
          median: median(forkRates),
        },
        ratio: median(agentRates) / median(forkRates),
      });

      // Memory with the agents of the throughput run idle.
      await quiet.wait(new Map([[warm, throughput.running.length]]));
      const agentRss = (await agentPidsOf(warm.addresses, throughput.guild.id))
        .map(rssBytes)
        .filter(Number.isFinite);
      const perHost = throughput.running.length / warm.hostProcesses.length;
      figures.push(
        memoryFigure(
          "memory.agent",
          "RSS per idle agent process (mean)",
          agentRss.reduce((a, b) => a + b, 0) / agentRss.length,
          agentRss.length,
          bareRss,
        ),
        memoryFigure(
          "memory.host.idle",
          "RSS per host process, no agents (median)",
          idleHostRss,
          warm.hostProcesses.length,
          bareRss,
        ),
        memoryFigure(
          "memory.host.busy",
          `RSS per host process, ${perHost} agents (median)`,
          median(warm.hostProcesses.map((h) => rssBytes(h.pid))),
          warm.hostProcesses.length,
          bareRss,
        ),
      );

      log(`lookups: ${options.lookups} of each, ${throughput.running.length} agents registered`);
      const bareRedis = new Redis(redis.url);
      teardown.add("bare Redis client", () => bareRedis.quit());
      await bareRedis.set("bench-plain", "127.0.0.1:50051");
      const ids = throughput.running;
      const lookups = await compareLookups(
        bareRedis,
        "bench-plain",
        {
          registry: (i) =>
            warm.registry.getLocation(throughput.guild.id, ids[i % ids.length] ?? ""),
          engine: (i) => warm.engine.isAgentRunning(throughput.guild.id, ids[i % ids.length] ?? ""),
        },
        options.lookups,
        1_000,
      );
      const bareGet = percentiles(lookups["get"] ?? []);
      figures.push(
        latency(
          "lookup.registry",
          "Lookup: RedisLocationRegistry.getLocation",
          percentiles(lookups["registry"] ?? []),
          "bare Redis GET",
          bareGet,
        ),
        latency(
          "lookup.engine",
          "Lookup: engine.isAgentRunning",
          percentiles(lookups["engine"] ?? []),
          "bare Redis GET",
          bareGet,
        ),
      );
      await inParallel(ids, options.concurrency, (id) =>
        warm.engine.stopAgent(throughput.guild.id, id),
      );
    }

    if (runs("messaging") && warm !== undefined) {
      log(
        `agent to agent: ${options["agent-rounds"]} round trips after ${options["agent-warm-up"]} of warm-up, ${options["agent-messages"]} messages × 3`,
      );
      const messaging = await measureAgentMessaging(
        teardown,
        quiet,
        warm,
        { redisUrl: redis.url, prefix: "bench:" },
        {
          rounds: options["agent-rounds"],
          messages: options["agent-messages"],
          warmUp: options["agent-warm-up"],
        },
      );
      bareIpcMs = percentiles(messaging.bareIpcMs).p50;
      const bareHop = percentiles(messaging.bareHopMs);
      figures.push(
        latency(
          "messaging.agentRoundTrip",
          `Agent → agent → agent round trip (two hosts, Redis), after ${options["agent-warm-up"]} round trips of warm-up`,
          percentiles(messaging.agentRoundTripMs),
          "bare XADD → blocked XREAD",
          bareHop,
          2,
        ),
        latency(
          "messaging.freshRoundTrip",
          `The same pair's first ${messaging.freshRoundTripMs.length} round trips (hosts and agent processes yet to run the path)`,
          percentiles(messaging.freshRoundTripMs),
          "bare XADD → blocked XREAD",
          bareHop,
          2,
        ),
        {
          kind: "rate",
          id: "messaging.agentThroughput",
          title: `Agent ↔ agent messages (ping + pong, ${AGENT_WINDOW} in flight)`,
          unit: "msg/s",
          rounds: messaging.agentMessagesPerSecond,
          median: median(messaging.agentMessagesPerSecond),
          limit: {
            title: "bare XADD → XREAD, 256 in flight",
            rounds: messaging.bareMessagesPerSecond,
            median: median(messaging.bareMessagesPerSecond),
          },
          ratio: median(messaging.agentMessagesPerSecond) / median(messaging.bareMessagesPerSecond),
        },
      );
    }

    if (runs("relay") && warm !== undefined) {
      log(
        `relay: ${options["relay-rounds"]} rounds of ${options["relay-messages"]} messages, bare relay and agent in turn`,
      );
      const relay = await measureRelay(
        teardown,
        quiet,
        warm,
        { redisUrl: redis.url, prefix: "bench:" },
        { messages: options["relay-messages"], rounds: options["relay-rounds"] },
      );
      const bareRelay = "bare relay process (ioredis XREAD → XADD), same client";
      const agentLatency = percentiles(relay.agent.latencyMs);
      const bareLatency = percentiles(relay.bare.latencyMs);
      figures.push(
        latency(
          "relay.latency",
          `Agent relay: publish to its inbox → its message back, ${RELAY_WINDOW} in flight`,
          agentLatency,
          bareRelay,
          bareLatency,
        ),
        {
          kind: "rate",
          id: "relay.throughput",
          title: `Agent relay: messages relayed by one agent on one host, ${RELAY_WINDOW} in flight`,
          unit: "msg/s",
          rounds: relay.agent.messagesPerSecond,
          median: median(relay.agent.messagesPerSecond),
          limit: {
            title: bareRelay,
            rounds: relay.bare.messagesPerSecond,
            median: median(relay.bare.messagesPerSecond),
          },
          ratio: median(relay.agent.messagesPerSecond) / median(relay.bare.messagesPerSecond),
        },
      );
      notes.push(
        `Relay: a client in the bench process (a RedisBus publishing to the relay's inbox and subscribed to its reply topic) keeps ${RELAY_WINDOW} messages in flight, publishing the next as each reply comes, ${options["relay-messages"]} messages a round. The agent relay is a \`Relay\` (tools/bench/agents/relay-agents.mjs) on one \`guildhall host\`: each message is handed to the agent process, which publishes its payload on the reply topic, and committed (position and reply) before the next. The bare relay is a Node.js process (tools/bench/bare-relay-child.mjs) reading the stream key of the same inbox topic, in a guild of its own, with a blocking XREAD (COUNT 100, BLOCK, as the bus reads) and XADDing a reply message per entry, a batch's XADDs pipelined. Rounds alternate, bare first, ${options["relay-rounds"]} of each, each from a quiet machine. Latency is publish → reply at the client, over every message of those rounds: with ${RELAY_WINDOW} in flight it is mostly queueing: about ${RELAY_WINDOW} messages over the relay's rate (agent ${formatMs(agentLatency.p50)} p50, ${formatMs(agentLatency.p99)} p99; bare ${formatMs(bareLatency.p50)}, ${formatMs(bareLatency.p99)}).`,
      );
    }

    if (runs("nn") && warm !== undefined) {
      const pairs = options["nn-pairs"];
      log(
        `n:n: ${pairs} pairs, ${options["nn-rounds"]} rounds of ${options["nn-messages"]} messages per pair, bare and agents in turn`,
      );
      const nn = await measureNn(
        teardown,
        quiet,
        warm,
        { redisUrl: redis.url, prefix: "bench:" },
        { pairs, messages: options["nn-messages"], rounds: options["nn-rounds"] },
      );
      figures.push({
        kind: "rate",
        id: "nn.throughput",
        title: `n:n agent messages (ping + pong), ${pairs} Pingers on one host and ${pairs} Pongers on the other, ${AGENT_WINDOW} in flight per pair, all at once`,
        unit: "msg/s",
        rounds: nn.agentMessagesPerSecond,
        median: median(nn.agentMessagesPerSecond),
        limit: {
          title: `two bare processes (one per side, ioredis XREAD/XADD on ${pairs} streams each), same exchanges`,
          rounds: nn.bareMessagesPerSecond,
          median: median(nn.bareMessagesPerSecond),
        },
        ratio: median(nn.agentMessagesPerSecond) / median(nn.bareMessagesPerSecond),
      });
      notes.push(
        `n:n: ${pairs} Pingers on one \`guildhall host\` and their ${pairs} Pongers on the other (each Pinger's peer its own Ponger) all burst at once, each keeping ${AGENT_WINDOW} pings in flight for ${Math.ceil(options["nn-messages"] / 2)} exchanges; the figure is every pair's pings and pongs over the time from telling the Pingers to start to the last one's report, in the bench. The limit is the same exchanges between two bare Node.js processes on the same Redis (other stream keys), one playing every Pinger (tools/bench/bare-pinger-child.mjs) and one every Ponger (tools/bench/bare-relay-child.mjs), each with one blocking XREAD over its ${pairs} streams and an XADD per message, as a host's bus reads all its agents' inboxes. Rounds alternate, bare first, ${options["nn-rounds"]} of each, each from a quiet machine.`,
      );
    }

    if (runs("tracing")) {
      log(
        `tracing: ${options["tracing-rounds"]} rounds of ${options["tracing-messages"]} messages, on and off`,
      );
      const tracing = await measureTracingCost(teardown, quiet, redis.url, {
        rounds: options["tracing-rounds"],
        messages: options["tracing-messages"],
      });
      figures.push({
        kind: "rate",
        id: "tracing.throughput",
        title: "Agent ↔ agent messages, tracing on (every message's spans exported over OTLP)",
        unit: "msg/s",
        rounds: tracing.onMessagesPerSecond,
        median: median(tracing.onMessagesPerSecond),
        limit: {
          title: "the same, tracing off",
          rounds: tracing.offMessagesPerSecond,
          median: median(tracing.offMessagesPerSecond),
        },
        ratio: median(tracing.onMessagesPerSecond) / median(tracing.offMessagesPerSecond),
      });
      notes.push(
        `Tracing on vs off: ${(median(tracing.onMessagesPerSecond) / median(tracing.offMessagesPerSecond)).toFixed(2)}× the messages/s, the traced hosts making ${tracing.exports} OTLP export requests. With tracing off, a host's span calls for one handled message and one send cost ${tracing.offNsPerMessage.toFixed(0)} ns (no-op API, timed in the bench process).`,
      );
    }

    if (runs("durable")) {
      log(
        `durable handling: ${options["durable-commits"]} commits, ${options["durable-rounds"]} round trips and ${options["durable-messages"]} messages × ${options["durable-bursts"]} per agent`,
      );
      const durable = await measureDurableHandling(teardown, redis.url, log, {
        commits: options["durable-commits"],
        rounds: options["durable-rounds"],
        messages: options["durable-messages"],
        throughputRounds: options["durable-bursts"],
      });
      durableServerUs = durable.serverUs;
      const bareEvalsha = percentiles(durable.bareEvalshaMs);
      const commit = percentiles(durable.commitMs);
      const plainHandle = percentiles(durable.handleMs.plain);
      const plainRate = {
        title: "the same handling, host without commits (Replier)",
        rounds: durable.messagesPerSecond.plain,
        median: median(durable.messagesPerSecond.plain),
      };
      const handled = {
        state: "state changed (Counter)",
        unchanged: "state unchanged (Replier)",
      } as const;
      figures.push(
        latency(
          "durable.commit",
          "Commit: RedisBus.commitAgent (new state, position, one message)",
          commit,
          "bare EVALSHA (return 1)",
          bareEvalsha,
        ),
        ...(["state", "unchanged"] as const).map((name) =>
          latency(
            `durable.handle.${name}`,
            `Durable handle, ${handled[name]}: publish → the agent's reply`,
            percentiles(durable.handleMs[name]),
            "the same, host without commits (Replier)",
            plainHandle,
          ),
        ),
        ...(["state", "unchanged"] as const).map((name): Figure => ({
          kind: "rate",
          id: `durable.throughput.${name}`,
          title: `Durable handling, one agent, ${handled[name]}, every message committed`,
          unit: "msg/s",
          rounds: durable.messagesPerSecond[name],
          median: median(durable.messagesPerSecond[name]),
          limit: plainRate,
          ratio: median(durable.messagesPerSecond[name]) / plainRate.median,
        })),
      );
      notes.push(
        `Durable handling: a bare EVALSHA of \`return 1\` took ${formatMs(bareEvalsha.p50)} at p50 and ${formatMs(bareEvalsha.p95)} at p95, a commit ${formatMs(commit.p50)} and ${formatMs(commit.p95)} (${commit.n} each, interleaved); of which Redis ran the script for ${durable.serverUs.bareEvalsha.toFixed(1)} µs and ${durable.serverUs.commit.toFixed(1)} µs on average (INFO commandstats). The host without commits is the same host and agent code on a bus whose commit only publishes the handler's sends (tools/bench/handling-host.ts); it hands the agent its messages as the durable host does (ahead of the handler in progress, by the agent's pace) and publishes the sends of what would be one commit together.`,
      );
    }

    if (runs("move")) {
      log(
        `move: ${options["move-rounds"]} rounds of a bare fork, a warm create, a stop and a move, ${options["move-agents"]} agents under ${options["move-rate"]} msg/s`,
      );
      const move: MoveSamples = await measureMove(teardown, redis.url, quiet, {
        rounds: options["move-rounds"],
        agents: options["move-agents"],
        rate: options["move-rate"],
      });
      const stream = `${options["move-agents"]} agents under ${options["move-rate"]} msg/s`;
      const warmCreate = percentiles(move.warmCreateMs);
      const limit = `warm create (runAgent → ready), same cluster and stream`;
      const stop = percentiles(move.stopMs);
      const bareExit = percentiles(move.bareExitMs);
      figures.push(
        latency(
          "move.answered",
          `Agent move (moveAgent → the new copy's first answer to a message sent since), ${stream}`,
          percentiles(move.moveAnsweredMs),
          limit,
          warmCreate,
        ),
        latency(
          "move.ready",
          `Agent move (moveAgent → resolved: stopped, then ready on the other host), ${stream}`,
          percentiles(move.moveResolvedMs),
          limit,
          warmCreate,
        ),
        latency(
          "move.stop",
          `Agent stop (stopAgent → stopped), same cluster and stream`,
          stop,
          "bare child told to exit → exited, same stream",
          bareExit,
        ),
      );
      settings["move cluster warm pool (per host)"] = move.warmPoolSize;
      notes.push(
        `Move: on a fresh cluster of 2 \`guildhall host\` processes (default warm pool: ${move.warmPoolSize} runners each), ${options["move-agents"]} durable counters were fed ${options["move-rate"]} messages a second in all while, round by round and each from a quiet machine, a fresh agent was created (the warm create: ${formatMs(warmCreate.p50)} at p50) and stopped (${formatMs(stop.p50)}), and one of the counters was moved to the other host with \`moveAgent\` (no target named). A move is timed until the counter's new copy answered a message published since the call (${formatMs(percentiles(move.moveAnsweredMs).p50)} at p50); \`moveAgent\` itself resolves once the agent is ready on its new host (${formatMs(percentiles(move.moveResolvedMs).p50)}). A move stops the old copy (it finishes and commits the message in hand) before it starts the new one, so it takes at least a process's exit (a bare child told to exit: ${formatMs(bareExit.p50)}) and a create. After ${move.moveResolvedMs.length} moves every counter held exactly the ${move.messages} messages sent, none lost or counted twice.`,
      );
    }

    if (runs("sleep")) {
      log(
        `sleep: ${options["sleep-agents"]} lazy agents declared (${options["sleep-concurrency"]} in flight), then ${options["sleep-rounds"]} rounds of a wake and a warm create`,
      );
      const sleep = await measureSleep(teardown, quiet, log, {
        agents: options["sleep-agents"],
        concurrency: options["sleep-concurrency"],
        rounds: options["sleep-rounds"],
      });
      const { declare } = sleep;
      const declareRate = declare.agents / (declare.declareMs / 1000);
      const emptyRate = declare.agents / (declare.emptyCallsMs / 1000);
      const bytesPerAgent = (declare.rssAfter - declare.rssBefore) / declare.agents;
      const heapPerAgent = (declare.heapAfter - declare.heapBefore) / declare.agents;
      const heapTotalPerAgent = (declare.heapTotalAfter - declare.heapTotalBefore) / declare.agents;
      const warmCreate = percentiles(sleep.warmCreateMs);
      const wake = percentiles(sleep.wakeMs);
      figures.push(
        {
          kind: "rate",
          id: "sleep.declare",
          title: `Lazy agents declared (runAgent lazy → resolved), one host of a local cluster, ${declare.agents} agents, ${options["sleep-concurrency"]} in flight`,
          unit: "agents/s",
          rounds: [declareRate],
          median: declareRate,
          limit: {
            title: `empty host calls (Health.Check), as many, ${options["sleep-concurrency"]} in flight`,
            rounds: [emptyRate],
            median: emptyRate,
          },
          ratio: declareRate / emptyRate,
        },
        sizeFigure(
          "sleep.bytesPerAgent",
          `Resident memory per sleeping agent: the local cluster process's RSS growth over ${declare.agents} lazy agents`,
          bytesPerAgent,
          declare.agents,
          { title: "target: 20 KiB per sleeping agent (no yardstick)", bytes: 20 * 1024 },
        ),
        latency(
          "sleep.wake",
          `Wake (message published → a sleeping agent's reply), ${sleep.sleepers} agents in turn, local, 1 host, warm pool (${sleep.warmPoolSize})`,
          wake,
          "warm create (runAgent → ready), same cluster and rounds",
          warmCreate,
        ),
      );
      settings["sleep cluster warm pool"] = sleep.warmPoolSize;
      notes.push(
        `Sleeping agents: ${declare.agents} lazy agents declared on one host of a local cluster (no warm pool) in ${(declare.declareMs / 1000).toFixed(1)} s, ${Math.round(declareRate)} agents/s; as many empty host calls at the same concurrency took ${(declare.emptyCallsMs / 1000).toFixed(1)} s. That process (engine, host, in-memory registry and bus, as a local cluster runs them) grew by ${((declare.rssAfter - declare.rssBefore) / 2 ** 20).toFixed(1)} MiB of RSS (${(bytesPerAgent / 1024).toFixed(1)} KiB per agent), each after a full GC and a settle; of that, V8's heap grew by ${(heapTotalPerAgent / 1024).toFixed(1)} KiB per agent, of which ${(heapPerAgent / 1024).toFixed(1)} KiB in use (the rest is heap V8 keeps reserved after the declare load: grown young generation, old space not given back), with no agent process (the host listed all ${declare.listed} agents asleep). The count includes what the in-process registry and bus keep per agent, which a Redis-backed host keeps in Redis instead. A wake (${formatMs(wake.p50)} at p50, ${formatMs(wake.p99)} at p99) starts the agent from the warm pool on its message and lasts until its reply; the warm create (${formatMs(warmCreate.p50)}) is runAgent → ready on the same host, in the same rounds. Each of ${sleep.sleepers} agents went through at least ${sleep.cycles} sleep/wake cycles, each answer from a new process with exactly the count of the messages sent to it.`,
      );
    }

    if (runs("failover")) {
      const failoverSettings = defaultFailoverSettings();
      Object.assign(settings, {
        "host heartbeatMs (default)": failoverSettings.hostHeartbeatMs,
        "host leaseMs (default)": failoverSettings.hostLeaseMs,
        "reconcile intervalMs (default)": failoverSettings.reconcileIntervalMs,
        "reconcile leaseMs (default)": failoverSettings.reconcileLeaseMs,
        "reconcile concurrency (default)": failoverSettings.reconcileConcurrency,
      });
      for (let round = 0; round < options["failover-rounds"]; round++) {
        log(
          `failover ${round + 1}/${options["failover-rounds"]}: kill -9 a host with ${options["failover-agents"]} agents`,
        );
        failover.push(
          await measureFailover(teardown, redis.url, quiet, {
            agents: options["failover-agents"],
            round,
            concurrency: failoverSettings.reconcileConcurrency,
          }),
        );
      }
      figures.push(
        latency(
          "failover",
          `Failover: kill -9 of a host with ${options["failover-agents"]} agents → all ready on the other host`,
          percentiles(failover.map((f) => f.failoverMs)),
          `${options["failover-agents"]} bare forks, ${failoverSettings.reconcileConcurrency} in flight`,
          percentiles(failover.map((f) => f.bareForksMs)),
        ),
      );
      notes.push(
        `Failover cannot be shorter than the host lease (${failoverSettings.hostLeaseMs} ms, after which the dead host's agents count as gone) less the time since its last heartbeat (the reconciler wakes when the lease runs out); then the agents start again, which is the work the bare-fork limit measures.`,
      );
    }
  } catch (error) {
    // The figures measured so far are still reported, with the failure.
    failure = error;
    console.error(error);
    notes.push(
      `The run failed, so figures after the failure are missing: ${String(error).split("\n")[0]}`,
    );
  } finally {
    await teardown.run();
    const left = killEverything();
    if (left.length > 0)
      log(`killed ${left.length} processes that outlived their stop: ${left.join(" ")}`);
  }

  const targets = evaluateTargets(figures, context.cores, {
    hostLeaseMs: defaultFailoverSettings().hostLeaseMs,
    ...(durableServerUs !== undefined && { durableServerUs }),
    ...(bareIpcMs !== undefined && { bareIpcMs }),
  });
  const report: BenchReport = {
    context,
    wallTimeSeconds: (performance.now() - startedAt) / 1000,
    loadAverageAtEnd: loadavg(),
    options,
    sections,
    settings,
    figures,
    targets,
    notes,
  };
  mkdirSync(out, { recursive: true });
  await writeFormatted(`${out}/report.json`, JSON.stringify(report, null, 2));
  await writeFormatted(`${out}/report.md`, renderMarkdown(report));
  log(`wrote ${out}/report.md and report.json in ${report.wallTimeSeconds.toFixed(0)} s`);
  for (const t of targets)
    log(
      `${t.met === undefined ? "–" : t.met ? "✔" : "✘"} ${t.target}: ${t.measured}${t.bestPossible === undefined ? "" : `; best possible here ${t.bestPossible}`}`,
    );
  if (failure !== undefined) process.exitCode = 1;
}

// A closed pipe (`| head`) must not kill the run before it stops what it started.
process.stdout.on("error", () => {});
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
