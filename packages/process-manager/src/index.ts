// The public entry of @guildhall/process-manager: the manager an agent host is built on.
export { AgentProcessManager, createAgentProcessManager } from "./agent-process-manager.js";
export type { AgentLogsOptions, SpawnedAgent } from "./agent-process-manager.js";
export type { DeliverOptions, DeliveryResult } from "./agent-channel.js";
export type { SpawnRequest, GuildContext } from "./spawn-request.js";
export type { AgentInfo, AgentState, AgentProcessManagerStatus } from "./agent-info.js";
export { DEFAULT_INHERITED_ENV } from "./manager-options.js";
export type {
  AgentProcessManagerOptions,
  AgentRef,
  AgentStopOptions,
  CancelScheduleHandler,
  CancelScheduleRequest,
  DurableState,
  PreparedStart,
  PrepareStartHandler,
  PublishHandler,
  PublishRequest,
  ScheduleHandler,
  ScheduleRequest,
  StartingAgent,
} from "./manager-options.js";
export type {
  AgentCrashedEvent,
  AgentEventBase,
  AgentLifecycleEvent,
  AgentProcessManagerEvents,
  AgentReadyEvent,
  AgentRestartedEvent,
  AgentStartedEvent,
  AgentStoppedEvent,
} from "./lifecycle-events.js";
export type { LogLine, LogStream } from "./log-buffer.js";
export { DEFAULT_RESTART_POLICY } from "./restart-policy.js";
export type { ResolvedRestartPolicy } from "./restart-policy.js";
export type { WarmPoolStatus } from "./warm-pool.js";
