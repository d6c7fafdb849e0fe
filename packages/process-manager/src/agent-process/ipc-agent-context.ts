// The Agent SDK contexts (AgentContext, MessageContext) as an agent process implements them: every
// send becomes a publish request to the host, which stamps the sender and answers with the message
// as it went on the bus, and every schedule or cancelSchedule a request the host answers once it
// has taken the timer into its bookkeeping.
import { createJsonLogger, replyTarget } from "@guildhall/core";
import type {
  AgentContext,
  AgentLogger,
  JsonValue,
  Message,
  MessageContext,
  SendOptions,
} from "@guildhall/core";
import type { CancelScheduleRequest, PublishRequest, ScheduleRequest } from "../manager-options.js";

/** What a context asks of the host: each call is one request, resolved by the host's answer. */
export interface HostRequests {
  /** Resolves with the message as published. */
  publish(message: PublishRequest): Promise<Message>;
  /** Resolves with the id of the timer the host set. */
  schedule(request: ScheduleRequest): Promise<{ id: string }>;
  /** Resolves once the host cancelled the timer. */
  cancelSchedule(request: CancelScheduleRequest): Promise<void>;
}

/** Who the agent is and where its plain `send` goes. */
export interface AgentIdentity {
  readonly agentId: string;
  readonly guildId: string;
  readonly defaultTopic: string;
}

function outgoing(
  topic: string,
  payload: JsonValue,
  opts: SendOptions | undefined,
  traceparent: string | undefined,
): PublishRequest {
  return {
    topic,
    payload,
    format: opts?.format ?? "json",
    ...(opts?.threadId !== undefined && { threadId: opts.threadId }),
    ...(opts?.inResponseTo !== undefined && { inResponseTo: opts.inResponseTo }),
    ...(traceparent !== undefined && { traceparent }),
  };
}

/**
 * The context of `onStart` and of code outside handlers; with `traceparent`, of a handler, whose
 * sends carry the handled message's trace context (as they do in-process, in @guildhall/core).
 */
export function createAgentContext(
  identity: AgentIdentity,
  host: HostRequests,
  log: AgentLogger,
  traceparent?: string,
): AgentContext {
  return Object.freeze({
    agentId: identity.agentId,
    guildId: identity.guildId,
    log,
    send: (payload: JsonValue, opts?: SendOptions) =>
      host.publish(outgoing(opts?.topic ?? identity.defaultTopic, payload, opts, traceparent)),
    publish: (topic: string, payload: JsonValue, opts?: Omit<SendOptions, "topic">) =>
      host.publish(outgoing(topic, payload, opts, traceparent)),
    schedule: (delayMs: number, payload: JsonValue) => host.schedule({ delayMs, payload }),
    cancelSchedule: (id: string) => host.cancelSchedule({ id }),
  });
}

/** The context of one `onMessage` call; `reply` addresses its answer by core's `replyTarget`. */
export function createMessageContext(
  identity: AgentIdentity,
  log: AgentLogger,
  message: Message,
  host: HostRequests,
): MessageContext {
  const base = createAgentContext(identity, host, log, message.traceparent);
  return Object.freeze({
    ...base,
    message,
    payload: message.payload,
    reply: (payload: JsonValue, opts?: SendOptions) => {
      const { topic, threadId, inResponseTo } = replyTarget(message, base.agentId, opts);
      return host.publish(
        outgoing(topic, payload, { ...opts, threadId, inResponseTo }, message.traceparent),
      );
    },
  });
}

/**
 * Structured logging for agent code, in the JSON shape of @guildhall/core's logger (so an agent's
 * lines look the same in-process and here): debug and info on stdout, warn and error on stderr,
 * where the host's log capture keeps them with the agent's other output.
 */
export function createAgentLogger(agentId: string, guildId: string): AgentLogger {
  const fields = { guildId, agentId };
  const out = createJsonLogger({
    level: "debug",
    fields,
    write: (line) => void process.stdout.write(line),
  });
  const err = createJsonLogger({
    level: "debug",
    fields,
    write: (line) => void process.stderr.write(line),
  });
  return Object.freeze({
    debug: (message: string, extra?: Record<string, unknown>) => out.debug(message, extra),
    info: (message: string, extra?: Record<string, unknown>) => out.info(message, extra),
    warn: (message: string, extra?: Record<string, unknown>) => err.warn(message, extra),
    error: (message: string, extra?: Record<string, unknown>) => err.error(message, extra),
  });
}
