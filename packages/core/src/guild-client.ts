// A bus participant that is not an agent: how applications and tests talk to a running guild.
import { GuildhallError } from "./errors.js";
import type { MessageIdGenerator } from "./ids.js";
import { createMessage } from "./message.js";
import type { JsonValue, Message } from "./message.js";
import type { MessageBus, MessageHandler, Subscription } from "./message-bus.js";
import { checkId } from "./option-checks.js";
import { tracedPublish } from "./tracing.js";

/** Options of {@link connectGuildClient}. */
export interface GuildClientOptions {
  /** The guild to talk to. */
  guildId: string;
  /** The client's id: the `sender.id` of what it publishes. Pick one no agent of the guild uses. */
  id: string;
  /** The client's display name, sent as `sender.name`. Default: none. */
  name?: string;
  /** Where message ids come from. Default: this process's generator. */
  ids?: MessageIdGenerator;
}

/** Options of {@link GuildClient.publish}. */
export interface ClientPublishOptions {
  /** Default `"json"`. */
  format?: string;
  /** The conversation the message belongs to. Default: none. */
  threadId?: string;
  /** The message it answers. Default: none. */
  inResponseTo?: string;
  /**
   * W3C trace context of the trace this publish belongs to. When tracing is on the message
   * carries that of this publish's producer span (`publish <topic>`), a child of this context
   * (default: of the active span); when it is off, this one as given. Default: none.
   */
  traceparent?: string;
}

/** Ends a subscription of a {@link GuildClient}. Idempotent. */
export type Unsubscribe = () => Promise<void>;

/** A connection to one guild over a bus. */
export interface GuildClient {
  /** The guild this client talks to. */
  readonly guildId: string;
  /** The client's id, as its messages carry it in `sender.id`. */
  readonly id: string;
  /** Publishes `payload` on `topic`; resolves with the message once the bus accepted it. */
  publish(topic: string, payload: JsonValue, options?: ClientPublishOptions): Promise<Message>;
  /**
   * Calls `handler` with each message published on `topic` from now on, except the client's own.
   * Resolves, once subscribed, with the function that ends the subscription.
   */
  subscribe(topic: string, handler: MessageHandler): Promise<Unsubscribe>;
  /** Ends all of the client's subscriptions; `publish` and `subscribe` reject afterwards. */
  close(): Promise<void>;
}

/**
 * Connects to guild `guildId` on `bus` as a participant that is not an agent. The bus stays open
 * when the client closes.
 *
 * @example
 * ```ts
 * const client = connectGuildClient(bus, { guildId: "demo", id: "app", name: "App" });
 * await client.subscribe("default_topic", (m) => console.log(m.sender.id, m.payload));
 * await client.publish("default_topic", { content: "hello" });
 * ```
 */
export function connectGuildClient(bus: MessageBus, options: GuildClientOptions): GuildClient {
  checkId("connectGuildClient: guildId", options.guildId);
  checkId("connectGuildClient: id", options.id);
  const sender =
    options.name === undefined ? { id: options.id } : { id: options.id, name: options.name };
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const checkOpen = (what: string) => {
    if (closed) {
      throw new GuildhallError(
        "failed-precondition",
        `guild client "${options.id}" is closed; connect a new client to ${what}`,
      );
    }
  };

  return {
    guildId: options.guildId,
    id: options.id,

    async publish(topic, payload, publishOptions = {}) {
      checkOpen("publish");
      // A caller's trace context is the parent: the publish belongs to that trace, not the active one.
      const { traceparent: given } = publishOptions;
      const spanOptions = { guildId: options.guildId, parent: given, fallback: given };
      return tracedPublish(topic, spanOptions, async (traceparent) => {
        const message = createMessage(
          {
            topic,
            sender,
            payload,
            ...publishOptions,
            ...(traceparent !== undefined && { traceparent }),
          },
          options.ids === undefined ? {} : { ids: options.ids },
        );
        await bus.publish(options.guildId, message);
        return message;
      });
    },

    async subscribe(topic, handler) {
      checkOpen("subscribe");
      const subscription = await bus.subscribe(options.guildId, topic, handler, {
        excludeSender: options.id,
      });
      if (closed) {
        // close() ran while subscribing: it could not see this subscription.
        await subscription.unsubscribe();
        checkOpen("subscribe");
      }
      subscriptions.add(subscription);
      return async () => {
        subscriptions.delete(subscription);
        await subscription.unsubscribe();
      };
    },

    async close() {
      closed = true;
      const all = [...subscriptions];
      subscriptions.clear();
      await Promise.all(all.map((s) => s.unsubscribe()));
    },
  };
}
