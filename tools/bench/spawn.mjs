#!/usr/bin/env node
// Spawn benchmark of @guildhall/process-manager (built package): spawn-to-ready latency, cold (no
// warm pool) and warm (from the pool), as ratios to a bare fork() + IPC hello measured in the same
// run, interleaved round by round so that load from elsewhere hits all three alike; RSS per idle
// agent; and how long a kill -9 takes to be seen.
//
//   npx nx run @guildhall/process-manager:build && node tools/bench/spawn.mjs [--rounds 20] [--json]
/* global process, console, performance, setImmediate */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  AgentProcessManager,
  createAgentProcessManager,
  DEFAULT_INHERITED_ENV,
} from "@guildhall/process-manager";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    idle: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(args.rounds);
const IDLE_AGENTS = Number(args.idle);
const AGENTS_DIR = fileURLToPath(new URL("./agents", import.meta.url));
const CLASS_NAME = `${AGENTS_DIR}/noop-agent.mjs#Noop`;
const BARE_CHILD = new URL("./bare-child.mjs", import.meta.url);
const CORE_CHILD = new URL("./core-child.mjs", import.meta.url);
const guild = { id: "bench", name: "Bench" };

// The baselines get the environment agent processes get (the manager passes only these host
// variables), so that both pay the same start-up costs: NODE_EXTRA_CA_CERTS, for one, makes every
// Node.js start parse a CA bundle.
const AGENT_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([key]) =>
    DEFAULT_INHERITED_ENV.some((name) =>
      name.endsWith("*")
        ? key.toUpperCase().startsWith(name.slice(0, -1))
        : key.toUpperCase() === name,
    ),
  ),
);

function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN) * 1024;
}

/** fork() of a script that only sends hello: what any per-agent process costs at least. */
async function bareFork(measureRss = false, script = BARE_CHILD) {
  const started = performance.now();
  const child = fork(script, [], {
    execArgv: [],
    env: AGENT_ENV,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "json",
  });
  await new Promise((resolve) => child.once("message", resolve));
  const ms = performance.now() - started;
  const rss = measureRss ? rssBytes(child.pid) : undefined;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.send("bye");
  await exited;
  return { ms, rss };
}

