// Spans of messages, named and attributed per the OpenTelemetry messaging conventions: one home
// for the producer span of a publish and the consumer span of a handling, wherever they happen
// (a guild client, an agent's host). Through the API only: with no SDK registered every span is
// a no-op, and nothing here builds attributes for a span that does not record.
import type { Attributes, Context, Span, SpanKind, Tracer } from "@opentelemetry/api";
import { loadOtelApi } from "./lazy-module.js";
import type { Message } from "./message.js";

/**
 * `messaging.system` of every message span. The system the conventions mean is the one whose
 * topics and message ids the attributes name: Guildhall's, whether its bus is a MemoryBus or
 * Redis Streams underneath (a Redis client's own instrumentation would report `redis`).
 */
export const MESSAGING_SYSTEM = "guildhall";

/** Where a message span sits: its guild, its agent (none for a guild client), its parent. */
export interface MessageSpanOptions {
  /** The guild whose bus carries the message. */
  readonly guildId: string;
  /** The agent publishing or handling. Default: none (a guild client). */
  readonly agentId?: string | undefined;
  /**
   * The span's parent: a span, a W3C `traceparent`, or `null` for none (a new trace; a
   * `traceparent` that does not parse means none as well). Default: the active context.
   */
  readonly parent?: Span | string | null | undefined;
}

let tracer: Tracer | undefined;

/** Guildhall's tracer: a proxy, so it traces through an SDK registered after the first call. */
function guildhallTracer(): Tracer {
  tracer ??= loadOtelApi().trace.getTracer("guildhall");
  return tracer;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** The context of a W3C `traceparent` (as a remote parent), or `undefined` when it is not one. */
export function contextOfTraceparent(
  traceparent: string,
  base: Context = loadOtelApi().context.active(),
): Context | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (match === null || match[1] === "ff") return undefined;
  const api = loadOtelApi();
  const spanContext = {
    traceId: match[2] as string,
    spanId: match[3] as string,
    traceFlags: Number.parseInt(match[4] as string, 16) & 0xff,
    isRemote: true,
  };
  if (!api.isSpanContextValid(spanContext)) return undefined;
  return api.trace.setSpanContext(base, spanContext);
}

/**
 * The W3C `traceparent` that makes what carries it a child of `span`; `undefined` for a span that
 * is not part of a trace (the no-op spans of tracing that is off).
 */
