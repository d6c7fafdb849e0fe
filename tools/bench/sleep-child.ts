// The declare-rate and memory half of the `sleep` section, in a process of its own so that its
// resident memory is the local cluster's and nothing of the bench's: a local cluster of one host
// (engine, host, in-memory registry and bus, all in this process; no warm pool, so no child
// process at all) declares `agents` lazy agents with `concurrency` runAgent calls in flight. It
// reports the declare rate next to as many empty host calls at the same concurrency (in blocks
// interleaved with the declares), and its RSS
// before and after (each after a full GC and a settle), then checks that no agent process exists
// and that the host lists every agent asleep.
//
//   fork(sleep-child.js, [agents, concurrency], { execArgv: ["--expose-gc"] })
import { setTimeout as delay } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { HostClients } from "@guildhall/engine";
import { startLocalCluster } from "@guildhall/local";
import { AgentState, Health } from "@guildhall/proto";
import { benchGuild } from "./create.js";
import { AGENTS_DIR, agentClass } from "./paths.js";
import { childPids, rssBytes } from "./proc.js";
import { inParallel, since } from "./stats.js";

/** What the child reports to the bench. */
export interface SleepChildResult {
  readonly agents: number;
  readonly declareMs: number;
  /** The same number of empty host calls (Health.Check), same concurrency: the yardstick. */
  readonly emptyCallsMs: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  /** V8's heap in use (heapUsed) and reserved (heapTotal), before and after. */
  readonly heapBefore: number;
  readonly heapAfter: number;
  readonly heapTotalBefore: number;
  readonly heapTotalAfter: number;
  /** Child processes of this process with every agent declared: none is expected. */
  readonly processes: number;
  /** Agents the host listed, and of those how many were not asleep: none is expected. */
  readonly listed: number;
  readonly awake: number;
}

const SLEEPER = agentClass("sleep-agents.mjs", "Sleeper");
const TOKEN = "bench-sleep-child";
/** Declares (and empty calls) per block; blocks of each alternate. */
const BLOCK = 1_000;

/** Full collections with pauses between them, for a resident size that no garbage inflates. */
async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("sleep-child: run it with --expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await delay(300);
  }
}

async function main(): Promise<SleepChildResult> {
  const [agents, concurrency] = process.argv.slice(2).map(Number) as [number, number];
  const local = await startLocalCluster({
    hosts: 1,
    agentModules: [AGENTS_DIR],
    token: TOKEN,
    maxAgentsPerHost: agents + 1,
    hostOptions: { warmPoolSize: 0, logLevel: "warn" },
  });
  const hostClients = new HostClients({ token: TOKEN });
  const address = local.hosts[0]?.address ?? "";
  const baseUrl = `http://${address}`;
  const healthSession = new Http2SessionManager(baseUrl);
  try {
    const health = createClient(
      Health,
      createGrpcTransport({ baseUrl, sessionManager: healthSession }),
    );
    const guild = benchGuild("bench-sleep-declare");
    // Unmeasured first: the declare path and the host calls once each, so neither pays for
    // code loaded or connections opened on first use.
    await local.engine.runAgent(
      guild,
      { id: "warm-up", name: "s", className: SLEEPER },
      {
        lazy: true,
      },
    );
    await local.engine.stopAgent(guild.id, "warm-up");
    await inParallel(Array.from({ length: 256 }), concurrency, () => health.check({}));

    await settle();
    const rssBefore = rssBytes(process.pid);
    const { heapUsed: heapBefore, heapTotal: heapTotalBefore } = process.memoryUsage();
    // In interleaved blocks, so that load from elsewhere on the machine hits both alike.
    const ids = Array.from({ length: agents }, (_, i) => `sleeper-${i}`);
    let declareMs = 0;
    let emptyCallsMs = 0;
    for (let from = 0; from < agents; from += BLOCK) {
      const block = ids.slice(from, from + BLOCK);
      let started = performance.now();
      await inParallel(block, concurrency, () => health.check({}));
      emptyCallsMs += since(started);
      started = performance.now();
      await inParallel(block, concurrency, (id) =>
        local.engine.runAgent(guild, { id, name: "sleeper", className: SLEEPER }, { lazy: true }),
      );
      declareMs += since(started);
    }
    await settle();
    const rssAfter = rssBytes(process.pid);
    const { heapUsed: heapAfter, heapTotal: heapTotalAfter } = process.memoryUsage();

    const processes = childPids(process.pid).length;
    const listed = (await hostClients.get(address).listAgents({ guildId: guild.id })).agents;
    return {
      agents,
      declareMs,
      emptyCallsMs,
      rssBefore,
      rssAfter,
      heapBefore,
      heapAfter,
      heapTotalBefore,
      heapTotalAfter,
      processes,
      listed: listed.length,
      awake: listed.filter((a) => a.state !== AgentState.HIBERNATED).length,
    };
  } finally {
    healthSession.abort();
    hostClients.close();
    await local.stop();
  }
}

// Goes with its parent.
process.on("disconnect", () => process.exit(1));
main().then(
  (result) => process.send?.(result, () => process.exit(0)),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
