// The checks every scenario ends with, against real processes read from /proc and the registry:
// at most one live process per agent across all hosts, registry locations that match those
// processes, epochs that only increase, and no process outliving the host that started it.
import { readdirSync, readFileSync } from "node:fs";
import { expect } from "vitest";
import { childPids, isRunning, parentOf } from "../../../../tools/test-support/processes.js";
import type { FaultCluster } from "./fault-cluster.js";

/** A live agent process, as /proc shows it. */
export interface AgentProcess {
  readonly pid: number;
  readonly parent: number;
  readonly guildId: string;
  readonly agentId: string;
}

// An agent runner names itself `guildhall-agent <guild>/<agent>` once it runs an agent.
const TITLE = /^guildhall-agent ([^/\s]+)\/(\S+)/;

function titleOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/** Every live agent process of the given guilds on this machine, whoever started it. */
export function agentProcesses(guildIds: Iterable<string>): AgentProcess[] {
  const guilds = new Set(guildIds);
  const out: AgentProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const match = TITLE.exec(titleOf(pid));
    if (match === null || !guilds.has(match[1]!)) continue;
    // Undefined once the process has ended, which it may have since its title was read.
    const parent = parentOf(pid);
    if (parent !== undefined) out.push({ pid, parent, guildId: match[1]!, agentId: match[2]! });
  }
  return out;
}

/** The live agent processes of one guild, by agent id; fails on an agent with two. */
export function pidsByAgent(guildId: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of agentProcesses([guildId])) {
    expect(out.has(p.agentId), `two live processes of agent ${p.agentId}`).toBe(false);
    out.set(p.agentId, p.pid);
  }
  return out;
}

/**
 * The global checks of a cluster, with the memory they need across calls: the epoch last seen
 * per agent, and every process any host of the cluster ever started.
 */
export class ClusterInvariants {
  readonly #cluster: FaultCluster;
  readonly #guilds = new Set<string>();
  /** Guilds whose agents may sleep: located, and holding no process (DESIGN section 13). */
  readonly #sleeping = new Set<string>();
  readonly #epochs = new Map<string, { epoch: number; host: string }>();
  readonly #started = new Set<number>();

  constructor(cluster: FaultCluster) {
    this.#cluster = cluster;
  }

  /**
   * Includes a guild's agents in the checks. With `sleeping`, a located agent without a process
   * is one that sleeps on its (live) host, not a mismatch.
   */
  watchGuild(guildId: string, options: { readonly sleeping?: boolean } = {}): void {
    this.#guilds.add(guildId);
    if (options.sleeping === true) this.#sleeping.add(guildId);
  }

  /**
   * Remembers the processes the hosts run now, so that a check after a host died finds any that
   * outlived it. Call before a fault.
   */
  recordHostChildren(): void {
    for (const host of this.#cluster.hosts) {
      for (const pid of childPids(host.pid)) this.#started.add(pid);
    }
  }

  /** Runs every check; `when` names the moment in failure messages. */
  async check(when: string): Promise<void> {
    this.recordHostChildren();
    const liveHosts = new Map(
      this.#cluster.hosts.filter((h) => isRunning(h.pid)).map((h) => [h.pid, h.address]),
    );
    const processes = agentProcesses(this.#guilds);

    // At most one live process per agent across all hosts.
    const perAgent = new Map<string, AgentProcess[]>();
    for (const p of processes) {
      const key = `${p.guildId}/${p.agentId}`;
      perAgent.set(key, [...(perAgent.get(key) ?? []), p]);
    }
    const duplicated = [...perAgent]
      .filter(([, copies]) => copies.length > 1)
      .map(([key, copies]) => [key, copies.map((p) => p.pid)]);
    expect(duplicated, `${when}: agents with more than one live process`).toEqual([]);

    // No orphans: every agent process, and every process a host ever started, has a live host
    // of the cluster as its parent.
    const orphans = processes
      .filter((p) => !liveHosts.has(p.parent))
      .map((p) => `${p.guildId}/${p.agentId} pid ${p.pid} (parent ${p.parent})`);
    for (const pid of this.#started) {
      // Read once: a process may end between two reads, and one that has ended is no orphan.
      const parent = parentOf(pid);
      if (parent === undefined) this.#started.delete(pid);
      else if (!liveHosts.has(parent)) orphans.push(`pid ${pid} (${titleOf(pid)})`);
    }
    expect(orphans, `${when}: processes whose host is gone`).toEqual([]);

    // The registry's locations are the processes, one to one.
    const located = new Set<string>();
    const mismatches: string[] = [];
    for (const guildId of this.#guilds) {
      for (const agent of await this.#cluster.registry.listGuildAgents(guildId)) {
        const key = `${guildId}/${agent.agentId}`;
        located.add(key);
        // The host of the process as the snapshot saw it: read again now, a process that exited
        // since (an agent gone back to sleep while the registry was listed) would have none.
        const copy = perAgent.get(key)?.[0];
        const pid = copy?.pid;
        const hostOfPid = copy === undefined ? undefined : liveHosts.get(copy.parent);
        const asleep = pid === undefined && this.#sleeping.has(guildId);
        if (asleep && ![...liveHosts.values()].includes(agent.hostAddress)) {
          mismatches.push(`${key} sleeps at ${agent.hostAddress}, which is not a live host`);
        } else if (!asleep && hostOfPid !== agent.hostAddress) {
          mismatches.push(
            `${key} is located at ${agent.hostAddress} but its process is ${pid === undefined ? "missing" : `on ${hostOfPid}`}`,
          );
        }
        const seen = this.#epochs.get(key);
        if (seen !== undefined) {
          const moved = seen.host !== agent.hostAddress;
          if (agent.epoch < seen.epoch || (moved && agent.epoch === seen.epoch)) {
            mismatches.push(
              `${key}: epoch went from ${seen.epoch} (${seen.host}) to ${agent.epoch} (${agent.hostAddress})`,
            );
          }
        }
        this.#epochs.set(key, { epoch: agent.epoch, host: agent.hostAddress });
      }
    }
    for (const key of perAgent.keys()) {
      if (!located.has(key)) mismatches.push(`${key} runs but has no location in the registry`);
    }
    expect(mismatches, `${when}: registry and processes disagree`).toEqual([]);
  }
}
