// A rolling update under steady traffic: six recording and six counting agents on three hosts,
// and an engine that reconciles (the fleet's active reconciler, which moves a draining host's
// agents). Three times over, a new host starts, then an old one gets SIGTERM, as a Deployment's
// rolling update does: the old host drains, keeps running its agents while the reconciler moves
// each of them to another host (stopped keeping its state, started there from it), and exits once
// none is left, well before its drain timeout. Meanwhile the test moves other agents itself with
// `engine.moveAgent`. Throughout, /proc is sampled for copies of each agent: never two at once.
// Once the traffic stops and every agent caught up: no message lost, every counter exact, none
// handled twice, and no message waited more than 2 s from its publish to its handling.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ClusterExecutionEngine, Guild } from "@guildhall/engine";
import { resolveAgentHostOptions } from "@guildhall/host-server";
import { waitFor } from "@guildhall/testing";
import { isRunning } from "../../../tools/test-support/processes.js";
import { startFaultCluster, type ClusterHost, type FaultCluster } from "./support/fault-cluster.js";
import { AgentProcessSampler } from "./support/agent-process-sampler.js";
import type { AgentProcess, ClusterInvariants } from "./support/invariants.js";
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
const RATE = 40;
/** The longest any message may wait from its publish to its handling: the issue's bound. */
const MAX_WAIT_MS = 2_000;
/** How often /proc is read for copies of the agents. */
const SAMPLE_MS = 50;
// Failure bounds, not claims about speed: the measured times are printed.
const DEADLINE_MS = 30_000;
/** The drain timeout of every host here: the default (GUILDHALL_DRAIN_TIMEOUT_MS is not set). */
const DRAIN_TIMEOUT_MS = resolveAgentHostOptions({}).drainTimeoutMs;

let cluster: FaultCluster;
let engine: ClusterExecutionEngine;
let guild: Guild;
let invariants: ClusterInvariants;
let traffic: NumberedTraffic;
let ledger: DeliveryLedger;
let copies: CopySampler;

/** Notes any agent with more than one live process in a sample: two copies alive at once. */
class CopySampler extends AgentProcessSampler {
  /** The most processes any one agent had in a sample. */
  mostCopies = 0;
  /** Samples that found an agent with two or more processes. */
  readonly doubles: string[] = [];

  protected judge(processes: readonly AgentProcess[], now: number): void {
    const pids = new Map<string, number[]>();
    for (const p of processes) pids.set(p.agentId, [...(pids.get(p.agentId) ?? []), p.pid]);
    for (const [agentId, list] of pids) {
      this.mostCopies = Math.max(this.mostCopies, list.length);
      if (list.length > 1 && this.doubles.length < 20) {
        this.doubles.push(`${new Date(now).toISOString()}: ${agentId} pids ${list.join(", ")}`);
      }
    }
  }
}

beforeAll(async () => {
  cluster = await startFaultCluster({ label: "rolling", hosts: 3 });
  // Default reconcile settings: the reconciler is what moves the agents of a draining host.
  engine = cluster.engine({ discovery: clusterDiscovery(cluster) });
  ({ guild, invariants, traffic, ledger } = await launchLedgerGuild(cluster, engine, {
    rate: RATE,
  }));
  copies = new CopySampler(guild.id, SAMPLE_MS);
  // A host drains by moves only while some engine's reconciler holds the lease.
  await waitFor(() => cluster.registry.reconcilerActive(), {
    description: "the engine's reconciler to take its lease",
    timeoutMs: DEADLINE_MS,
  });
  await invariants.check("before the rolling update");
}, 120_000);

afterAll(async () => {
  copies?.stop();
  await traffic?.close().catch(() => undefined);
  await cluster?.close();
});

/** The first reply of `agentId` to a message sent at or after `sinceMs`, waited for. */
function answered(agentId: string, sinceMs: number) {
  return answeredSince(traffic, agentId, sinceMs, DEADLINE_MS);
}

/** Where each agent of the guild runs, by the registry. */
async function locations(): Promise<Map<string, { host: string; epoch: number }>> {
  const located = await cluster.registry.listGuildAgents(guild.id);
  return new Map(located.map((a) => [a.agentId, { host: a.hostAddress, epoch: a.epoch }]));
}

