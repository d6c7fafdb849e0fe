// Reads /proc on an interval for the live processes of a guild's agents: what a scenario could not
// see in the registry between two checks (two copies of an agent alive at once, a process started
// where none should be) it sees here.
import { agentProcesses, type AgentProcess } from "./invariants.js";

/** Samples a guild's agent processes every `intervalMs`; a subclass judges each sample. */
export abstract class AgentProcessSampler {
  readonly #guildId: string;
  readonly #timer: NodeJS.Timeout;
  #last = Date.now();
  samples = 0;
  /** The longest time between two samples (the test process's event loop was busy). */
  longestGapMs = 0;

  constructor(guildId: string, intervalMs: number) {
    this.#guildId = guildId;
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes a sample now (the interval takes the others). */
  sample(): void {
    const now = Date.now();
    this.longestGapMs = Math.max(this.longestGapMs, now - this.#last);
    this.#last = now;
    this.samples++;
    this.judge(agentProcesses([this.#guildId]), now);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** What a sample taken at `now` (ms since the epoch) found. */
  protected abstract judge(processes: readonly AgentProcess[], now: number): void;
}
