// The live messages of every guild the dashboard shows: one guild client per guild, subscribed to
// every topic an agent of the guild can hear (the default topic, additional topics, inboxes), the
// latest messages kept per guild for pages that open later, and each new one handed to listeners.
import {
  DEFAULT_TOPIC,
  connectGuildClient,
  errorMessage,
  inboxTopic,
  type AgentSpec,
  type GuildClient,
  type Message,
  type MessageBus,
} from "@guildhall/core";
import type { GuildContext } from "@guildhall/registry";
import type { GuildMessage } from "./wire.js";

/** The id the dashboard's guild clients publish nothing under, but subscribe with. */
export const DASHBOARD_CLIENT_ID = "guildhall-dashboard";

/** Options of {@link MessageFeed}. */
export interface MessageFeedOptions {
  /** Messages kept per guild for pages that open later. Default 500. */
  readonly keepPerGuild?: number;
  /** Where a subscription that failed is reported. Default: stderr. */
  readonly warn?: (text: string) => void;
}

interface WatchedGuild {
  readonly client: GuildClient;
  readonly topics: Set<string>;
  readonly recent: GuildMessage[];
}

/** The topics `spec` hears in a guild whose default topic is `defaultTopic`. */
function topicsOf(defaultTopic: string, spec: AgentSpec): string[] {
  return [
    ...(spec.listenToDefaultTopic === false ? [] : [defaultTopic]),
    ...(spec.additionalTopics ?? []),
    inboxTopic(spec.id),
  ];
}

/** Subscribes to guilds' topics as their agents become known, and keeps their latest messages. */
export class MessageFeed {
  readonly #bus: MessageBus;
  readonly #keep: number;
  readonly #warn: (text: string) => void;
  readonly #guilds = new Map<string, WatchedGuild>();
  readonly #listeners = new Set<(message: GuildMessage) => void>();
  readonly #lastSent = new Map<string, number>();
  #closed = false;

  constructor(bus: MessageBus, options: MessageFeedOptions = {}) {
    this.#bus = bus;
    this.#keep = options.keepPerGuild ?? 500;
    this.#warn = options.warn ?? ((text) => process.stderr.write(`${text}\n`));
  }

  /**
   * Listens to every topic the agents of `guild` hear, adding those it does not listen to yet.
   * Call it again as agents are added; topics are never dropped while the feed runs.
   */
  async watch(guild: GuildContext, agents: readonly AgentSpec[]): Promise<void> {
    if (this.#closed) return;
    let watched = this.#guilds.get(guild.id);
    if (watched === undefined) {
      watched = {
        client: connectGuildClient(this.#bus, {
          guildId: guild.id,
          id: DASHBOARD_CLIENT_ID,
          name: "guildhall dashboard",
        }),
        topics: new Set(),
        recent: [],
      };
      this.#guilds.set(guild.id, watched);
    }
    const defaultTopic = guild.defaultTopic ?? DEFAULT_TOPIC;
    const wanted = new Set([defaultTopic, ...agents.flatMap((a) => topicsOf(defaultTopic, a))]);
    const entry = watched;
    await Promise.all(
      [...wanted]
        .filter((topic) => !entry.topics.has(topic))
        .map(async (topic) => {
          // Marked first, so a second watch while this one subscribes does not subscribe twice.
          entry.topics.add(topic);
          try {
            await entry.client.subscribe(topic, (message) => this.#receive(guild.id, message));
          } catch (error) {
            entry.topics.delete(topic);
            if (!this.#closed) {
              this.#warn(
                `dashboard: cannot listen to topic ${topic} of guild ${guild.id}: ${errorMessage(error)}`,
              );
            }
          }
        }),
    );
  }

  /** The guilds listened to, by id. */
  guildIds(): string[] {
    return [...this.#guilds.keys()];
  }

  /** The latest messages of a guild, oldest first. */
  recent(guildId: string): readonly GuildMessage[] {
    return this.#guilds.get(guildId)?.recent ?? [];
  }

  /** When an agent last published a message the feed saw, in ms since the epoch. */
  lastMessageAt(guildId: string, agentId: string): number | undefined {
    return this.#lastSent.get(`${guildId}\u0000${agentId}`);
  }

  /** Calls `listener` with each new message; returns the function that stops it. */
  onMessage(listener: (message: GuildMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends every subscription. The bus stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const guilds = [...this.#guilds.values()];
    this.#guilds.clear();
    await Promise.all(guilds.map((g) => g.client.close().catch(() => undefined)));
  }

  #receive(guildId: string, message: Message): void {
    const watched = this.#guilds.get(guildId);
    if (watched === undefined) return;
    const entry: GuildMessage = { guildId, message };
    watched.recent.push(entry);
    if (watched.recent.length > this.#keep)
      watched.recent.splice(0, watched.recent.length - this.#keep);
    this.#lastSent.set(`${guildId}\u0000${message.sender.id}`, message.timestamp);
    for (const listener of this.#listeners) listener(entry);
  }
}
