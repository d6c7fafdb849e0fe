// The bus contract shared by MemoryBus (this package) and RedisBus (@guildhall/bus-redis). It is
// deliberately small: messaging needs no notion of agents beyond `excludeSender`; what durable
// agents need besides (positions, state, fences) is the AgentStore of agent-store.ts.
import type { TopicPosition } from "./agent-store.js";
import type { Message } from "./message.js";

/**
 * Receives the messages of one subscription, one call at a time, in topic order, each with its
 * position in the topic (what a durable reader stores to resume after it).
 */
export type MessageHandler = (message: Message, position: TopicPosition) => void | Promise<void>;

/** Entries a subscription resumed `after` a position could not get: the bus no longer held them. */
export interface TrimmedEntries {
  readonly guildId: string;
  readonly topic: string;
  /** The position the subscription resumed after. */
  readonly after: TopicPosition;
  /** The last position the bus dropped (trimmed past the resumed position). */
  readonly lastTrimmed: TopicPosition;
}

/** Options of {@link MessageBus.subscribe}. */
export interface SubscribeOptions {
  /** Skip messages whose `sender.id` is this id: how an agent never receives its own. Default: none. */
  excludeSender?: string;
  /**
   * Called when the handler throws or rejects; delivery goes on with the next message either way.
   * Default: the bus's own reporting (MemoryBus writes one line to stderr).
   */
  onError?: (error: unknown, message: Message) => void;
  /**
   * Resume: deliver every entry the bus holds after this position first, then go on as live.
   * Default: none, the subscription starts at the topic's end ("from now on").
   */
  after?: TopicPosition;
  /**
   * Called when `after` is older than what the bus still holds: entries this subscription
   * should have received were trimmed (a reader that fell further behind than the bus keeps).
   * Default: the bus's warning channel.
   */
  onTrimmed?: (trimmed: TrimmedEntries) => void;
}

/** A live subscription. */
export interface Subscription {
  /** The guild subscribed to. */
  readonly guildId: string;
  /** The topic subscribed to. */
  readonly topic: string;
  /**
   * Messages received and waiting for the handler, one at a time. A RedisBus holds at most its
   * `maxQueuedPerSubscription` (the rest wait in Redis); a MemoryBus holds its topics in memory
   * anyway and does not bound it.
   */
  readonly queued: number;
  /**
   * Stops delivery: the handler is not called again once this is called (a call in progress
   * finishes). Idempotent.
   */
  unsubscribe(): Promise<void>;
}

/**
 * Carries messages between the participants of guilds (agents, guild clients, hosts).
 *
 * Semantics every implementation keeps:
 * - **Guild scope.** Topics belong to a guild: a message published in one guild never reaches a
 *   subscriber of another, whatever the topic names.
 * - **From now on.** A subscription receives every message of its topic published after
 *   `subscribe` resolved (not the ones before), or, with `after`, every message the bus still
 *   holds after that position.
 * - **Fan-out.** Every subscription of a topic receives every message of it.
 * - **Order.** A subscription receives a topic's messages in the order in which they were
 *   published; messages whose `publish` calls resolved one after the other arrive in that order.
 * - **One at a time.** A subscription's handler is called for one message at a time: the next
 *   call waits until the previous one returned (or its promise settled).
 * - **Isolation.** A handler that throws or is slow holds up only its own subscription.
 */
export interface MessageBus {
  /**
   * Publishes `message` on its topic (`message.topic`) in guild `guildId`. Resolves once the
   * message is accepted, so anything published afterwards comes after it; handlers run later.
   *
   * @throws GuildhallError `invalid-argument` for a malformed message or guild id;
   *   `unavailable` once the bus is closed.
   */
  publish(guildId: string, message: Message): Promise<void>;
  /**
   * Calls `handler` with every message published on `topic` in guild `guildId` from now on.
   * Resolves once the subscription is in place.
   *
   * @throws GuildhallError `invalid-argument` for a malformed guild id or topic;
   *   `unavailable` once the bus is closed.
   */
  subscribe(
    guildId: string,
    topic: string,
    handler: MessageHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  /** Ends every subscription and releases the bus's resources. Idempotent. */
  close(): Promise<void>;
}