export function traceparentOf(span: Span): string | undefined {
  const { traceId, spanId, traceFlags } = span.spanContext();
  if (!loadOtelApi().isSpanContextValid({ traceId, spanId, traceFlags })) return undefined;
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

// A host's callbacks can run in whatever context was active when their resource was made (an
// agent's IPC channel, in the span that started it), so message spans name their parent
// explicitly and start a new trace rather than inherit one by accident.
function parentContext(parent: MessageSpanOptions["parent"]): Context {
  const api = loadOtelApi();
  if (parent === undefined) return api.context.active();
  if (parent === null) return api.ROOT_CONTEXT;
  if (typeof parent === "string") {
    return contextOfTraceparent(parent, api.ROOT_CONTEXT) ?? api.ROOT_CONTEXT;
  }
  return api.trace.setSpan(api.ROOT_CONTEXT, parent);
}

function startMessageSpan(
  operation: "publish" | "process",
  topic: string,
  options: MessageSpanOptions,
  parent: MessageSpanOptions["parent"],
): Span {
  const api = loadOtelApi();
  const producer = operation === "publish";
  const span = guildhallTracer().startSpan(
    `${operation} ${topic}`,
    { kind: producer ? api.SpanKind.PRODUCER : api.SpanKind.CONSUMER },
    parentContext(parent),
  );
  if (span.isRecording()) {
    span.setAttributes({
      "messaging.system": MESSAGING_SYSTEM,
      "messaging.operation.type": producer ? "send" : "process",
      "messaging.operation.name": operation,
      "messaging.destination.name": topic,
      "guildhall.guild_id": options.guildId,
    });
    if (options.agentId !== undefined) span.setAttribute("guildhall.agent_id", options.agentId);
  }
  return span;
}

/**
 * Starts the producer span of a publish on `topic`, `publish <topic>`, before the message exists:
 * the message is to carry `traceparentOf(span)`. Name the message with {@link recordMessage}
 * once it is built, and end the span once the bus took it ({@link endSpan}).
 */
export function startPublishSpan(topic: string, options: MessageSpanOptions): Span {
  return startMessageSpan("publish", topic, options, options.parent);
}

/**
 * Starts the consumer span of handling `message`, `process <topic>`. Its parent is the message's
 * `traceparent` (none when it carries none) unless `options.parent` names another, so a message's
 * publish and its handlings are one trace, whichever processes they ran in.
 */
export function startProcessSpan(message: Message, options: MessageSpanOptions): Span {
  const span = startMessageSpan(
    "process",
    message.topic,
    options,
    options.parent ?? message.traceparent ?? null,
  );
  recordMessage(span, message);
  return span;
}

/** Adds the message's id, conversation and sender to a message span that records. */
export function recordMessage(span: Span, message: Message): void {
  if (!span.isRecording()) return;
  span.setAttribute("messaging.message.id", message.id);
  span.setAttribute("guildhall.sender_id", message.sender.id);
  if (message.threadId !== undefined) {
    span.setAttribute("messaging.message.conversation_id", message.threadId);
  }
}

/** Ends `span`, as failed with `error` when one is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined && span.isRecording()) {
    const api = loadOtelApi();
    const text = error instanceof Error ? error.message : JSON.stringify(error);
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: text });
    span.setAttribute("error.type", error instanceof Error ? error.name : "Error");
  }
  span.end();
}

/** Where {@link tracedPublish} puts its span, and what a message carries when tracing is off. */
export interface TracedPublishOptions extends MessageSpanOptions {
  /** The `traceparent` for the message when the span is not part of a trace. Default: none. */
  readonly fallback?: string | undefined;
}

/**
 * Publishes within the producer span `publish <topic>`: `publish` is given the `traceparent` the
 * message is to carry (the span's, or `options.fallback` when tracing is off) and resolves with
 * the message once the bus took it; the span then names the message and ends with the outcome.
 */
export async function tracedPublish(
  topic: string,
  options: TracedPublishOptions,
  publish: (traceparent: string | undefined) => Promise<Message>,
): Promise<Message> {
  const span = startPublishSpan(topic, options);
  try {
    const message = await publish(traceparentOf(span) ?? options.fallback);
    recordMessage(span, message);
    endSpan(span);
    return message;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}

/** Options of {@link traced}. */
export interface TracedOptions {
  /** Default `SpanKind.INTERNAL`. */
  readonly kind?: SpanKind;
  /** Default: the active context. */
  readonly parent?: Context;
  /** Set on the span when it records. Default: none. */
  readonly attributes?: Attributes;
}

/**
 * Runs `fn` inside a new active span `name` (so spans started within, here or in the processes it
 * calls, are its children) and ends the span when `fn` settles, as failed when it rejects.
 */
export function traced<T>(name: string, options: TracedOptions, fn: () => Promise<T>): Promise<T> {
  const api = loadOtelApi();
  const parent = options.parent ?? api.context.active();
  const span = guildhallTracer().startSpan(
    name,
    { kind: options.kind ?? api.SpanKind.INTERNAL },
    parent,
  );
  if (options.attributes !== undefined && span.isRecording())
    span.setAttributes(options.attributes);
  return api.context.with(api.trace.setSpan(parent, span), async () => {
    try {
      const result = await fn();
      endSpan(span);
      return result;
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  });
}

/**
 * Calls of the host API that only read (`ListAgents`, `GetAgentInfo`): reconcilers and live views
 * make them every few seconds, so alone they would each be a trace of one span.
 */
const READ_ONLY_HOST_CALLS: ReadonlySet<string> = new Set(["ListAgents", "GetAgentInfo"]);

/**
 * Whether a host API call (client or server side) gets a span: every call that changes something,
 * and a read only as part of a trace, when `parent` holds a span.
 */
export function tracesHostCall(method: string, parent: Context): boolean {
  return !READ_ONLY_HOST_CALLS.has(method) || loadOtelApi().trace.getSpan(parent) !== undefined;
}
