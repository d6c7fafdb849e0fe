// The public API of @guildhall/engine: end-user symbols first.
export { ClusterExecutionEngine, K8sExecutionEngine } from "./cluster-execution-engine.js";
export { Guild } from "./guild.js";
export type { GuildLaunchOptions } from "./guild.js";
export {
  DEFAULT_RECONCILE_INTERVAL_MS,
  DEFAULT_RPC_TIMEOUT_MS,
  resolveClusterExecutionEngineOptions,
} from "./engine-options.js";
export type {
  ClusterExecutionEngineOptions,
  ReconcileOptions,
  ResolvedClusterExecutionEngineOptions,
  ResolvedReconcileOptions,
} from "./engine-options.js";
export { HostClients } from "./host-clients.js";
export type { ClusterTlsOptions, HostClientsOptions } from "./host-clients.js";
export { errorCodeOf } from "./error-mapping.js";
export { DEFAULT_RETRY } from "./retry-policy.js";
export type { ResolvedRetryOptions, RetryOptions } from "./retry-policy.js";
