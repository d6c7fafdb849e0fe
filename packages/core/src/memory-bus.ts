// A MessageBus inside one process. Each subscription delivers through a SerialDelivery of its own,
// so a slow or failing handler holds up nobody else; messages are copied through JSON so
// subscribers see exactly what a networked bus would deliver, and never share mutable objects.
import { GuildhallError } from "./errors.js";
import type { Message } from "./message.js";
import type { MessageBus, MessageHandler, SubscribeOptions, Subscription } from "./message-bus.js";
import { SerialDelivery } from "./serial-delivery.js";
import { ID_PATTERN } from "./spec.js";
import { validateMessage } from "./validation.js";

/** Options of {@link MemoryBus}. */
export interface MemoryBusOptions {
  /** The largest message accepted, in bytes of its JSON. Default 1 MiB (1,048,576). */
  maxMessageBytes?: number;
  /**
   * Called when a handler throws and its subscription has no `onError`. Default: one line on
   * stderr naming the guild, topic and message id.
   */
  onHandlerError?: (error: unknown, message: Message, subscription: Subscription) => void;
}

const MAX_TOPIC_LENGTH = 256;

function checkGuildId(guildId: string): void {
  if (typeof guildId !== "string" || !ID_PATTERN.test(guildId)) {
    throw new GuildhallError(
      "invalid-argument",
      `guild id ${JSON.stringify(guildId)} must match ${ID_PATTERN.source}`,
    );
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new GuildhallError(
      "invalid-argument",
      `topic ${JSON.stringify(topic)} must be a string of 1 to ${MAX_TOPIC_LENGTH} characters`,
    );
  }
}

function reportToStderr(error: unknown, message: Message, subscription: Subscription): void {
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(
    `[guildhall MemoryBus] handler of guild "${subscription.guildId}" topic "${subscription.topic}" failed on message ${message.id}: ${reason}`,
  );
}

class MemorySubscription implements Subscription {
  readonly #delivery: SerialDelivery;
  active = true;

  constructor(
    readonly guildId: string,
    readonly topic: string,
    handler: MessageHandler,
    private readonly options: SubscribeOptions,
    reportError: MemoryBusOptions["onHandlerError"] & {},
    private readonly detach: (subscription: MemorySubscription) => void,
  ) {
    this.#delivery = new SerialDelivery(handler, (error, message) =>
      (options.onError ?? ((e, m) => reportError(e, m, this)))(error, message),
    );
  }

  enqueue(senderId: string, json: string): void {
    if (!this.active || senderId === this.options.excludeSender) return;
    this.#delivery.push(json);
  }

  unsubscribe(): Promise<void> {
    if (this.active) {
      this.active = false;
      this.#delivery.close();
      this.detach(this);
    }
    return Promise.resolve();
  }
}

/**
 * A {@link MessageBus} inside one process: for tests, the in-process engine and local clusters.
 * Messages are validated on publish and delivered as JSON copies, so code that works on it works
 * on a networked bus. Queues are unbounded: a handler that never returns holds its messages.
 */
export class MemoryBus implements MessageBus {
  private readonly guilds = new Map<string, Map<string, Set<MemorySubscription>>>();
  private readonly maxMessageBytes: number;
  private readonly reportError: NonNullable<MemoryBusOptions["onHandlerError"]>;
  private closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? 1_048_576;
    this.reportError = options.onHandlerError ?? reportToStderr;
  }

  publish(guildId: string, message: Message): Promise<void> {
    return new Promise<void>((resolve) => {
      this.checkOpen();
      checkGuildId(guildId);
      const valid = validateMessage(message);
      const json = JSON.stringify(valid);
      const bytes = Buffer.byteLength(json);
      if (bytes > this.maxMessageBytes) {
        throw new GuildhallError(
          "invalid-argument",
          `message ${valid.id} on topic "${valid.topic}" is ${bytes} bytes, over the bus limit of ${this.maxMessageBytes}; send a reference to large data instead`,
        );
      }
      const subscriptions = this.guilds.get(guildId)?.get(valid.topic);
      if (subscriptions !== undefined) {
        for (const subscription of subscriptions) subscription.enqueue(valid.sender.id, json);
      }
      resolve();
    });
  }

  subscribe(
    guildId: string,
    topic: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    // Thrown errors become rejections; everything else happens before the promise resolves.
    return new Promise<Subscription>((resolve) => {
      this.checkOpen();
      checkGuildId(guildId);
      checkTopic(topic);
      let topics = this.guilds.get(guildId);
      if (topics === undefined) {
        topics = new Map();
        this.guilds.set(guildId, topics);
      }
      let subscriptions = topics.get(topic);
      if (subscriptions === undefined) {
        subscriptions = new Set();
        topics.set(topic, subscriptions);
      }
      const subscription = new MemorySubscription(
        guildId,
        topic,
        handler,
        options,
        this.reportError,
        (s) => this.detach(s),
      );
      subscriptions.add(subscription);
      resolve(subscription);
    });
  }

  /**
   * How many subscriptions are live: in all guilds, in one guild, or on one topic of a guild.
   * Tests use it to check that nothing was left subscribed.
   */
  subscriptionCount(guildId?: string, topic?: string): number {
    let count = 0;
    for (const [guild, topics] of this.guilds) {
      if (guildId !== undefined && guild !== guildId) continue;
      for (const [name, subscriptions] of topics) {
        if (topic === undefined || name === topic) count += subscriptions.size;
      }
    }
    return count;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const topics of this.guilds.values()) {
      for (const subscriptions of topics.values()) {
        for (const subscription of subscriptions) void subscription.unsubscribe();
      }
    }
    this.guilds.clear();
    return Promise.resolve();
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new GuildhallError(
        "unavailable",
        "the MemoryBus is closed; create a new MemoryBus to publish or subscribe again",
      );
    }
  }

  private detach(subscription: MemorySubscription): void {
    const topics = this.guilds.get(subscription.guildId);
    const subscriptions = topics?.get(subscription.topic);
    if (topics === undefined || subscriptions === undefined) return;
    subscriptions.delete(subscription);
    if (subscriptions.size === 0) topics.delete(subscription.topic);
    if (topics.size === 0) this.guilds.delete(subscription.guildId);
  }
}
