// The public API of @guildhall/host-server: end-user symbols first.
export { createAgentHost, startAgentHost } from "./agent-host.js";
export type { AgentHost, DrainOptions, DrainResult } from "./agent-host.js";
export type { AgentHostState } from "./host-state.js";
export { resolveAgentHostOptions } from "./host-options.js";
export type {
  AgentHostOptions,
  AgentHostTlsOptions,
  HostLogLevel,
  ResolvedAgentHostOptions,
} from "./host-options.js";
export { createHostLogger } from "./logger.js";
export { createAgentInputFromProto } from "./proto-conversion.js";
export { agentSpecToProto } from "@guildhall/proto";
export type { CreateAgentInput, HostedGuild } from "./proto-conversion.js";
export { toConnectError } from "./rpc/error-mapping.js";
