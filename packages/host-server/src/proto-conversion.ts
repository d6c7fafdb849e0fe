// Conversions between the wire messages of @guildhall/proto and what the host works with: the
// validated CreateAgent request, and the process manager's agents, events and log lines. The
// AgentSpec conversion itself lives in @guildhall/proto.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AgentSpec,
  DEFAULT_TOPIC,
  GuildSpec,
  GuildhallError,
  formatZodIssues,
} from "@guildhall/core";
import type {
  AgentInfo as ManagedAgentInfo,
  AgentLifecycleEvent,
  AgentState as ManagedAgentState,
  LogLine,
} from "@guildhall/process-manager";
import {
  AgentEventType,
  AgentInfoSchema,
  AgentState,
  GetAgentLogsResponseSchema,
  LogStream,
  WatchAgentsResponseSchema,
  agentSpecFromProto,
  type AgentInfo,
  type CreateAgentRequest,
  type GetAgentLogsResponse,
  type WatchAgentsResponse,
} from "@guildhall/proto";

/** The guild an agent runs in, as a host needs it. */
export interface HostedGuild {
  readonly id: string;
  readonly name: string;
  readonly defaultTopic: string;
}

/** What a validated CreateAgent request asks for. */
export interface CreateAgentInput {
  readonly guild: HostedGuild;
  readonly agent: AgentSpec;
  /** Declare the agent asleep: no process until its first message or timer. Default false. */
  readonly lazy?: boolean;
}

/**
 * An agent as its host reports it: the process manager's view, or for an agent that sleeps (no
 * process), `hibernated`.
 */
export type HostedAgentInfo = Omit<ManagedAgentInfo, "state"> & {
  readonly state: ManagedAgentState | "hibernated";
};

function problems(prefix: string, issues: Parameters<typeof formatZodIssues>[0]): string[] {
  return formatZodIssues(issues.map((issue) => ({ ...issue, path: [prefix, ...issue.path] })));
}

/**
 * Converts and validates a CreateAgent request with the schemas of @guildhall/core.
 *
 * @throws GuildhallError `invalid-argument` listing each bad field by its path (`agent.id`,
 *   `guild.name`, `agent.restartPolicy.mode`) and what it must be
 */
export function createAgentInputFromProto(request: CreateAgentRequest): CreateAgentInput {
  const lines: string[] = [];
  let guild: HostedGuild | undefined;
  let agent: AgentSpec | undefined;
  if (request.guild === undefined) {
    lines.push("guild: is required (the agent's guild: at least id and name)");
  } else {
    const g = request.guild;
    const candidate: Record<string, unknown> = { id: g.id, name: g.name, agents: [] };
    if (g.description !== undefined) candidate["description"] = g.description;
    if (g.organizationId !== undefined) candidate["organizationId"] = g.organizationId;
    if (g.defaultTopic !== undefined) candidate["defaultTopic"] = g.defaultTopic;
    if (g.properties !== undefined) candidate["properties"] = g.properties;
    const parsed = GuildSpec.safeParse(candidate);
    if (parsed.success) {
      guild = {
        id: parsed.data.id,
        name: parsed.data.name,
        defaultTopic: parsed.data.defaultTopic ?? DEFAULT_TOPIC,
      };
    } else {
      lines.push(...problems("guild", parsed.error.issues));
    }
  }
  if (request.agent === undefined) {
    lines.push("agent: is required (the agent to start: at least id, name and className)");
  } else {
    const parsed = AgentSpec.safeParse(agentSpecFromProto(request.agent));
    if (parsed.success) agent = parsed.data;
    else lines.push(...problems("agent", parsed.error.issues));
  }
  if (guild === undefined || agent === undefined) {
    const count = lines.length === 1 ? "1 problem" : `${lines.length} problems`;
    throw new GuildhallError(
      "invalid-argument",
      `invalid CreateAgent request (${count}; fix these fields and try again):\n  ${lines.join("\n  ")}`,
    );
  }
  return { guild, agent, lazy: request.lazy };
}

const STATES: Readonly<Record<HostedAgentInfo["state"], AgentState>> = {
  starting: AgentState.STARTING,
  ready: AgentState.READY,
  stopping: AgentState.STOPPING,
  exited: AgentState.EXITED,
  crashed: AgentState.CRASHED,
  restarting: AgentState.RESTARTING,
  hibernated: AgentState.HIBERNATED,
};

