export { RedisLocationRegistry } from "./redis-location-registry.js";
export { MemoryLocationRegistry } from "./memory-location-registry.js";
export type {
  LocationRegistry,
  HostRegistration,
  HostStatus,
  AgentRegistration,
  AgentLocation,
  RegisteredAgent,
  Placement,
  DeregisterResult,
  HeartbeatResult,
  LostAgent,
  RestoredAgent,
  RestoreResult,
  GuildContext,
  DesiredAgent,
  SetDesiredAgentOptions,
  ReconcilerLease,
} from "./location-registry.js";
export type { RedisLocationRegistryOptions, MemoryLocationRegistryOptions } from "./options.js";
export {
  DEFAULT_PREFIX,
  DEFAULT_HOST_LEASE_MS,
  DEFAULT_COMMAND_TIMEOUT_MS,
  HOST_COMMAND_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_RECONNECT_DELAY_MS,
} from "./options.js";
export { RedisErrorMapper, displayRedisUrl } from "./redis-errors.js";
export type { RedisErrorHints } from "./redis-errors.js";
export { LuaScripts, isScriptError, loadLuaScript } from "./lua-scripts.js";
export type { LuaScriptsOptions, ScriptArg, ScriptKeyCount } from "./lua-scripts.js";
