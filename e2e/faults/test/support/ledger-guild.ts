// The guild the message-counting fault scenarios run: six recording and six counting agents, each
// writing what it handled to a file of its own, launched through an engine, with numbered traffic
// to their inboxes and a ledger that accounts for every message.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentSpec } from "@guildhall/core";
import { Guild, type ClusterExecutionEngine } from "@guildhall/engine";
import { waitFor } from "@guildhall/testing";
import { FIXTURES, type FaultCluster } from "./fault-cluster.js";
import { ClusterInvariants } from "./invariants.js";
import { DeliveryLedger, type LedgerAgent } from "./ledger.js";
import { NumberedTraffic, type TrafficReply } from "./traffic.js";

export const RECORDERS = Array.from({ length: 6 }, (_, i) => `rec-0${i}`);
export const COUNTERS = Array.from({ length: 6 }, (_, i) => `count-0${i}`);
export const IDS = [...RECORDERS, ...COUNTERS];

/** The spec of a recording or counting agent; `restartPolicy` applies to counters only. */
function specOf(agent: LedgerAgent, counterRestart: AgentSpec["restartPolicy"]): AgentSpec {
  return {
    id: agent.agentId,
    name: agent.agentId,
    className: `${FIXTURES}/agents.mjs#${agent.kind === "record" ? "Recorder" : "Counter"}`,
    listenToDefaultTopic: false,
    properties: { handledFile: agent.handledFile },
    ...(agent.kind === "count" &&
      counterRestart !== undefined && { restartPolicy: counterRestart }),
  };
}

/** What {@link launchLedgerGuild} starts. */
export interface LedgerGuild {
  readonly guild: Guild;
  readonly invariants: ClusterInvariants;
  readonly traffic: NumberedTraffic;
  readonly ledger: DeliveryLedger;
}

/**
 * Launches the guild through `engine` and opens its traffic (not started) at `rate` messages per
 * second over all twelve agents.
 */
export async function launchLedgerGuild(
  cluster: FaultCluster,
  engine: ClusterExecutionEngine,
  options: { readonly rate: number; readonly counterRestart?: AgentSpec["restartPolicy"] },
): Promise<LedgerGuild> {
  const invariants = new ClusterInvariants(cluster);
  const agents: LedgerAgent[] = IDS.map((agentId) => ({
    agentId,
    kind: agentId.startsWith("rec") ? "record" : "count",
    handledFile: join(cluster.logDir, `handled-${agentId}.txt`),
  }));
  for (const agent of agents) writeFileSync(agent.handledFile, "");
  const spec = cluster.guild(agents.map((agent) => specOf(agent, options.counterRestart)));
  const guild = new Guild(spec, engine, cluster.bus);
  invariants.watchGuild(guild.id);
  await guild.launch({ concurrency: 4 });
  const traffic = await NumberedTraffic.open(cluster, guild.id, agents, options.rate);
  const ledger = new DeliveryLedger(cluster.bus, guild.id, agents, traffic);
  return { guild, invariants, traffic, ledger };
}

/** The first reply of `agentId` to a message accepted at or after `sinceMs`, waited for. */
export function answeredSince(
  traffic: NumberedTraffic,
  agentId: string,
  sinceMs: number,
  timeoutMs: number,
): Promise<TrafficReply> {
  return waitFor(() => traffic.answerSince(agentId, sinceMs), {
    description: `${agentId} to answer a message sent after ${new Date(sinceMs).toISOString()}`,
    timeoutMs,
    intervalMs: 20,
  });
}
