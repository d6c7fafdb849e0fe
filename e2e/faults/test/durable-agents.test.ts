// Scenario 9: durable agents under steady traffic. Six recording and six counting agents on three
// hosts sharing one redis-server that keeps an append-only file; a client sends numbered messages
// to their inboxes at a steady rate while one fault after another hits the cluster: an agent
// process SIGKILLed, counters SIGKILLed five times in a row, a message whose handler throws and
// one that ends the process, Redis SIGKILLed and restarted from its file, a host paused past its
// lease, a host stopped with SIGTERM, a host's process group SIGKILLed. After each, once the
// traffic stops and every agent has caught up, no message is lost (each agent committed every
// number it was sent, exactly once and in order, and answered each once) and every counter is
// exact; the redeliveries (handler runs beyond the first) are printed per fault.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ClusterExecutionEngine, Guild } from "@guildhall/engine";
import { waitFor } from "@guildhall/testing";
import { childPids, isRunning } from "../../../tools/test-support/processes.js";
import { startFaultCluster, type ClusterHost, type FaultCluster } from "./support/fault-cluster.js";
import { agentProcesses, pidsByAgent, type ClusterInvariants } from "./support/invariants.js";
import type { DeliveryLedger } from "./support/ledger.js";
import {
  answeredSince,
  COUNTERS,
  IDS,
  launchLedgerGuild,
  RECORDERS,
} from "./support/ledger-guild.js";
import { clusterDiscovery, type NumberedTraffic } from "./support/traffic.js";

/** Messages per second over all twelve agents. */
const RATE = 48;
// Failure bounds, not claims about speed: the measured times are printed.
const DEADLINE_MS = 45_000;
/** The stop timeout tools/test-support/host-process.ts gives every host. */
const HOST_STOP_TIMEOUT_MS = 5_000;
/** What a host allows a message that ends its agent's process (host-server MAX_CRASHES_PER_MESSAGE). */
const CRASHES_BEFORE_SKIP = 3;

let cluster: FaultCluster;
let engine: ClusterExecutionEngine;
let guild: Guild;
let invariants: ClusterInvariants;
let traffic: NumberedTraffic;
let ledger: DeliveryLedger;

beforeAll(async () => {
  cluster = await startFaultCluster({ label: "durable", hosts: 3, appendOnlyRedis: true });
  engine = cluster.engine({ discovery: clusterDiscovery(cluster) });
  // Counters are killed over and over: a short backoff keeps the restarts quick.
  ({ guild, invariants, traffic, ledger } = await launchLedgerGuild(cluster, engine, {
    rate: RATE,
    counterRestart: { mode: "on-failure", maxRestarts: 20, backoffMs: 100 },
  }));
  await invariants.check("before the faults");
}, 120_000);

afterAll(async () => {
  await traffic?.close().catch(() => undefined);
  await cluster?.close();
});

/**
 * Runs `fault` under steady traffic (every agent answering first), then stops the traffic, waits
 * until every agent caught up, checks zero loss, exact counts and the invariants, and prints the
 * fault's line with its redeliveries.
 */
async function underTraffic(
  name: string,
  fault: () => Promise<string>,
  options: { redeliveries?: "none" } = {},
): Promise<void> {
  const redeliveredBefore = ledger.redeliveries();
  const sentBefore = traffic.acceptedTotal();
  const startedAt = Date.now();
  traffic.start();
  let detail: string;
  try {
    await waitFor(() => IDS.every((id) => traffic.answerSince(id, startedAt) !== undefined), {
      description: "every agent to answer the traffic",
      timeoutMs: DEADLINE_MS,
      intervalMs: 50,
    });
    detail = await fault();
  } finally {
    await traffic.stop();
  }
  const stoppedAt = Date.now();
  await ledger.drained(DEADLINE_MS);
  const drainedAt = Date.now();
  await ledger.checkExact();
  await invariants.check(`after ${name}`);
  const redelivered = ledger.redeliveries() - redeliveredBefore;
  cluster.report(
    `${name}: ${detail}; ${traffic.acceptedTotal() - sentBefore} messages at ${RATE}/s, none ` +
      `lost, counts exact, all committed ${drainedAt - stoppedAt} ms after the traffic stopped; ` +
      `${redelivered} redelivered`,
  );
  if (options.redeliveries === "none") {
    expect(redelivered, `${name}: messages handled twice`).toBe(0);
  }
}

