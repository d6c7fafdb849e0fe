// What a host keeps of one of its agents beyond what the process manager knows.
import {
  agentKey,
  inboxTopic,
  type AgentSpec,
  type AgentTimers,
  type Subscription,
  type TopicPosition,
} from "@guildhall/core";
import type { AgentSession } from "./agent-session.js";
import type { HostedGuild } from "./proto-conversion.js";

/**
 * Where an agent is on this host. `creating`: CreateAgent runs; `running`: ready and registered;
 * `hibernated`: registered and asleep, no process, its topics watched; `waking`: a process is
 * being started for it after it slept; `hibernating`: its process is being ended to sleep;
 * `ended`: its process exited for good (kept for GetAgentInfo until stopped or replaced);
 * `removing`: being stopped.
 */
export type HostedAgentPhase =
  "creating" | "running" | "hibernating" | "hibernated" | "waking" | "ended" | "removing";

/** One agent of this host. */
export interface HostedAgent {
  readonly key: string;
  readonly guild: HostedGuild;
  readonly spec: AgentSpec;
  /** The bus topics the agent receives. */
  readonly topics: readonly string[];
  readonly createdAt: number;
  /** Declared asleep (CreateAgent `lazy`): it may be put to sleep whenever processes run out. */
  readonly lazy: boolean;
  phase: HostedAgentPhase;
  /** The placement epoch the registry granted; 0 until registered. */
  epoch: number;
  /** The durable side of the agent's current process; replaced at each local restart. */
  session: AgentSession | undefined;
  /** Per topic, the furthest position handed to the agent on this host (to count redeliveries). */
  readonly handedOut: Map<string, TopicPosition>;
  /** Messages whose handling ended the agent's process, by topic and position: how often. */
  readonly crashes: Map<string, number>;
  /** Whether the host holds a registry location for the agent that it must deregister. */
  registered: boolean;
  removal: Promise<void> | undefined;
  /** Fires the agent's committed timers, awake or asleep; set once the agent is claimed. */
  timers: AgentTimers | undefined;
  /** While it sleeps: the subscriptions whose first message wakes it. */
  watch: Subscription[] | undefined;
  /** When it last handled a message or started, on Date.now()'s clock: for sleeping the idlest. */
  lastActiveAt: number;
  /** A sleep or wake in progress, which a stop waits for. */
  transition: Promise<void> | undefined;
}

/** The topics an agent receives (DESIGN section 4). */
export function topicsOf(guild: HostedGuild, spec: AgentSpec): string[] {
  const topics = new Set<string>();
  if (spec.listenToDefaultTopic !== false) topics.add(guild.defaultTopic);
  for (const topic of spec.additionalTopics ?? []) topics.add(topic);
  topics.add(inboxTopic(spec.id));
  return [...topics];
}

/** A new agent of this host, about to be created. */
export function newHostedAgent(guild: HostedGuild, spec: AgentSpec, lazy = false): HostedAgent {
  return {
    key: agentKey(guild.id, spec.id),
    guild,
    spec,
    topics: topicsOf(guild, spec),
    createdAt: Date.now(),
    lazy,
    phase: "creating",
    epoch: 0,
    session: undefined,
    handedOut: new Map(),
    crashes: new Map(),
    registered: false,
    removal: undefined,
    timers: undefined,
    watch: undefined,
    lastActiveAt: Date.now(),
    transition: undefined,
  };
}
