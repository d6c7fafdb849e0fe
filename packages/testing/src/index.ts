// The public API of @guildhall/testing: the execution-engine and message-bus contract suites, the
// probe agents the engine suite runs (loaded by className from probeAgentsModule), a private
// redis-server per test or per run, and waiting on messages or state with a deadline.
export { describeExecutionEngineContract } from "./execution-engine-contract.js";
export type {
  ExecutionEngineContractEnvironment,
  ExecutionEngineContractOptions,
  ExecutionEngineContractSetup,
} from "./execution-engine-contract.js";
export { describeMessageBusContract } from "./message-bus-contract.js";
export type { MessageBusUnderTest } from "./message-bus-contract.js";
export { probeAgentsModule, probeClassName } from "./probe-module.js";
export type { ProbeAgentName } from "./probe-module.js";
export type { CounterState, EchoAgentProperties } from "./probe-agents.js";
export { recordMessages } from "./message-recorder.js";
export type {
  MessageRecorder,
  RecordMessagesOptions,
  WaitForMessageOptions,
} from "./message-recorder.js";
export { waitFor } from "./wait-for.js";
export type { WaitForOptions } from "./wait-for.js";
export { startRedisServer } from "./redis-server.js";
export type { RedisTestServer, RedisTestServerOptions } from "./redis-server.js";
export { testRedisUrl } from "./test-redis-url.js";
export { freePort } from "./free-port.js";