/** The first reply of `agentId` to a message sent at or after `sinceMs`, waited for. */
function answered(agentId: string, sinceMs: number) {
  return answeredSince(traffic, agentId, sinceMs, DEADLINE_MS);
}

/** The live host running most of the guild's agents, other than `exclude`, and those agents. */
async function busiestHost(
  exclude?: ClusterHost,
): Promise<{ victim: ClusterHost; lost: string[]; others: Set<string> }> {
  const live = cluster.hosts.filter((h) => h !== exclude && isRunning(h.pid));
  const located = await cluster.registry.listGuildAgents(guild.id);
  const agentsOn = (h: ClusterHost) =>
    located.filter((a) => a.hostAddress === h.address).map((a) => a.agentId);
  const victim = live.reduce((a, b) => (agentsOn(b).length > agentsOn(a).length ? b : a));
  const lost = agentsOn(victim);
  expect(lost.length, "agents on the host to fault").toBeGreaterThan(0);
  const others = new Set(
    cluster.hosts.filter((h) => h !== victim && isRunning(h.pid)).map((h) => h.address),
  );
  return { victim, lost, others };
}

/** Waits until every agent in `ids` is located on one of `hosts`. */
async function placedOn(ids: readonly string[], hosts: ReadonlySet<string>): Promise<void> {
  await waitFor(
    async () => {
      const located = await cluster.registry.listGuildAgents(guild.id);
      return ids.every((id) => {
        const at = located.find((a) => a.agentId === id)?.hostAddress;
        return at !== undefined && hosts.has(at);
      });
    },
    {
      description: `${ids.join(", ")} to run on ${[...hosts].join(", ")}`,
      timeoutMs: DEADLINE_MS,
      intervalMs: 50,
    },
  );
}

function agentPidsOf(host: ClusterHost): number[] {
  const children = new Set(childPids(host.pid));
  return agentProcesses([guild.id])
    .filter((p) => children.has(p.pid))
    .map((p) => p.pid);
}

