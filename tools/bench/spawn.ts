// Spawn benchmark of @guildhall/process-manager (built package): spawn-to-ready latency, cold (no
// warm pool) and warm (from the pool), as ratios to a bare fork() + IPC hello measured in the same
// run, interleaved round by round so that load from elsewhere hits all of them alike; RSS per idle
// agent; and how long a kill -9 takes to be seen. Its yardstick, `bareFork`, is also the limit
// of the agent create figures of the full benchmark (run.ts).
//
//   npx tsc -p tools/bench && node tools/bench/dist/bench/spawn.js [--rounds 20] [--json]
import { fork } from "node:child_process";
import { once } from "node:events";
import { parseArgs } from "node:util";
import {
  AgentProcessManager,
  createAgentProcessManager,
  DEFAULT_INHERITED_ENV,
} from "@guildhall/process-manager";
import { AGENTS_DIR, agentClass, benchFile, isMain } from "./paths.js";
import { rssBytes } from "./proc.js";
import { percentiles, ratios, timed, type Percentiles } from "./stats.js";

/**
 * The environment agent processes get (the manager passes only these host variables). The
 * yardsticks get it too, so that both pay the same start-up costs: NODE_EXTRA_CA_CERTS, for one,
 * makes every Node.js start parse a CA bundle.
 */
export const AGENT_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined &&
      DEFAULT_INHERITED_ENV.some((name) =>
        name.endsWith("*")
          ? entry[0].toUpperCase().startsWith(name.slice(0, -1))
          : entry[0].toUpperCase() === name,
      ),
  ),
);

/**
 * {@link AGENT_ENV} without NODE_EXTRA_CA_CERTS, or undefined where that is not set: Node.js 20
 * parses the named bundle at every start, so a machine that sets it pays for it in every fork.
 */
export const AGENT_ENV_WITHOUT_EXTRA_CA: Record<string, string> | undefined =
  AGENT_ENV["NODE_EXTRA_CA_CERTS"] === undefined
    ? undefined
    : Object.fromEntries(
        Object.entries(AGENT_ENV).filter(([name]) => name !== "NODE_EXTRA_CA_CERTS"),
      );

/** One bare fork: start to hello, and the exit after being told to go. */
export interface BareForkSample {
  /** fork() to the child's IPC hello, in milliseconds. */
  readonly readyMs: number;
  /** Telling the child to exit to its exit, in milliseconds. */
  readonly exitMs: number;
  /** The child's resident memory at hello, when asked for. */
  readonly rssBytes?: number;
}

/**
 * fork() of a script that only says hello over IPC (`bare-child.mjs`, or `core-child.mjs`, which
 * imports @guildhall/core first): what any per-agent process costs at least.
 */
export async function bareFork(
  options: { script?: string; measureRss?: boolean; env?: Record<string, string> } = {},
): Promise<BareForkSample> {
  const started = performance.now();
  const child = fork(options.script ?? benchFile("bare-child.mjs"), [], {
    execArgv: [],
    env: options.env ?? AGENT_ENV,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
  });
  const exited = once(child, "exit");
  await once(child, "message");
  const readyMs = performance.now() - started;
  const rss = options.measureRss === true && child.pid !== undefined ? rssBytes(child.pid) : NaN;
  const stopping = performance.now();
  child.send("bye");
  await exited;
  const exitMs = performance.now() - stopping;
  return { readyMs, exitMs, ...(options.measureRss === true && { rssBytes: rss }) };
}

/** Options of {@link spawnBenchmark}. */
export interface SpawnBenchmarkOptions {
  readonly rounds: number;
  readonly idleAgents: number;
}

/** What {@link spawnBenchmark} measured, in milliseconds and bytes. */
export interface SpawnBenchmarkResult {
  readonly bareFork: Percentiles;
  readonly forkWithCore: Percentiles;
  readonly coldSpawn: Percentiles;
  readonly warmSpawn: Percentiles;
  readonly kill9Detection: Percentiles;
  readonly rssPerIdleAgentBytes: number;
  readonly rssBareNodeBytes: number;
}

const guild = { id: "bench", name: "Bench" };
const NOOP = agentClass("noop-agent.mjs", "Noop");

async function timedSpawn(manager: AgentProcessManager, id: string): Promise<number> {
  const ms = await timed(() => manager.spawn({ guild, agent: { id, name: id, className: NOOP } }));
  await manager.stop(guild.id, id);
  return ms;
}

