// What the manager reports about an agent (GetAgentInfo, ListAgents).
import type { AgentSpec } from "@guildhall/core";
import type { WarmPoolStatus } from "./warm-pool.js";

/**
 * Where an agent is in its life:
 * - `starting`: its process is loading the module or running `onStart`;
 * - `ready`: it handles deliveries;
 * - `stopping`: `stop` was called, `onStop` runs (SIGKILL follows after `stopTimeoutMs`);
 * - `exited`: its process ended cleanly and the policy does not restart it;
 * - `crashed`: its process failed and the policy gives up (`never`, or restarts exhausted);
 * - `restarting`: its process failed and a new one is on the way (backoff, then starting).
 */
export type AgentState = "starting" | "ready" | "stopping" | "exited" | "crashed" | "restarting";

/** A snapshot of one agent. */
export interface AgentInfo {
  readonly guildId: string;
  readonly agentId: string;
  readonly agentName: string;
  /** The spec it was spawned with. */
  readonly spec: AgentSpec;
  readonly state: AgentState;
  /** Its current process; undefined while there is none (restarting, exited, crashed). */
  readonly pid: number | undefined;
  /** When it was first spawned, in milliseconds since the Unix epoch. */
  readonly createdAt: number;
  /** When its current (or last) process started. */
  readonly startedAt: number;
  /** Restarts so far. */
  readonly restarts: number;
  /** Resident memory of its process in bytes, when it has one and it could be read. */
  readonly memoryRssBytes: number | undefined;
  /** The last error seen: a startup failure, a crash, an `onMessage` that threw. */
  readonly lastError: string | undefined;
  /** How its last process ended, if one has. */
  readonly lastExit:
    { readonly exitCode: number | null; readonly signal: NodeJS.Signals | null } | undefined;
}

/** Counts of a manager, for health and metrics. */
export interface AgentProcessManagerStatus {
  /** Agents known, in any state. */
  readonly agents: number;
  /** Agents holding (or about to hold) a process: starting, ready, stopping, restarting. */
  readonly activeAgents: number;
  readonly maxProcesses: number;
  readonly warmPool: WarmPoolStatus;
  /** Whether `shutdown` was called. */
  readonly shutDown: boolean;
}
