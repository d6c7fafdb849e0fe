// One bus subscription per (guild, topic) for all the agents of this host, reference-counted by
// agent, fanning each message out to the local agents of that topic except its sender. A host with
// a hundred agents on the default topic reads each message from the bus once, not a hundred times.
import type { Message, MessageBus, Subscription } from "@guildhall/core";

/** Hands one message to one local agent; resolves when it is handed over (not handled). */
export type LocalDelivery = (guildId: string, agentId: string, message: Message) => void;

interface TopicEntry {
  readonly guildId: string;
  readonly topic: string;
  /** Local agents receiving this topic, by agent id. */
  readonly members: Set<string>;
  /** Settles once the bus subscription is in place (or failed). */
  readonly subscription: Promise<Subscription>;
}

function keyOf(guildId: string, topic: string): string {
  return `${guildId}\u0000${topic}`;
}

/** The bus subscriptions of one host. */
export class LocalSubscriptions {
  readonly #bus: MessageBus;
  readonly #deliver: LocalDelivery;
  readonly #onError: (error: unknown, message: Message) => void;
  readonly #topics = new Map<string, TopicEntry>();

  constructor(
    bus: MessageBus,
    deliver: LocalDelivery,
    onError: (error: unknown, message: Message) => void,
  ) {
    this.#bus = bus;
    this.#deliver = deliver;
    this.#onError = onError;
  }

  /** Bus subscriptions held now. */
  get size(): number {
    return this.#topics.size;
  }

  /**
   * Adds `agentId` to the receivers of each of `topics` in `guildId`, subscribing on the bus for
   * topics no local agent had. Resolves once every subscription is in place; if one fails, the
   * agent is taken off all of them again and the error is thrown.
   */
  async join(guildId: string, agentId: string, topics: readonly string[]): Promise<void> {
    const unique = [...new Set(topics)];
    // The topics subscribe side by side: each is a bus round trip that an agent start waits on.
    const entries = unique.map((topic) => {
      const entry = this.#entry(guildId, topic);
      entry.members.add(agentId);
      return entry;
    });
    try {
      await Promise.all(entries.map((entry) => entry.subscription));
    } catch (error) {
      await this.leave(guildId, agentId, unique);
      throw error;
    }
  }

  /**
   * Takes `agentId` off the receivers of `topics`; a topic left without local receivers is
   * unsubscribed from the bus. Idempotent.
   */
  async leave(guildId: string, agentId: string, topics: readonly string[]): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const topic of new Set(topics)) {
      const key = keyOf(guildId, topic);
      const entry = this.#topics.get(key);
      if (entry === undefined || !entry.members.delete(agentId)) continue;
      if (entry.members.size === 0) {
        this.#topics.delete(key);
        closing.push(
          entry.subscription.then(
            (subscription) => subscription.unsubscribe(),
            () => undefined,
          ),
        );
      }
    }
    await Promise.all(closing);
  }

  /** Unsubscribes everything. */
  async close(): Promise<void> {
    const entries = [...this.#topics.values()];
    this.#topics.clear();
    await Promise.all(
      entries.map((entry) =>
        entry.subscription.then(
          (subscription) => subscription.unsubscribe(),
          () => undefined,
        ),
      ),
    );
  }

  #entry(guildId: string, topic: string): TopicEntry {
    const key = keyOf(guildId, topic);
    const existing = this.#topics.get(key);
    if (existing !== undefined) return existing;
    const members = new Set<string>();
    const subscription = this.#bus.subscribe(guildId, topic, (message) =>
      this.#fanOut(entry, message),
    );
    const entry: TopicEntry = { guildId, topic, members, subscription };
    this.#topics.set(key, entry);
    // A failed subscription is forgotten at once, so the next join tries again.
    subscription.catch(() => {
      if (this.#topics.get(key) === entry) this.#topics.delete(key);
    });
    return entry;
  }

  #fanOut(entry: TopicEntry, message: Message): void {
    // Handing over does not wait for the agents: a slow agent must not hold up the others of the
    // topic. Each agent still receives the topic in order, because deliveries to one agent are
    // queued in the order they are handed over.
    for (const agentId of entry.members) {
      if (agentId === message.sender.id) continue;
      try {
        this.#deliver(entry.guildId, agentId, message);
      } catch (error) {
        this.#onError(error, message);
      }
    }
  }
}
