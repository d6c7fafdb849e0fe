// What the dashboard's server sends its page, as JSON: the one vocabulary of server.ts and the
// page (web/app.ts imports these types). Everything here is data; the page renders each string
// as text, whoever wrote it.
import type { AgentSpec, JsonValue, Message } from "@guildhall/core";

/** A live agent host, as the registry sees it. */
export interface DashboardHost {
  readonly address: string;
  /** Agents registered at the host. */
  readonly load: number;
  readonly maxAgents: number;
  /** How much of the host's lease was left when the registry answered, in milliseconds. */
  readonly leaseRemainingMs: number;
  readonly draining: boolean;
  /** False when the host did not answer ListAgents; its agents' states are then unknown. */
  readonly reachable: boolean;
}

/** An agent of a guild: what the registry wants and what its host reports. */
export interface DashboardAgent {
  readonly id: string;
  readonly name: string;
  /** The host it is registered at; absent when it runs nowhere. */
  readonly host?: string;
  /** `starting`, `ready`, `restarting`, `crashed`, … or `not running` when no host reports it. */
  readonly state: string;
  readonly restarts: number;
  /** The OS process id; 0 when it has none. */
  readonly pid: number;
  readonly memoryBytes: number;
  /** When it last published a message the dashboard saw, in ms since the epoch. */
  readonly lastMessageAt?: number;
  readonly lastError?: string;
}

/** A guild and its agents. */
export interface DashboardGuild {
  readonly id: string;
  readonly name: string;
  readonly agents: readonly DashboardAgent[];
}

/** Everything the page's tables show, at one moment. */
export interface Overview {
  readonly hosts: readonly DashboardHost[];
  readonly guilds: readonly DashboardGuild[];
  /** When the overview was taken, in ms since the epoch. */
  readonly takenAt: number;
}

/** A message seen on a guild's bus. */
export interface GuildMessage {
  readonly guildId: string;
  readonly message: Message;
}

/** One line of an agent's captured output. */
export interface LogLine {
  readonly stream: "stdout" | "stderr";
  readonly text: string;
}

/** An agent's detail: its spec, its durable state (read-only) and its recent output. */
export interface AgentDetail {
  readonly guildId: string;
  readonly agentId: string;
  readonly spec?: AgentSpec;
  /** The committed durable state; absent when it has none or the bus keeps none. */
  readonly state?: JsonValue;
  /** Commits made in the agent's life; 0 when it has none. */
  readonly commits: number;
  readonly logs: readonly LogLine[];
  /** Why a part is missing (the host did not answer, …), for the page to say. */
  readonly problems: readonly string[];
}

/** The events of the `/api/events` stream, by SSE event name. */
export interface DashboardEvents {
  overview: Overview;
  message: GuildMessage;
  /** The overview could not be taken (the registry does not answer, …). */
  problem: { readonly text: string };
}
