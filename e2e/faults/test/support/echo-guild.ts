// Where most scenarios start: a guild of echo agents launched through an engine, watched by the
// invariant checks, every agent answering a ping, and the invariants holding before any fault.
import type { GuildSpec } from "@guildhall/core";
import { Guild, type ClusterExecutionEngine } from "@guildhall/engine";
import { echoSpec, type FaultCluster } from "./fault-cluster.js";
import { ClusterInvariants } from "./invariants.js";
import { GuildPings } from "./pings.js";

/** A launched guild of echo agents. The caller closes `pings`. */
export interface EchoGuild {
  readonly spec: GuildSpec;
  readonly guild: Guild;
  readonly ids: readonly string[];
  readonly invariants: ClusterInvariants;
  readonly pings: GuildPings;
}

/**
 * Launches `agents` echo agents (`agent-00`, `agent-01`, …) with `engine`, pings them all, and
 * checks the invariants under the label "before <fault>".
 */
export async function launchEchoGuild(
  cluster: FaultCluster,
  engine: ClusterExecutionEngine,
  options: { agents: number; concurrency?: number; fault: string },
): Promise<EchoGuild> {
  const invariants = new ClusterInvariants(cluster);
  const ids = Array.from(
    { length: options.agents },
    (_, i) => `agent-${String(i).padStart(2, "0")}`,
  );
  const spec = cluster.guild(ids.map((id) => echoSpec(id)));
  const guild = new Guild(spec, engine, cluster.bus);
  invariants.watchGuild(guild.id);
  await guild.launch({ concurrency: options.concurrency ?? 3 });
  const pings = await GuildPings.open(cluster.bus, guild.id);
  try {
    await pings.pingAll(ids);
    await invariants.check(`before ${options.fault}`);
  } catch (error) {
    await pings.close();
    throw error;
  }
  return { spec, guild, ids, invariants, pings };
}