/** What the host adds to the process manager's view of an agent. */
export interface HostedAgentFacts {
  /** The placement epoch the registry granted; 0 when not registered. */
  readonly epoch: number;
  readonly hostAddress: string;
}

/** The proto AgentInfo of an agent as the process manager reports it. */
export function agentInfoToProto(info: HostedAgentInfo, facts: HostedAgentFacts): AgentInfo {
  return create(AgentInfoSchema, {
    agentId: info.agentId,
    guildId: info.guildId,
    agentName: info.agentName,
    pid: info.pid ?? 0,
    isAlive: info.pid !== undefined,
    createdAt: timestampFromMs(info.createdAt),
    state: STATES[info.state],
    restarts: info.restarts,
    epoch: BigInt(facts.epoch),
    memoryRssBytes: BigInt(info.memoryRssBytes ?? 0),
    className: info.spec.className,
    hostAddress: facts.hostAddress,
    ...(info.lastError !== undefined && { lastError: info.lastError }),
  });
}

/** What the host knows of an agent when an event arrives, for the AgentInfo of the event. */
export interface EventAgentFacts extends HostedAgentFacts {
  readonly className: string;
  readonly createdAt: number;
}

function eventParts(event: AgentLifecycleEvent): {
  type: AgentEventType;
  state: AgentState;
  pid: number | undefined;
  alive: boolean;
  restarts?: number;
  detail?: string;
  lastError?: string;
} {
  switch (event.type) {
    case "started":
      return {
        type: AgentEventType.STARTED,
        state: AgentState.STARTING,
        pid: event.pid,
        alive: true,
        detail: `pid ${event.pid}${event.warm ? " (warm pool)" : ""}`,
      };
    case "ready":
      return {
        type: AgentEventType.READY,
        state: AgentState.READY,
        pid: event.pid,
        alive: true,
        detail: `ready in ${event.startupMs} ms`,
      };
    case "restarted":
      return {
        type: AgentEventType.RESTARTED,
        state: AgentState.READY,
        pid: event.pid,
        alive: true,
        restarts: event.restarts,
        detail: `restart ${event.restarts}`,
      };
    case "stopped":
      return {
        type: AgentEventType.STOPPED,
        state: AgentState.EXITED,
        pid: event.pid,
        alive: false,
        detail: `${event.requested ? "stopped on request" : "exited"} (exit code ${String(event.exitCode)}, signal ${String(event.signal)})`,
      };
    case "crashed":
      return {
        type: AgentEventType.CRASHED,
        state: event.willRestart ? AgentState.RESTARTING : AgentState.CRASHED,
        pid: event.pid,
        alive: false,
        restarts: event.restarts,
        detail: `${event.error ?? "process failed"} (exit code ${String(event.exitCode)}, signal ${String(event.signal)})${event.willRestart ? `; restarting in ${String(event.restartInMs)} ms` : ""}`,
        ...(event.error !== undefined && { lastError: event.error }),
      };
  }
}

/** The WatchAgents message of a lifecycle event. */
export function lifecycleEventToProto(
  event: AgentLifecycleEvent,
  facts: EventAgentFacts | undefined,
): WatchAgentsResponse {
  const parts = eventParts(event);
  return create(WatchAgentsResponseSchema, {
    type: parts.type,
    time: timestampFromMs(event.timestamp),
    ...(parts.detail !== undefined && { detail: parts.detail }),
    agent: {
      agentId: event.agentId,
      guildId: event.guildId,
      agentName: event.agentName,
      pid: parts.alive ? (parts.pid ?? 0) : 0,
      isAlive: parts.alive,
      state: parts.state,
      restarts: parts.restarts ?? 0,
      epoch: BigInt(facts?.epoch ?? 0),
      className: facts?.className ?? "",
      hostAddress: facts?.hostAddress ?? "",
      ...(facts !== undefined && { createdAt: timestampFromMs(facts.createdAt) }),
      ...(parts.lastError !== undefined && { lastError: parts.lastError }),
    },
  });
}

/** The GetAgentLogs message of a captured line. */
export function logLineToProto(line: LogLine): GetAgentLogsResponse {
  return create(GetAgentLogsResponseSchema, {
    stream: line.stream === "stdout" ? LogStream.STDOUT : LogStream.STDERR,
    text: line.text,
    time: timestampFromMs(line.timestamp),
  });
}
