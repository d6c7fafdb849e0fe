// The agents of one host by guild and agent id, and what the host's parts ask of them.
import { agentKey } from "@guildhall/core";
import type { RestoredAgent } from "@guildhall/registry";
import type { HostedAgent } from "./hosted-agent.js";

/** The agents of one host, by guild and agent id. */
export class AgentTable {
  readonly #entries = new Map<string, HostedAgent>();

  get(guildId: string, agentId: string): HostedAgent | undefined {
    return this.#entries.get(agentKey(guildId, agentId));
  }

  /** Adds `entry`, in place of an agent of the same id that ended. */
  add(entry: HostedAgent): void {
    this.#entries.set(entry.key, entry);
  }

  /** Whether `entry` is still the agent under its id: a later create may have replaced it. */
  holds(entry: HostedAgent): boolean {
    return this.#entries.get(entry.key) === entry;
  }

  /** Removes `entry`, unless a later create replaced it. */
  remove(entry: HostedAgent): void {
    if (this.holds(entry)) this.#entries.delete(entry.key);
  }

  values(): IterableIterator<HostedAgent> {
    return this.#entries.values();
  }

  /** Agents declared here (asleep or awake), those whose process ended for good excepted. */
  declared(): number {
    let count = 0;
    for (const agent of this.#entries.values()) if (agent.phase !== "ended") count++;
    return count;
  }

  /**
   * Agents by guild: `awake` those holding (or about to hold) a process, `asleep` those that
   * sleep. Agents whose process ended for good count in neither.
   */
  countByGuild(which: "awake" | "asleep"): Map<string, number> {
    const counts = new Map<string, number>();
    for (const agent of this.#entries.values()) {
      if (agent.phase === "ended" || (agent.phase === "hibernated") !== (which === "asleep")) {
        continue;
      }
      counts.set(agent.guild.id, (counts.get(agent.guild.id) ?? 0) + 1);
    }
    return counts;
  }

  /** Per awake agent, the messages received and waiting to be handled. */
  *queued(): Generator<{ guildId: string; agentId: string; queued: number }> {
    for (const agent of this.#entries.values()) {
      const session = agent.session;
      if (session !== undefined) {
        yield { guildId: agent.guild.id, agentId: agent.spec.id, queued: session.queued };
      }
    }
  }

  /** Agents the registry should hold for this host, with the epochs they hold. */
  registered(): RestoredAgent[] {
    const out: RestoredAgent[] = [];
    for (const agent of this.#entries.values()) {
      if (agent.registered && agent.phase !== "ended") {
        out.push({ guildId: agent.guild.id, spec: agent.spec, epoch: agent.epoch });
      }
    }
    return out;
  }

  /** The epoch of an agent; 0 when it is not registered. */
  epochOf(guildId: string, agentId: string): number {
    return this.get(guildId, agentId)?.epoch ?? 0;
  }
}
