// guildhall.agenthost.v1.AgentHostService: the RPCs an engine calls. Handlers convert and delegate;
// errors are thrown as they come and mapped to status codes by errorMappingInterceptor.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { GuildhallError } from "@guildhall/core";
import type { AgentInfoSchema } from "@guildhall/proto";
import {
  AgentState,
  HostState,
  type AgentHostService,
  type WatchAgentsResponse,
} from "@guildhall/proto";
import type { AgentProcessManager } from "@guildhall/process-manager";
import type { AgentSupervisor } from "../agent-supervisor.js";
import { isShuttingDown, refusesAgents, type AgentHostState } from "../host-state.js";
import type { HostMetrics } from "../metrics.js";
import {
  agentInfoToProto,
  createAgentInputFromProto,
  lifecycleEventToProto,
  logLineToProto,
  type EventAgentFacts,
} from "../proto-conversion.js";
import { codeName, toConnectError } from "./error-mapping.js";
import { eventStream } from "./event-stream.js";

/** What the service needs of its host. */
export interface AgentHostServiceContext {
  readonly supervisor: AgentSupervisor;
  readonly manager: AgentProcessManager;
  readonly state: () => AgentHostState;
  readonly metrics: HostMetrics;
  readonly address: () => string;
  readonly maxAgents: number;
  readonly version: string;
  /** When the host started, in milliseconds since the Unix epoch. */
  readonly startedAt: number;
  /** Drains the host (see AgentHost.drain). */
  readonly drain: (options: { stopAgents: boolean; timeoutMs?: number }) => Promise<{
    agentsRemaining: number;
    agentsMoved: number;
    agentsStopped: number;
  }>;
}

/** The host's state as Health reports it: a host serves its RPCs from `starting` on. */
function hostStateToProto(state: AgentHostState): HostState {
  if (isShuttingDown(state)) return HostState.STOPPING;
  return refusesAgents(state) ? HostState.DRAINING : HostState.SERVING;
}

function requireIds(request: { guildId: string; agentId: string }): void {
  const missing = [
    ...(request.guildId === "" ? ["guild_id"] : []),
    ...(request.agentId === "" ? ["agent_id"] : []),
  ];
  if (missing.length > 0) {
    throw new GuildhallError(
      "invalid-argument",
      `${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} required: name the agent by its guild id and agent id`,
    );
  }
}

/** The implementation of AgentHostService over one host's agents. */
export function createAgentHostService(
  context: AgentHostServiceContext,
): ServiceImpl<typeof AgentHostService> {
  const { supervisor, manager, metrics } = context;
  const { agents } = supervisor;
  const facts = (guildId: string, agentId: string) => ({
    epoch: agents.epochOf(guildId, agentId),
    hostAddress: context.address(),
  });
  const eventFacts = (guildId: string, agentId: string): EventAgentFacts | undefined => {
    const entry = agents.get(guildId, agentId);
    if (entry === undefined) return undefined;
    return {
      epoch: entry.epoch,
      hostAddress: context.address(),
      className: entry.spec.className,
      createdAt: entry.createdAt,
    };
  };

  return {
    async createAgent(request, ctx: HandlerContext) {
      const end = metrics.agentCreateDuration.startTimer();
      try {
        const input = createAgentInputFromProto(request);
        const info = await supervisor.create(input);
        if (ctx.signal.aborted) {
          // The caller gave up (cancelled, deadline): it will not learn of the agent, so none is kept.
          await supervisor.stop(info.guildId, info.agentId).catch(() => undefined);
          throw new GuildhallError(
            "aborted",
            `CreateAgent of "${info.agentId}" was cancelled by the caller; the agent was stopped again`,
          );
        }
        end();
        return { agent: agentInfoToProto(info, facts(info.guildId, info.agentId)) };
      } catch (error) {
        metrics.agentCreateErrors.inc({ code: codeName(toConnectError(error).code) });
        throw error;
      }
    },

    async stopAgent(request) {
      requireIds(request);
      const epoch = agents.epochOf(request.guildId, request.agentId);
      // StopAgent stops an agent for good unless the engine moves it: then its durable state
      // and positions stay for its next host, which claims them under a newer epoch.
      const info = await supervisor.stop(request.guildId, request.agentId, {
        forget: !request.keepState,
        handOff: request.keepState,
        ...(request.timeoutMs !== undefined && { timeoutMs: request.timeoutMs }),
      });
      const agent: MessageInitShape<typeof AgentInfoSchema> = {
        ...agentInfoToProto(info, { epoch, hostAddress: context.address() }),
        state: AgentState.EXITED,
        isAlive: false,
      };
      return { agent };
    },

    async getAgentInfo(request) {
      requireIds(request);
      const info = await supervisor.info(request.guildId, request.agentId);
      return { agent: agentInfoToProto(info, facts(info.guildId, info.agentId)) };
    },

    async listAgents(request) {
      const infos = await supervisor.list(
        request.guildId === "" ? {} : { guildId: request.guildId },
      );
      return {
        agents: infos.map((info) => agentInfoToProto(info, facts(info.guildId, info.agentId))),
      };
    },

    async health() {
      return {
        state: hostStateToProto(context.state()),
        hostAddress: context.address(),
        agentCount: agents.declared(),
        maxAgents: context.maxAgents,
        version: context.version,
        uptimeMs: BigInt(Math.max(0, Date.now() - context.startedAt)),
      };
    },

    async *watchAgents(request, ctx) {
      const guildId = request.guildId;
      const gauge = metrics.openStreams.labels({ method: "WatchAgents" });
      const events = eventStream<WatchAgentsResponse>((push) => {
        const off = manager.on("lifecycle", (event) => {
          const known = eventFacts(event.guildId, event.agentId);
          if (guildId === "" || event.guildId === guildId)
            push(lifecycleEventToProto(event, known));
        });
        gauge.inc();
        return () => {
          off();
          gauge.dec();
        };
      }, ctx.signal);
      yield* events;
    },

    async drainHost(request) {
      const { agentsRemaining, agentsMoved, agentsStopped } = await context.drain({
        stopAgents: request.stopAgents,
        ...(request.timeoutMs !== undefined && { timeoutMs: request.timeoutMs }),
      });
      return { agentsRemaining, agentsMoved, agentsStopped };
    },

    async *getAgentLogs(request, ctx) {
      requireIds(request);
      const lines = manager.logs(request.guildId, request.agentId, {
        follow: request.follow,
        signal: ctx.signal,
        ...(request.tailLines !== 0 && { tail: request.tailLines }),
      });
      const gauge = request.follow
        ? metrics.openStreams.labels({ method: "GetAgentLogs" })
        : undefined;
      gauge?.inc();
      try {
        for await (const line of lines) yield logLineToProto(line);
      } finally {
        gauge?.dec();
      }
    },
  };
}
