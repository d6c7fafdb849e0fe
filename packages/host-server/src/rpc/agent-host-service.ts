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
import type { HostPhase, HostedAgents } from "../hosted-agents.js";
import type { HostMetrics } from "../metrics.js";
import {
  agentInfoToProto,
  createAgentInputFromProto,
  lifecycleEventToProto,
  logLineToProto,
} from "../proto-conversion.js";
import { codeName, toConnectError } from "./error-mapping.js";
import { eventStream } from "./event-stream.js";

/** What the service needs of its host. */
export interface AgentHostServiceContext {
  readonly agents: HostedAgents;
  readonly metrics: HostMetrics;
  readonly address: () => string;
  readonly maxAgents: number;
  readonly version: string;
  /** When the host started, in milliseconds since the Unix epoch. */
  readonly startedAt: number;
  /** Drains the host; resolves with the agents still running. */
  readonly drain: (options: { stopAgents: boolean; timeoutMs?: number }) => Promise<number>;
}

const HOST_STATES: Readonly<Record<HostPhase, HostState>> = {
  serving: HostState.SERVING,
  draining: HostState.DRAINING,
  stopping: HostState.STOPPING,
};

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
  const { agents, metrics } = context;
  const facts = (guildId: string, agentId: string) => ({
    epoch: agents.epochOf(guildId, agentId),
    hostAddress: context.address(),
  });

  return {
    async createAgent(request, ctx: HandlerContext) {
      const end = metrics.agentCreateDuration.startTimer();
      try {
        const input = createAgentInputFromProto(request);
        const info = await agents.create(input);
        if (ctx.signal.aborted) {
          // The caller gave up (cancelled, deadline): it will not learn of the agent, so none is kept.
          await agents.stop(info.guildId, info.agentId).catch(() => undefined);
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
      // StopAgent stops an agent for good: its durable state and positions go with it.
      const info = await agents.stop(request.guildId, request.agentId, {
        forget: true,
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
      const info = await agents.info(request.guildId, request.agentId);
      return { agent: agentInfoToProto(info, facts(info.guildId, info.agentId)) };
    },

    async listAgents(request) {
      const infos = await agents.list(request.guildId === "" ? undefined : request.guildId);
      return {
        agents: infos.map((info) => agentInfoToProto(info, facts(info.guildId, info.agentId))),
      };
    },

    async health() {
      return {
        state: HOST_STATES[agents.phase],
        hostAddress: context.address(),
        agentCount: agents.activeCount,
        maxAgents: context.maxAgents,
        version: context.version,
        uptimeMs: BigInt(Math.max(0, Date.now() - context.startedAt)),
      };
    },

    async *watchAgents(request, ctx) {
      const guildId = request.guildId;
      const gauge = metrics.openStreams.labels({ method: "WatchAgents" });
      const events = eventStream<WatchAgentsResponse>((push) => {
        const off = agents.watch((event, known) => {
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
      const agentsRemaining = await context.drain({
        stopAgents: request.stopAgents,
        ...(request.timeoutMs !== undefined && { timeoutMs: request.timeoutMs }),
      });
      return { agentsRemaining };
    },

    async *getAgentLogs(request, ctx) {
      requireIds(request);
      const lines = agents.logs(request.guildId, request.agentId, {
        follow: request.follow,
        tail: request.tailLines === 0 ? undefined : request.tailLines,
        signal: ctx.signal,
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