/** The hosts' log entries about `agentId`. */
function hostLog(agentId: string): { msg: string }[] {
  return cluster.hosts.flatMap((h) =>
    readFileSync(h.logFile, "utf8")
      .split("\n")
      .filter((line) => line.includes(`"agent_id":"${agentId}"`))
      .map((line) => JSON.parse(line) as { msg: string }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

it("(c) restarts a SIGKILLed agent process on its host, from its last commit", async () => {
  await underTraffic("agent process SIGKILLed", async () => {
    const victim = RECORDERS[0]!;
    const pid = pidsByAgent(guild.id).get(victim)!;
    const before = await cluster.registry.getLocation(guild.id, victim);
    process.kill(pid, "SIGKILL");
    const killedAt = Date.now();
    const answer = await answered(victim, killedAt);
    expect(answer.pid, "the answer comes from a new process").not.toBe(pid);
    const after = await cluster.registry.getLocation(guild.id, victim);
    expect(after?.hostAddress, "restarted by its own host").toBe(before?.hostAddress);
    expect(after?.epoch, "under the same placement").toBe(before?.epoch);
    return `${victim}'s process SIGKILLed (default restart policy): answering again ${answer.at - killedAt} ms later`;
  });
}, 90_000);

it("(f) keeps counters exact through five restarts in a row", async () => {
  const restartMs: number[] = [];
  const victims = COUNTERS.slice(0, 5);
  await underTraffic("counters SIGKILLed 5 times each", async () => {
    await Promise.all(
      victims.map(async (id) => {
        const location = await cluster.registry.getLocation(guild.id, id);
        const pids = new Set<number>();
        let since = Date.now();
        for (let restarts = 0; ; restarts++) {
          const answer = await answered(id, since);
          pids.add(answer.pid);
          if (restarts > 0) restartMs.push(answer.at - since);
          if (restarts === 5) break;
          // Only messages accepted after the kill must be answered by a new process: one accepted
          // just before it may still have been handled by the killed one.
          process.kill(answer.pid, "SIGKILL");
          since = Date.now();
        }
        expect(pids.size, `${id}: a new process after each kill`).toBe(6);
        const after = await cluster.registry.getLocation(guild.id, id);
        expect(after?.epoch, `${id} restarted in place`).toBe(location?.epoch);
      }),
    );
    return (
      `${victims.length} counters SIGKILLed 5 times each, each time once it answered again: ` +
      `answering again after median ${median(restartMs)} ms, at most ${Math.max(...restartMs)} ms`
    );
  });
}, 90_000);

it("(g) never lets a message that throws or crashes its handler block the ones after it", async () => {
  const id = COUNTERS[5]!;
  await underTraffic("poison messages", async () => {
    const poison = await traffic.inject(id, { kind: "poison" });
    await traffic.inject(id, { kind: "crash" });
    const probe = await traffic.inject(id, { kind: "probe" });
    const answer = await waitFor(() => traffic.replies(id).find((r) => r.kind === "probe"), {
      description: `${id} to answer the probe sent after the poison`,
      timeoutMs: DEADLINE_MS,
      intervalMs: 20,
    });
    // Nothing the failed handlers did to the count was kept.
    expect(answer.count, "the count the probe saw").toBe(probe.numberedBefore);
    const skipped =
      "message ended the agent's process every time it was handled; skipped, as a handler that throws is";
    await waitFor(() => hostLog(id).some((e) => e.msg === skipped), {
      description: `the host to log that it skipped the crashing message`,
    });
    const log = hostLog(id);
    expect(log.filter((e) => e.msg === skipped)).toHaveLength(1);
    expect(log.filter((e) => e.msg === "agent process failed")).toHaveLength(CRASHES_BEFORE_SKIP);
    expect(
      log.filter(
        (e) => e.msg === "agent's onMessage threw; its state change and sends are dropped",
      ),
    ).toHaveLength(1);
    return (
      `a message whose handler always throws, then one that ends the process (${CRASHES_BEFORE_SKIP} ` +
      `process ends, then skipped), held ${id} up ${answer.at - poison.acceptedAt} ms; the probe ` +
      `after them saw the exact count (${answer.count})`
    );
  });
}, 90_000);

it("(d) loses nothing when Redis is SIGKILLed and restarted from its append-only file", async () => {
  await underTraffic(
    "Redis restarted from its AOF",
    async () => {
      const pids = pidsByAgent(guild.id);
      const placements = async () =>
        (await cluster.registry.listGuildAgents(guild.id))
          .map((a) => `${a.agentId}@${a.hostAddress}#${a.epoch}`)
          .sort();
      const before = await placements();
      const failedBefore = traffic.failedAttempts;
      const killedAt = Date.now();
      await cluster.redis.kill();
      await cluster.redis.start();
      const backAt = Date.now();
      await Promise.all(IDS.map((id) => answered(id, backAt)));
      const answeringAt = Date.now();
      // Nothing was re-placed or restarted: the registry and the agents kept everything.
      expect(await placements()).toEqual(before);
      expect(pidsByAgent(guild.id), "the very same agent processes").toEqual(pids);
      return (
        `Redis SIGKILLed and restarted on its AOF (down ${backAt - killedAt} ms, ` +
        `${traffic.failedAttempts - failedBefore} failed publish attempts meanwhile, retried): same ` +
        `placements and processes, every agent answering ${answeringAt - backAt} ms after it was back`
      );
    },
    // A commit whose answer was lost is retried until Redis has it: no handler runs twice.
    { redeliveries: "none" },
  );
}, 90_000);

it("(e) fences the copies of a host paused past its lease: they commit nothing after it", async () => {
  await underTraffic("host SIGSTOPped past its lease", async () => {
    const { victim, lost, others } = await busiestHost();
    const pids = pidsByAgent(guild.id);
    const stalePids = new Set(lost.map((id) => pids.get(id)!));
    invariants.recordHostChildren();
    const stoppedAt = Date.now();
    process.kill(victim.pid, "SIGSTOP");
    let replacedAt: number;
    let answeringAt: number;
    try {
      await placedOn(lost, others);
      replacedAt = Date.now();
      await Promise.all(lost.map((id) => answered(id, stoppedAt)));
      answeringAt = Date.now();
      // Its copies live on meanwhile: the paused host cannot know yet.
      expect(agentPidsOf(victim).length).toBe(lost.length);
    } finally {
      process.kill(victim.pid, "SIGCONT");
    }
    const continuedAt = Date.now();
    await waitFor(() => agentPidsOf(victim).length === 0, {
      description: "the paused host to stop its stale copies",
      timeoutMs: DEADLINE_MS,
      intervalMs: 20,
    });
    const fencedAt = Date.now();
    await waitFor(async () => (await cluster.registry.getHost(victim.address)) !== undefined, {
      description: "the paused host to be live in the registry again",
      timeoutMs: DEADLINE_MS,
    });
    // Self-fencing: once it ran again, with its lease lapsed, the host handed its stale copies
    // nothing; whatever they had in hand was refused at its commit (checked by the ledger).
    const late = lost.flatMap((id) =>
      ledger.runs(id).filter((r) => stalePids.has(r.pid) && r.at >= continuedAt),
    );
    expect(late, "messages stale copies handled after the host ran again").toEqual([]);
    // Messages waiting for a lease that never came back must not hold up the stop.
    expect(fencedAt - continuedAt, "ms to stop the stale copies").toBeLessThan(
      HOST_STOP_TIMEOUT_MS,
    );
    return (
      `SIGSTOP of a host with ${lost.length} agents (default lease): re-placed after ` +
      `${replacedAt - stoppedAt} ms, answering after ${answeringAt - stoppedAt} ms; after SIGCONT ` +
      `its stale copies stopped in ${fencedAt - continuedAt} ms`
    );
  });
}, 90_000);

it("(b) re-places the agents of a host stopped with SIGTERM, handling nothing twice", async () => {
  await underTraffic(
    "host SIGTERMed",
    async () => {
      // As a rolling update does: the replacement first.
      const replacement = await cluster.startHost();
      await waitFor(
        async () => (await cluster.registry.getHost(replacement.address)) !== undefined,
        { description: "the replacement host to register", timeoutMs: DEADLINE_MS },
      );
      const { victim, lost, others } = await busiestHost(replacement);
      invariants.recordHostChildren();
      const termAt = Date.now();
      await victim.process.kill("SIGTERM");
      const exitedAt = Date.now();
      await placedOn(lost, others);
      const replacedAt = Date.now();
      await Promise.all(lost.map((id) => answered(id, termAt)));
      const answeringAt = Date.now();
      return (
        `SIGTERM of a host with ${lost.length} agents (a replacement host started first): it ` +
        `exited after ${exitedAt - termAt} ms, its agents were re-placed after ` +
        `${replacedAt - termAt} ms and answering after ${answeringAt - termAt} ms`
      );
    },
    // Each agent finished and committed the message in hand before it stopped.
    { redeliveries: "none" },
  );
}, 90_000);

it("(a) re-places the agents of a SIGKILLed host group at default settings, losing nothing", async () => {
  await underTraffic("host group SIGKILLed", async () => {
    const { victim, lost, others } = await busiestHost();
    invariants.recordHostChildren();
    const killedAt = Date.now();
    await victim.process.killGroup();
    await placedOn(lost, others);
    const replacedAt = Date.now();
    await Promise.all(lost.map((id) => answered(id, killedAt)));
    const answeringAt = Date.now();
    return (
      `SIGKILL of a host group with ${lost.length} agents (default settings): re-placed after ` +
      `${replacedAt - killedAt} ms, answering after ${answeringAt - killedAt} ms`
    );
  });
}, 90_000);

it("deletes every agent's state when the guild is shut down", async () => {
  await guild.shutdown();
  await invariants.check("after the guild's shutdown");
  for (const id of IDS) {
    expect(await ledger.stored(id), `${id}'s state after its stop`).toBeUndefined();
  }
}, 90_000);
