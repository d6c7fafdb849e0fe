// The public API of @guildhall/testing: the execution-engine contract suite, the probe agents it
// runs (loaded by className from probeAgentsModule), and helpers for waiting on messages.
export { describeExecutionEngineContract } from "./execution-engine-contract.js";
export type {
  ExecutionEngineContractEnvironment,
  ExecutionEngineContractOptions,
  ExecutionEngineContractSetup,
} from "./execution-engine-contract.js";
export { probeAgentsModule, probeClassName } from "./probe-module.js";
export type { ProbeAgentName } from "./probe-module.js";
export type { CounterState, EchoAgentProperties } from "./probe-agents.js";
export { recordMessages } from "./message-recorder.js";
export type {
  MessageRecorder,
  RecordMessagesOptions,
  WaitForMessageOptions,
} from "./message-recorder.js";
export { waitUntil } from "./wait-until.js";
export type { WaitUntilOptions } from "./wait-until.js";
