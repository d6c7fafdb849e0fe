// What travels on the bus (DESIGN section 3).
import type { z } from "zod";
import { lazySchema } from "./lazy-module.js";
import { defaultMessageIdGenerator, isMessageId, parseMessageId } from "./ids.js";
import type { MessageIdGenerator } from "./ids.js";

/** Who sent a message: an agent, or a guild client acting for an application. */
export const MessageSender = lazySchema((z) =>
  z.strictObject({
    id: z.string().min(1).max(256),
    name: z.string().max(256).optional(),
  }),
);
export type MessageSender = z.infer<typeof MessageSender>;

/** One message on a topic of a guild. */
export const Message = lazySchema((z) =>
  z.strictObject({
    /** Unique, and sortable by creation time across machines (see `createMessageIdGenerator`). */
    id: z.string().min(1).max(64),
    topic: z.string().min(1).max(256),
    sender: MessageSender,
    /** What the payload is, for receivers that route on it. Default `"json"`. */
    format: z.string().min(1).max(256),
    payload: z.json(),
    /** Creation time in milliseconds since the Unix epoch. */
    timestamp: z.number().int().nonnegative(),
    /** The conversation this message belongs to: the id of its first message. */
    threadId: z.string().min(1).max(64).optional(),
    /** The id of the message this one answers. */
    inResponseTo: z.string().min(1).max(64).optional(),
    /** W3C trace context, carried through so traces span agents. */
    traceparent: z.string().max(256).optional(),
  }),
);
export type Message = z.infer<typeof Message>;

/**
 * {@link Message} for a value that `JSON.parse` returned: its payload is JSON by construction, so
 * only its presence is checked, and the rest is compiled (zod's `compile`). It accepts exactly the
 * parsed messages that Message accepts, at a small fraction of the cost, as walking the payload is
 * most of Message's. Hosts run it on every message they read from a stream or an agent sends.
 */
export const ParsedMessage = lazySchema((z) =>
  z.compile(
    Message.extend({
      payload: z.custom<JsonValue>((value) => value !== undefined, "is required (any JSON value)"),
    }),
  ),
);

/** Any JSON value: what a payload may be. */
export type JsonValue = z.infer<ReturnType<typeof z.json>>;

/** The topic on which only the agent `agentId` receives: its inbox. */
export function inboxTopic(agentId: string): string {
  return `inbox:${agentId}`;
}

/** The fields of a new message; `createMessage` fills in the rest. */
export interface CreateMessageInit {
  topic: string;
  sender: MessageSender;
  payload: JsonValue;
  /** Default `"json"`. */
  format?: string;
  threadId?: string;
  inResponseTo?: string;
  traceparent?: string;
  /** Default: a new id from `ids`. */
  id?: string;
  /** Default: the time part of the id, or now when `id` is given. */
  timestamp?: number;
}

/** Options of {@link createMessage}. */
export interface CreateMessageOptions {
  /** Where new ids come from. Default: this process's generator (see `defaultMessageIdGenerator`). */
  ids?: MessageIdGenerator;
}

/**
 * Builds a message, filling in a new `id`, the `timestamp` (the creation time the id carries, so
 * ids and timestamps sort the same way) and `format` `"json"`. It does not validate: the bus
 * validates what is published.
 */
export function createMessage(
  init: CreateMessageInit,
  options: CreateMessageOptions = {},
): Message {
  let id = init.id;
  let timestamp = init.timestamp;
  if (id === undefined) {
    id = (options.ids ?? defaultMessageIdGenerator()).next();
    if (isMessageId(id)) timestamp ??= parseMessageId(id).timeMs;
  }
  const message: Message = {
    id,
    topic: init.topic,
    sender: init.sender,
    format: init.format ?? "json",
    payload: init.payload,
    timestamp: timestamp ?? Date.now(),
  };
  if (init.threadId !== undefined) message.threadId = init.threadId;
  if (init.inResponseTo !== undefined) message.inResponseTo = init.inResponseTo;
  if (init.traceparent !== undefined) message.traceparent = init.traceparent;
  return message;
}