/** The "host drained" entry of a host's log: what its drain did with its agents. */
function drainResult(host: ClusterHost): Record<string, unknown> | undefined {
  return readFileSync(host.logFile, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((entry) => entry["msg"] === "host drained");
}

/** A move the test asked for, and how long the call took. */
interface AskedMove {
  readonly agentId: string;
  readonly from: string;
  readonly to: string;
  readonly tookMs: number;
}

/**
 * Moves two agents that do not run on the draining `old` (whose agents the reconciler moves), side
 * by side: a counter to `replacement` by name, and a recorder wherever placement picks. Checks
 * that each moved from where the registry had it, to a host other than `old`, under a newer epoch.
 */
async function moveTwo(round: number, old: ClusterHost, replacement: ClusterHost) {
  const before = await locations();
  const pick = (ids: readonly string[], exclude: readonly string[]): string => {
    const ok = ids.filter((id) => {
      const at = before.get(id)?.host;
      return at !== undefined && !exclude.includes(at);
    });
    const id = ok[round % ok.length];
    expect(id, "an agent to move by hand").toBeDefined();
    return id!;
  };
  const counter = pick(COUNTERS, [old.address, replacement.address]);
  const recorder = pick(RECORDERS, [old.address]);
  const move = async (agentId: string, toHost?: string): Promise<AskedMove> => {
    const startedAt = Date.now();
    const result = await engine.moveAgent(
      guild.id,
      agentId,
      toHost === undefined ? {} : { toHost },
    );
    return { agentId, ...result, tookMs: Date.now() - startedAt };
  };
  const moves = await Promise.all([move(counter, replacement.address), move(recorder)]);
  const after = await locations();
  for (const m of moves) {
    expect(m.from, `${m.agentId} moved from where it ran`).toBe(before.get(m.agentId)?.host);
    expect(m.to, `${m.agentId} moved to another host`).not.toBe(m.from);
    expect(m.to, `${m.agentId} moved off the draining host`).not.toBe(old.address);
    expect(after.get(m.agentId)?.host, `${m.agentId} runs where the move said`).toBe(m.to);
    expect(after.get(m.agentId)!.epoch, `${m.agentId}'s epoch`).toBeGreaterThan(
      before.get(m.agentId)!.epoch,
    );
  }
  expect(moves[0].to, `${counter} moved to the host named`).toBe(replacement.address);
  return moves;
}

/**
 * One step of the rolling update: a new host first, then SIGTERM to `old`; while it drains, two
 * agents on other hosts are moved by hand. Resolves with the step's printed line.
 */
async function replaceHost(round: number, old: ClusterHost): Promise<string> {
  const startingAt = Date.now();
  const replacement = await cluster.startHost();
  await waitFor(async () => (await cluster.registry.getHost(replacement.address)) !== undefined, {
    description: "the new host to register",
    timeoutMs: DEADLINE_MS,
  });
  const upAt = Date.now();
  const onOld = [...(await locations())]
    .filter(([, at]) => at.host === old.address)
    .map(([id]) => id);
  expect(onOld.length, `agents on ${old.address}`).toBeGreaterThan(0);
  invariants.recordHostChildren();

  const termAt = Date.now();
  const exited = old.process.kill("SIGTERM").then(() => Date.now());
  // Moves by hand once the host is draining in the registry, so that none picks it as a target.
  await waitFor(
    async () =>
      (await cluster.registry.getHost(old.address))?.draining === true || !isRunning(old.pid),
    {
      description: `${old.address} to be draining in the registry`,
      timeoutMs: DEADLINE_MS,
      intervalMs: 20,
    },
  );
  const moves = await moveTwo(round, old, replacement);
  const exitedAt = await exited;
  const drainMs = exitedAt - termAt;

  // It exited because its agents were moved (none stopped), well before its drain timeout.
  expect(drainResult(old), `${old.address}'s drain`).toMatchObject({
    why: "emptied",
    agents_moved: onOld.length,
    agents_stopped: 0,
    agents_remaining: 0,
  });
  expect(drainMs, "ms from SIGTERM to the old host's exit").toBeLessThan(DRAIN_TIMEOUT_MS / 2);
  // Its last agent's start elsewhere (the second half of its move) may still be under way.
  const live = new Set(cluster.hosts.filter((h) => isRunning(h.pid)).map((h) => h.address));
  await waitFor(
    async () => {
      const at = await locations();
      return IDS.every((id) => live.has(at.get(id)?.host ?? ""));
    },
    { description: "every agent to run on a live host", timeoutMs: DEADLINE_MS, intervalMs: 20 },
  );
  await Promise.all(IDS.map((id) => answered(id, exitedAt)));
  await invariants.check(`after replacing host ${round + 1}`);
  return (
    `host ${round + 1}: new host up in ${upAt - startingAt} ms; SIGTERM of the old one with ` +
    `${onOld.length} agents: all moved (none stopped), exited after ${drainMs} ms; moved by ` +
    `hand meanwhile: ${moves.map((m) => `${m.agentId} in ${m.tookMs} ms`).join(", ")}`
  );
}

it("replaces three hosts one by one under traffic, moving every agent: none lost, none doubled", async () => {
  const startedAt = Date.now();
  const sentBefore = traffic.acceptedTotal();
  traffic.start();
  try {
    await waitFor(() => IDS.every((id) => traffic.answerSince(id, startedAt) !== undefined), {
      description: "every agent to answer the traffic",
      timeoutMs: DEADLINE_MS,
      intervalMs: 50,
    });
    const originals = cluster.hosts.slice(0, 3);
    for (const [round, old] of originals.entries()) cluster.report(await replaceHost(round, old));
  } finally {
    await traffic.stop();
  }
  const stoppedAt = Date.now();
  await ledger.drained(DEADLINE_MS);
  const drainedAt = Date.now();
  copies.sample();
  copies.stop();

  // Publish → handled (the handler's run, noted by the agent) and publish → answered (its reply
  // here, released once its handling was committed), for every message.
  let maxHandled = { ms: 0, what: "" };
  let maxAnswered = { ms: 0, what: "" };
  for (const id of IDS) {
    const runs = new Map(ledger.runs(id).map((r) => [r.seq, r.at]));
    for (const reply of traffic.replies(id)) {
      if (reply.seq === undefined) continue;
      const publishedAt = traffic.acceptedAt(id, reply.seq);
      const what = `${id} #${reply.seq}`;
      const handledMs = (runs.get(reply.seq) ?? Number.POSITIVE_INFINITY) - publishedAt;
      if (handledMs > maxHandled.ms) maxHandled = { ms: handledMs, what };
      const answeredMs = reply.at - publishedAt;
      if (answeredMs > maxAnswered.ms) maxAnswered = { ms: answeredMs, what };
    }
  }
  // Finer than the samples: the handlers' own notes. Once a new copy of an agent handled a
  // message, no earlier copy handled another.
  const handledBy = new Map<string, number[]>();
  for (const id of IDS) {
    const order = ledger.runs(id).map((r) => r.pid);
    handledBy.set(
      id,
      order.filter((pid, i) => i === 0 || pid !== order[i - 1]),
    );
  }
  const copiesSeen = [...handledBy.values()].reduce((sum, pids) => sum + pids.length, 0);
  cluster.report(
    `${traffic.acceptedTotal() - sentBefore} messages at ${RATE}/s over ${stoppedAt - startedAt} ms, ` +
      `all committed ${drainedAt - stoppedAt} ms after the traffic stopped, ` +
      `${ledger.redeliveries()} handled twice; longest wait publish → handled ${maxHandled.ms} ms ` +
      `(${maxHandled.what}), publish → answered ${maxAnswered.ms} ms (${maxAnswered.what}); ` +
      `${copies.samples} samples of /proc, at most ${copies.mostCopies} copy of an agent, ` +
      `longest gap between samples ${copies.longestGapMs} ms; ${copiesSeen} copies handled ` +
      `messages in all`,
  );
  await ledger.checkExact();
  // A move finishes and commits the message in hand before the agent stops: nothing runs twice.
  expect(ledger.redeliveries(), "messages handled twice").toBe(0);
  expect(copies.doubles, "samples with two live copies of an agent").toEqual([]);
  expect(copies.mostCopies, "live copies of an agent in any sample").toBe(1);
  for (const [id, pids] of handledBy) {
    expect(pids, `${id}: the processes that handled its messages, in turn`).toEqual([
      ...new Set(pids),
    ]);
  }
  expect(maxHandled.ms, `ms from publish to handling (${maxHandled.what})`).toBeLessThanOrEqual(
    MAX_WAIT_MS,
  );
  expect(maxAnswered.ms, `ms from publish to answer (${maxAnswered.what})`).toBeLessThanOrEqual(
    MAX_WAIT_MS,
  );
}, 120_000);
