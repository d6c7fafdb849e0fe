// Records what a guild client receives on a topic, and waits for what a test expects: an event
// per message, never a fixed sleep.
import type { GuildClient, Message } from "@guildhall/core";

/** Options of {@link MessageRecorder.waitFor}. */
export interface WaitForMessageOptions {
  /** Only consider messages at this index of `messages` or later. Default 0. */
  since?: number;
  /** Give up after this many milliseconds. Default: the recorder's `timeoutMs` (10,000). */
  timeoutMs?: number;
  /** What is awaited, for the error message. Default: "a matching message". */
  description?: string;
}

/** The messages a guild client received on one topic, in order. */
export interface MessageRecorder {
  /** The topic recorded. */
  readonly topic: string;
  /** Everything received so far, oldest first. */
  readonly messages: readonly Message[];
  /**
   * Resolves with the first message (already received or still to come) that matches; rejects
   * after the timeout with an error listing what was received.
   */
  waitFor(
    predicate: (message: Message) => boolean,
    options?: WaitForMessageOptions,
  ): Promise<Message>;
  /** Stops recording. */
  stop(): Promise<void>;
}

/** Options of {@link recordMessages}. */
export interface RecordMessagesOptions {
  /** Default timeout of `waitFor`, in milliseconds. Default 10,000. */
  timeoutMs?: number;
}

interface Waiter {
  since: number;
  predicate: (message: Message) => boolean;
  resolve: (message: Message) => void;
}

/**
 * Subscribes `client` to `topic` and records every message it receives (not the client's own).
 * Resolves once subscribed.
 *
 * @example
 * ```ts
 * const replies = await recordMessages(client, "default_topic");
 * await client.publish("default_topic", { content: "hi" });
 * const reply = await replies.waitFor((m) => m.sender.id === "echo");
 * ```
 */
export async function recordMessages(
  client: GuildClient,
  topic: string,
  options: RecordMessagesOptions = {},
): Promise<MessageRecorder> {
  const messages: Message[] = [];
  const waiters = new Set<Waiter>();
  const unsubscribe = await client.subscribe(topic, (message) => {
    messages.push(message);
    const index = messages.length - 1;
    for (const waiter of waiters) {
      if (index >= waiter.since && waiter.predicate(message)) {
        waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  });
  return {
    topic,
    messages,
    waitFor(predicate, waitOptions = {}) {
      const since = waitOptions.since ?? 0;
      const found = messages.slice(since).find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      const timeoutMs = waitOptions.timeoutMs ?? options.timeoutMs ?? 10_000;
      return new Promise<Message>((resolve, reject) => {
        const waiter: Waiter = {
          since,
          predicate,
          resolve: (message) => {
            clearTimeout(timer);
            resolve(message);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = messages
            .slice(since)
            .slice(-10)
            .map((m) => `  ${m.sender.id}: ${JSON.stringify(m.payload)}`)
            .join("\n");
          reject(
            new Error(
              `waited ${timeoutMs} ms on topic "${topic}" of guild "${client.guildId}" for ${waitOptions.description ?? "a matching message"}; received ${messages.length - since} message(s) meanwhile${seen === "" ? "" : `, the last ones:\n${seen}`}`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    stop: () => unsubscribe(),
  };
}
