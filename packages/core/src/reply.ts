import type { SendOptions } from "./agent.js";
import { inboxTopic, type Message } from "./message.js";

/** Where a reply goes and what it answers; see {@link replyTarget}. */
export interface ReplyTarget {
  readonly topic: string;
  readonly threadId: string;
  readonly inResponseTo: string;
}

/**
 * How `MessageContext.reply` addresses its answer, the one rule every agent runtime follows: on
 * the incoming message's topic, except that a message received in the agent's own inbox is
 * answered in the sender's inbox (answering in one's own inbox would reach nobody); in the
 * incoming message's thread (or starting one at it); in response to it. Explicit options win.
 */
export function replyTarget(
  message: Message,
  agentId: string,
  opts: SendOptions = {},
): ReplyTarget {
  const topic =
    opts.topic ??
    (message.topic === inboxTopic(agentId) ? inboxTopic(message.sender.id) : message.topic);
  return {
    topic,
    threadId: opts.threadId ?? message.threadId ?? message.id,
    inResponseTo: opts.inResponseTo ?? message.id,
  };
}
