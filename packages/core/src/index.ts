// The public API of @guildhall/core: end-user symbols first.
export { Agent, isAgentClass } from "./agent.js";
export type {
  AgentClass,
  AgentContext,
  AgentInit,
  AgentLogger,
  MessageContext,
  SendOptions,
} from "./agent.js";
export { MemoryBus } from "./memory-bus.js";
export { SerialDelivery } from "./serial-delivery.js";
export type { MemoryBusOptions } from "./memory-bus.js";
export { InProcessExecutionEngine } from "./in-process-execution-engine.js";
export type { InProcessExecutionEngineOptions } from "./in-process-execution-engine.js";
export { connectGuildClient } from "./guild-client.js";
export type {
  ClientPublishOptions,
  GuildClient,
  GuildClientOptions,
  Unsubscribe,
} from "./guild-client.js";
export { parseGuildSpec } from "./parse-guild-spec.js";
export type { ParseGuildSpecOptions } from "./parse-guild-spec.js";
export {
  AgentResources,
  MAX_HIBERNATE_AFTER_MS,
  AgentSpec,
  DEFAULT_TOPIC,
  GuildSpec,
  ID_PATTERN,
  MessagingConfig,
  RestartPolicy,
} from "./spec.js";
export {
  formatPath,
  formatZodIssues,
  validateAgentSpec,
  validateGuildReference,
  validateGuildSpec,
  validateMessage,
  validateMessagingConfig,
  validateParsedMessage,
} from "./validation.js";
export type { ValidateOptions } from "./validation.js";
export { checkId, checkPem, checkWholeNumber } from "./option-checks.js";
export type { WholeNumberRange } from "./option-checks.js";
export { Message, MessageSender, ParsedMessage, createMessage, inboxTopic } from "./message.js";
export { replyTarget } from "./reply.js";
export type { ReplyTarget } from "./reply.js";
export type { CreateMessageInit, CreateMessageOptions, JsonValue } from "./message.js";
export {
  MESSAGE_ID_LENGTH,
  agentKey,
  createMessageIdGenerator,
  defaultMessageIdGenerator,
  isMessageId,
  parseMessageId,
} from "./ids.js";
export type { MessageIdGenerator, MessageIdGeneratorOptions, MessageIdParts } from "./ids.js";
export type {
  MessageBus,
  MessageHandler,
  SubscribeOptions,
  Subscription,
  TrimmedEntries,
} from "./message-bus.js";
export { START_POSITION, comparePositions, isDurableBus, isTopicPosition } from "./agent-store.js";
export { DurableInbox } from "./durable-inbox.js";
export type { CommitRecord, DurableInboxOptions, HandlerOutcome } from "./durable-inbox.js";
export {
  DEFAULT_MAX_STATE_BYTES,
  decodeAgentState,
  encodeAgentState,
  jsonProblem,
} from "./agent-state.js";
export {
  MAX_TIMERS_PER_AGENT,
  MAX_TIMER_DELAY_MS,
  TIMER_MESSAGE_FORMAT,
  TIMER_SENDER_ID,
  checkTimerChanges,
  checkTimerCount,
  hasTimerChanges,
  newTimer,
  timerMessage,
} from "./timers.js";
export type { AgentTimer, FireTimerResult, NewTimerOptions, TimerChanges } from "./timers.js";
export { AgentTimers } from "./agent-timers.js";
export type { AgentTimersOptions } from "./agent-timers.js";
export type {
  AgentCheckpoint,
  AgentCommit,
  AgentStore,
  ClaimAgentOptions,
  CommitResult,
  DurableMessageBus,
  FireTimer,
  TopicPosition,
} from "./agent-store.js";
export type {
  ExecutionEngine,
  MoveAgentOptions,
  MoveAgentResult,
  RunAgentOptions,
  ShutdownOptions,
} from "./execution-engine.js";
export { startAgent } from "./start-agent.js";
export type { RunningAgent, StartAgentOptions, StopAgentOptions } from "./start-agent.js";
export { loadAgentClass, parseClassName } from "./agent-loader.js";
export { resolveAgentModule } from "./module-allowlist.js";
export type { ClassNameParts, LoadAgentClassOptions } from "./agent-loader.js";
export {
  MESSAGING_SYSTEM,
  contextOfTraceparent,
  endSpan,
  recordMessage,
  startProcessSpan,
  startPublishSpan,
  traceparentOf,
  traced,
  tracedPublish,
  tracesHostCall,
} from "./tracing.js";
export type { MessageSpanOptions, TracedOptions, TracedPublishOptions } from "./tracing.js";
export { createJsonLogger, withLogFields } from "./logger.js";
export type { JsonLoggerOptions, LogLevel } from "./logger.js";
export { GuildhallError, ERROR_CODES, GRPC_STATUS_OF_ERROR_CODE, errorMessage } from "./errors.js";
export type { ErrorCode } from "./errors.js";