async function timedSpawn(manager, id) {
  const started = performance.now();
  await manager.spawn({ guild, agent: { id, name: id, className: CLASS_NAME } });
  const ms = performance.now() - started;
  await manager.stop(guild.id, id);
  return ms;
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const summary = (values) => ({ p50: quantile(values, 0.5), p95: quantile(values, 0.95) });
const fmt = (ms) => `${ms.toFixed(1)} ms`;
const settle = () => new Promise((resolve) => setImmediate(resolve));

const cold = new AgentProcessManager({ agentModules: [AGENTS_DIR], warmPoolSize: 0 });
const warm = await createAgentProcessManager({ agentModules: [AGENTS_DIR], warmPoolSize: 2 });
const samples = { bare: [], core: [], cold: [], warm: [] };
try {
  // One of each first, unmeasured: the file system cache and the JIT of this process warm up.
  await bareFork();
  await timedSpawn(cold, "warmup-cold");
  await warm.whenWarm();
  await timedSpawn(warm, "warmup-warm");

  // Every measurement starts with the warm pool full: its background refill is a fork, and it
  // must not overlap (and slow down) whatever is measured next.
  const quiet = async () => {
    await warm.whenWarm();
    await settle();
  };
  for (let round = 0; round < ROUNDS; round++) {
    await quiet();
    samples.bare.push((await bareFork()).ms);
    samples.core.push((await bareFork(false, CORE_CHILD)).ms);
    samples.cold.push(await timedSpawn(cold, `cold-${round}`));
    samples.warm.push(await timedSpawn(warm, `warm-${round}`));
  }

  // Memory of idle agents, next to that of a bare Node.js process.
  const bareRss = (await bareFork(true)).rss;
  const idle = [];
  await quiet();
  for (let i = 0; i < IDLE_AGENTS; i++) {
    idle.push(
      (await warm.spawn({ guild, agent: { id: `idle-${i}`, name: "idle", className: CLASS_NAME } }))
        .agentId,
    );
  }
  const infos = await warm.list({ guildId: guild.id });
  const agentRss = infos.reduce((sum, info) => sum + (info.memoryRssBytes ?? 0), 0) / infos.length;
  await Promise.all(idle.map((id) => warm.stop(guild.id, id)));

  // kill -9 to the crashed event.
  const detection = [];
  for (let i = 0; i < Math.min(ROUNDS, 10); i++) {
    const id = `victim-${i}`;
    const { pid } = await warm.spawn({
      guild,
      agent: { id, name: id, className: CLASS_NAME, restartPolicy: { mode: "never" } },
    });
    await quiet();
    const seen = new Promise((resolve) => {
      const off = warm.on("crashed", (event) => {
        if (event.agentId !== id) return;
        off();
        resolve(performance.now());
      });
    });
    const killedAt = performance.now();
    process.kill(pid, "SIGKILL");
    detection.push((await seen) - killedAt);
    await warm.stop(guild.id, id);
  }

  const bare = summary(samples.bare);
  const core = summary(samples.core);
  const coldS = summary(samples.cold);
  const warmS = summary(samples.warm);
  const kill = summary(detection);
  const report = {
    node: process.version,
    rounds: ROUNDS,
    bareForkMs: bare,
    bareForkWithCoreMs: core,
    coldSpawnMs: coldS,
    warmSpawnMs: warmS,
    coldRatio: { p50: coldS.p50 / bare.p50, p95: coldS.p95 / bare.p95 },
    coldOverCoreFloor: { p50: coldS.p50 / core.p50, p95: coldS.p95 / core.p95 },
    warmRatio: { p50: warmS.p50 / bare.p50, p95: warmS.p95 / bare.p95 },
    rssPerIdleAgentMiB: agentRss / 1048576,
    rssBareNodeMiB: bareRss / 1048576,
    kill9DetectionMs: kill,
    targets: { coldRatioMax: 1.3, warmRatioMax: 0.1, kill9DetectionMsMax: 100 },
  };
  if (args.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const ok = (pass) => (pass ? "meets target" : "MISSES target");
    console.log(`spawn benchmark, ${process.version}, ${ROUNDS} rounds (interleaved)`);
    console.log(`  agent environment: ${Object.keys(AGENT_ENV).join(", ")}`);
    console.log(`  bare fork + IPC hello   p50 ${fmt(bare.p50)}  p95 ${fmt(bare.p95)}`);
    console.log(
      `  fork + import core      p50 ${fmt(core.p50)}  p95 ${fmt(core.p95)}  ` +
        `(the floor for any agent process: agent modules import @guildhall/core)`,
    );
    console.log(
      `  cold spawn to ready     p50 ${fmt(coldS.p50)}  p95 ${fmt(coldS.p95)}  ` +
        `ratio p50 ${report.coldRatio.p50.toFixed(2)}x p95 ${report.coldRatio.p95.toFixed(2)}x ` +
        `(target <= 1.3x: ${ok(report.coldRatio.p50 <= 1.3)}); ` +
        `${report.coldOverCoreFloor.p50.toFixed(2)}x the core floor`,
    );
    console.log(
      `  warm spawn to ready     p50 ${fmt(warmS.p50)}  p95 ${fmt(warmS.p95)}  ` +
        `ratio p50 ${(report.warmRatio.p50 * 100).toFixed(1)}% p95 ${(report.warmRatio.p95 * 100).toFixed(1)}% ` +
        `(target <= 10%: ${ok(report.warmRatio.p50 <= 0.1)})`,
    );
    console.log(
      `  RSS per idle agent      ${report.rssPerIdleAgentMiB.toFixed(1)} MiB ` +
        `(bare node: ${report.rssBareNodeMiB.toFixed(1)} MiB, ${IDLE_AGENTS} agents)`,
    );
    console.log(
      `  kill -9 detected after  p50 ${fmt(kill.p50)}  p95 ${fmt(kill.p95)} ` +
        `(target < 100 ms: ${ok(kill.p95 < 100)})`,
    );
  }
} finally {
  await Promise.all([cold.shutdown(), warm.shutdown()]);
}