/** Process manager spawns (cold, warm) against bare forks, RSS of idle agents, kill -9 detection. */
export async function spawnBenchmark(
  options: SpawnBenchmarkOptions,
): Promise<SpawnBenchmarkResult> {
  const cold = new AgentProcessManager({ agentModules: [AGENTS_DIR], warmPoolSize: 0 });
  const warm = await createAgentProcessManager({ agentModules: [AGENTS_DIR], warmPoolSize: 2 });
  const samples = {
    bare: [] as number[],
    core: [] as number[],
    cold: [] as number[],
    warm: [] as number[],
  };
  try {
    // One of each first, unmeasured: the file system cache and the JIT of this process warm up.
    await bareFork();
    await timedSpawn(cold, "warmup-cold");
    await timedSpawn(warm, "warmup-warm");

    // Every measurement starts with the warm pool full: its background refill is a fork, and it
    // must not overlap (and slow down) whatever is measured next.
    const quiet = async (): Promise<void> => {
      await warm.whenWarm();
      await new Promise((resolve) => setImmediate(resolve));
    };
    for (let round = 0; round < options.rounds; round++) {
      await quiet();
      samples.bare.push((await bareFork()).readyMs);
      samples.core.push((await bareFork({ script: benchFile("core-child.mjs") })).readyMs);
      samples.cold.push(await timedSpawn(cold, `cold-${round}`));
      samples.warm.push(await timedSpawn(warm, `warm-${round}`));
    }

    // Memory of idle agents, next to that of a bare Node.js process.
    const rssBareNodeBytes = (await bareFork({ measureRss: true })).rssBytes ?? NaN;
    let rssPerIdleAgentBytes = NaN;
    const idle: string[] = [];
    await quiet();
    for (let i = 0; i < options.idleAgents; i++) {
      const id = `idle-${i}`;
      await warm.spawn({ guild, agent: { id, name: "idle", className: NOOP } });
      idle.push(id);
    }
    if (idle.length > 0) {
      const infos = await warm.list({ guildId: guild.id });
      rssPerIdleAgentBytes =
        infos.reduce((sum, info) => sum + (info.memoryRssBytes ?? 0), 0) / infos.length;
    }
    await Promise.all(idle.map((id) => warm.stop(guild.id, id)));

    // kill -9 to the crashed event.
    const detection: number[] = [];
    for (let i = 0; i < Math.min(options.rounds, 10); i++) {
      const id = `victim-${i}`;
      const { pid } = await warm.spawn({
        guild,
        agent: { id, name: id, className: NOOP, restartPolicy: { mode: "never" } },
      });
      await quiet();
      const seen = new Promise<number>((resolve) => {
        const off = warm.on("crashed", (event) => {
          if (event.agentId !== id) return;
          off();
          resolve(performance.now());
        });
      });
      const killedAt = performance.now();
      if (pid === undefined) throw new Error(`agent ${id} has no pid`);
      process.kill(pid, "SIGKILL");
      detection.push((await seen) - killedAt);
      await warm.stop(guild.id, id);
    }
    return {
      bareFork: percentiles(samples.bare),
      forkWithCore: percentiles(samples.core),
      coldSpawn: percentiles(samples.cold),
      warmSpawn: percentiles(samples.warm),
      kill9Detection: percentiles(detection),
      rssPerIdleAgentBytes,
      rssBareNodeBytes,
    };
  } finally {
    await Promise.all([cold.shutdown(), warm.shutdown()]);
  }
}

function printSpawnBenchmark(r: SpawnBenchmarkResult, options: SpawnBenchmarkOptions): void {
  const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;
  const ok = (pass: boolean): string => (pass ? "meets target" : "MISSES target");
  const cold = ratios(r.coldSpawn, r.bareFork);
  const coldOverCore = ratios(r.coldSpawn, r.forkWithCore);
  const warm = ratios(r.warmSpawn, r.bareFork);
  console.log(`spawn benchmark, ${process.version}, ${options.rounds} rounds (interleaved)`);
  console.log(`  agent environment: ${Object.keys(AGENT_ENV).join(", ")}`);
  console.log(`  bare fork + IPC hello   p50 ${fmt(r.bareFork.p50)}  p95 ${fmt(r.bareFork.p95)}`);
  console.log(
    `  fork + import core      p50 ${fmt(r.forkWithCore.p50)}  p95 ${fmt(r.forkWithCore.p95)}  ` +
      `(the floor for any agent process: agent modules import @guildhall/core)`,
  );
  console.log(
    `  cold spawn to ready     p50 ${fmt(r.coldSpawn.p50)}  p95 ${fmt(r.coldSpawn.p95)}  ` +
      `ratio p50 ${cold.p50.toFixed(2)}x p95 ${cold.p95.toFixed(2)}x ` +
      `(target <= 1.3x: ${ok(cold.p50 <= 1.3)}); ${coldOverCore.p50.toFixed(2)}x the core floor`,
  );
  console.log(
    `  warm spawn to ready     p50 ${fmt(r.warmSpawn.p50)}  p95 ${fmt(r.warmSpawn.p95)}  ` +
      `ratio p50 ${(warm.p50 * 100).toFixed(1)}% p95 ${(warm.p95 * 100).toFixed(1)}% ` +
      `(target <= 10%: ${ok(warm.p50 <= 0.1)})`,
  );
  console.log(
    `  RSS per idle agent      ${(r.rssPerIdleAgentBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(bare node: ${(r.rssBareNodeBytes / 2 ** 20).toFixed(1)} MiB, ${options.idleAgents} agents)`,
  );
  console.log(
    `  kill -9 detected after  p50 ${fmt(r.kill9Detection.p50)}  p95 ${fmt(r.kill9Detection.p95)} ` +
      `(target < 100 ms: ${ok(r.kill9Detection.p95 < 100)})`,
  );
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "20" },
      idle: { type: "string", default: "10" },
      json: { type: "boolean", default: false },
    },
  });
  const options = { rounds: Number(values.rounds), idleAgents: Number(values.idle) };
  const result = await spawnBenchmark(options);
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else printSpawnBenchmark(result, options);
}
