// A MessageBus inside one process, and the memory twin of RedisBus's durable side: topics are
// retained logs with Redis-style positions, and agents' state, positions and fences live next to
// them, committed in one synchronous step. Each subscription delivers through a SerialDelivery of
// its own, so a slow or failing handler holds up nobody else; messages are copied through JSON so
// subscribers see exactly what a networked bus would deliver, and never share mutable objects.
import { agentKey } from "./ids.js";
import {
  START_POSITION,
  comparePositions,
  isTopicPosition,
  type AgentCheckpoint,
  type AgentCommit,
  type ClaimAgentOptions,
  type CommitResult,
  type DurableMessageBus,
  type FireTimer,
  type TopicPosition,
} from "./agent-store.js";
import { GuildhallError } from "./errors.js";
import { inboxTopic, type Message } from "./message.js";
import type {
  MessageHandler,
  SubscribeOptions,
  Subscription,
  TrimmedEntries,
} from "./message-bus.js";
import { SerialDelivery } from "./serial-delivery.js";
import { checkId } from "./option-checks.js";
import { checkTimerChanges, type AgentTimer, type FireTimerResult } from "./timers.js";
import { validateMessage } from "./validation.js";

/** Options of {@link MemoryBus}. */
export interface MemoryBusOptions {
  /** The largest message accepted, in bytes of its JSON. Default 1 MiB (1,048,576). */
  maxMessageBytes?: number;
  /**
   * The most messages a topic keeps, whatever its agents still need: the bound on memory. An
   * agent that falls further behind is told through `onTrimmed`. Default 100,000.
   */
  maxLenPerTopic?: number;
  /**
   * A topic longer than this drops the messages every declared agent of it has committed past.
   * Default 1,000.
   */
  trimAboveEntries?: number;
  /**
   * Called when a handler throws and its subscription has no `onError`. Default: one line on
   * stderr naming the guild, topic and message id.
   */
  onHandlerError?: (error: unknown, message: Message, subscription: Subscription) => void;
  /**
   * Called when a subscription resumed after a position the topic no longer holds and has no
   * `onTrimmed` of its own. Default: one line on stderr.
   */
  onTrimmed?: (trimmed: TrimmedEntries) => void;
}

const MAX_TOPIC_LENGTH = 256;
const MAX_STATE_BYTES = 64 * 1024 * 1024;

const checkGuildId = (guildId: string): string => checkId("guild id", guildId);
const checkAgentId = (agentId: string): string => checkId("agent id", agentId);

function checkTopic(topic: string): void {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new GuildhallError(
      "invalid-argument",
      `topic ${JSON.stringify(topic)} must be a string of 1 to ${MAX_TOPIC_LENGTH} characters`,
    );
  }
}

function checkEpoch(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new GuildhallError(
      "invalid-argument",
      `${name} must be a positive integer, not ${JSON.stringify(value)}`,
    );
  }
}

function reportToStderr(error: unknown, message: Message, subscription: Subscription): void {
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(
    `[guildhall MemoryBus] handler of guild "${subscription.guildId}" topic "${subscription.topic}" failed on message ${message.id}: ${reason}`,
  );
}

function reportTrimmed(trimmed: TrimmedEntries): void {
  console.error(
    `[guildhall MemoryBus] a reader of guild "${trimmed.guildId}" topic "${trimmed.topic}" resumed after ${trimmed.after}, but the topic dropped messages up to ${trimmed.lastTrimmed} (maxLenPerTopic): they are lost to it; raise maxLenPerTopic or find why the agent fell behind`,
  );
}

interface Entry {
  readonly position: TopicPosition;
  readonly senderId: string;
  readonly json: string;
}

/** One topic of one guild: its retained messages and who reads it. */
class TopicLog {
  entries: Entry[] = [];
  head = 0;
  lastMs = 0;
  lastSeq = -1;
  /** The newest position dropped; START_POSITION while nothing was. */
  lastTrimmed: TopicPosition = START_POSITION;
  readonly subscriptions = new Set<MemorySubscription>();
  /** Declared agents' committed positions: what trimming must keep. */
  readonly cursors = new Map<string, TopicPosition>();

  get length(): number {
    return this.entries.length - this.head;
  }

  get end(): TopicPosition {
    return this.lastSeq < 0 ? START_POSITION : `${this.lastMs}-${this.lastSeq}`;
  }

  append(senderId: string, json: string): Entry {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq += 1;
    }
    const entry = { position: this.end, senderId, json };
    this.entries.push(entry);
    return entry;
  }

  /** Drops the oldest entries while `keep` says so; compacts the array now and then. */
  dropWhile(keep: (entry: Entry) => boolean): void {
    while (this.head < this.entries.length && !keep(this.entries[this.head]!)) {
      this.lastTrimmed = this.entries[this.head]!.position;
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Entries after `position`, oldest first. */
  *after(position: TopicPosition): Generator<Entry> {
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (comparePositions(entry.position, position) > 0) yield entry;
    }
  }

  /** Whether nothing is read from or kept for this topic any more. */
  get unused(): boolean {
    return this.subscriptions.size === 0 && this.cursors.size === 0 && this.length === 0;
  }
}

/** A durable agent's record; `deleted` keeps a stopped agent's fence against its old copies. */
interface AgentRecord {
  epoch: number;
  deleted: boolean;
  state: string | undefined;
  commits: number;
  readonly topics: Set<string>;
  /** Pending timers by id. */
  readonly timers: Map<string, AgentTimer>;
}

class MemorySubscription implements Subscription {
  readonly #delivery: SerialDelivery;
  readonly #options: SubscribeOptions;
  readonly #detach: (subscription: MemorySubscription) => void;
  active = true;

  constructor(
    readonly guildId: string,
    readonly topic: string,
    handler: MessageHandler,
    options: SubscribeOptions,
    reportError: MemoryBusOptions["onHandlerError"] & {},
    detach: (subscription: MemorySubscription) => void,
  ) {
    this.#options = options;
    this.#detach = detach;
    this.#delivery = new SerialDelivery(handler, (error, message) =>
      (options.onError ?? ((e, m) => reportError(e, m, this)))(error, message),
    );
  }

  get queued(): number {
    return this.#delivery.length;
  }

  enqueue(entry: Entry): void {
    if (!this.active || entry.senderId === this.#options.excludeSender) return;
    this.#delivery.push(entry.json, entry.position);
  }

  unsubscribe(): Promise<void> {
    if (this.active) {
      this.active = false;
      this.#delivery.close();
      this.#detach(this);
    }
    return Promise.resolve();
  }
}

/**
 * A {@link MessageBus} inside one process: for tests, the in-process engine and local clusters.
 * Messages are validated on publish and delivered as JSON copies, so code that works on it works
 * on a networked bus. Topics keep their messages (see `maxLenPerTopic`), and durable agents'
 * records live here for the life of the process, with the same rules as on RedisBus.
 */
export class MemoryBus implements DurableMessageBus {
  readonly #topics = new Map<string, TopicLog>();
  readonly #agents = new Map<string, AgentRecord>();
  /** The largest message accepted, in bytes of its JSON. */
  readonly maxMessageBytes: number;
  readonly #maxLenPerTopic: number;
  readonly #trimAboveEntries: number;
  readonly #reportError: NonNullable<MemoryBusOptions["onHandlerError"]>;
  readonly #reportTrimmed: NonNullable<MemoryBusOptions["onTrimmed"]>;
  #closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? 1_048_576;
    this.#maxLenPerTopic = options.maxLenPerTopic ?? 100_000;
    this.#trimAboveEntries = options.trimAboveEntries ?? 1_000;
    this.#reportError = options.onHandlerError ?? reportToStderr;
    this.#reportTrimmed = options.onTrimmed ?? reportTrimmed;
  }

  publish(guildId: string, message: Message): Promise<void> {
    return this.#sync(() => {
      checkGuildId(guildId);
      const json = this.#encode(message);
      this.#append(guildId, JSON.parse(json) as Message, json);
    });
  }

  subscribe(
    guildId: string,
    topic: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.#sync(() => {
      checkGuildId(guildId);
      checkTopic(topic);
      const after = options.after;
      if (after !== undefined && !isTopicPosition(after)) {
        throw new GuildhallError(
          "invalid-argument",
          `subscribe option after must be a topic position such as "1700000000000-0", not ${JSON.stringify(after)}`,
        );
      }
      const log = this.#log(guildId, topic);
      const subscription = new MemorySubscription(
        guildId,
        topic,
        handler,
        options,
        this.#reportError,
        (s) => this.#detach(s),
      );
      if (after !== undefined) {
        if (comparePositions(log.lastTrimmed, after) > 0) {
          (options.onTrimmed ?? this.#reportTrimmed)({
            guildId,
            topic,
            after,
            lastTrimmed: log.lastTrimmed,
          });
        }
        for (const entry of log.after(after)) subscription.enqueue(entry);
      }
      log.subscriptions.add(subscription);
      return subscription;
    });
  }

  claimAgent(
    guildId: string,
    agentId: string,
    options: ClaimAgentOptions,
  ): Promise<AgentCheckpoint> {
    return this.#sync(() => {
      checkGuildId(guildId);
      checkAgentId(agentId);
      checkEpoch("epoch", options.epoch);
      for (const topic of options.topics) checkTopic(topic);
      const key = agentKey(guildId, agentId);
      let record = this.#agents.get(key);
      if (
        record !== undefined &&
        (options.epoch < record.epoch || (record.deleted && options.epoch <= record.epoch))
      ) {
        throw new GuildhallError(
          "aborted",
          `agent "${agentId}" of guild "${guildId}" cannot start under placement epoch ${options.epoch}: ${record.deleted ? "it was stopped under" : "a newer placement holds it, epoch"} ${record.epoch}`,
        );
      }
      if (record === undefined || record.deleted) {
        record = {
          epoch: options.epoch,
          deleted: false,
          state: undefined,
          commits: 0,
          topics: new Set(),
          timers: new Map(),
        };
        this.#agents.set(key, record);
      }
      record.epoch = options.epoch;
      for (const topic of options.topics) {
        record.topics.add(topic);
        const log = this.#log(guildId, topic);
        if (!log.cursors.has(agentId)) log.cursors.set(agentId, log.end);
      }
      return this.#checkpoint(guildId, agentId, record);
    });
  }

  commitAgent(guildId: string, agentId: string, commit: AgentCommit): Promise<CommitResult> {
    return this.#sync(() => {
      checkGuildId(guildId);
      checkAgentId(agentId);
      checkEpoch("commit epoch", commit.epoch);
      checkEpoch("commit sequence", commit.sequence);
      if (
        commit.state !== undefined &&
        (typeof commit.state !== "string" || commit.state.length > MAX_STATE_BYTES)
      ) {
        throw new GuildhallError(
          "invalid-argument",
          `commit state must be JSON text of at most ${MAX_STATE_BYTES} bytes`,
        );
      }
      if (commit.position !== undefined) {
        checkTopic(commit.position.topic);
        if (!isTopicPosition(commit.position.position)) {
          throw new GuildhallError(
            "invalid-argument",
            `commit position ${JSON.stringify(commit.position.position)} is not a topic position`,
          );
        }
      }
      const encoded = commit.messages.map((message) => this.#encode(message));
      const timers = commit.timers === undefined ? undefined : checkTimerChanges(commit.timers);
      const record = this.#agents.get(agentKey(guildId, agentId));
      if (record === undefined) return "unknown";
      if (record.deleted || record.epoch !== commit.epoch) return "fenced";
      if (record.commits >= commit.sequence) return "duplicate";
      if (commit.sequence !== record.commits + 1) {
        throw new GuildhallError(
          "invalid-argument",
          `commit ${commit.sequence} of agent "${agentId}" skips ahead: the last one stored is ${record.commits}`,
        );
      }
      record.commits = commit.sequence;
      if (commit.state !== undefined) record.state = commit.state;
      if (timers !== undefined) {
        for (const id of timers.cancel) record.timers.delete(id);
        for (const timer of timers.schedule) record.timers.set(timer.id, timer);
      }
      encoded.forEach((json) => this.#append(guildId, JSON.parse(json) as Message, json));
      if (commit.position !== undefined) {
        const log = this.#log(guildId, commit.position.topic);
        log.cursors.set(agentId, commit.position.position);
        this.#trimToCursors(log);
      }
      return "committed";
    });
  }

  deleteAgent(guildId: string, agentId: string): Promise<void> {
    return this.#sync(() => {
      checkGuildId(guildId);
      checkAgentId(agentId);
      const record = this.#agents.get(agentKey(guildId, agentId));
      if (record === undefined) return;
      for (const topic of record.topics) {
        const key = agentKey(guildId, topic);
        const log = this.#topics.get(key);
        log?.cursors.delete(agentId);
        if (log?.unused === true) this.#topics.delete(key);
      }
      record.topics.clear();
      record.deleted = true;
      record.state = undefined;
      record.commits = 0;
      record.timers.clear();
    });
  }

  fireTimer(guildId: string, agentId: string, fire: FireTimer): Promise<FireTimerResult> {
    return this.#sync(() => {
      checkGuildId(guildId);
      checkAgentId(agentId);
      checkEpoch("fire epoch", fire.epoch);
      if (fire.message?.topic !== inboxTopic(agentId)) {
        throw new GuildhallError(
          "invalid-argument",
          `a timer of agent "${agentId}" fires on its inbox "${inboxTopic(agentId)}", not on ${JSON.stringify(fire.message?.topic)}`,
        );
      }
      const json = this.#encode(fire.message);
      const record = this.#agents.get(agentKey(guildId, agentId));
      if (record === undefined) return "unknown";
      if (record.deleted || record.epoch !== fire.epoch) return "fenced";
      if (!record.timers.delete(fire.message.id)) return "gone";
      this.#append(guildId, JSON.parse(json) as Message, json);
      return "fired";
    });
  }

  readAgent(guildId: string, agentId: string): Promise<AgentCheckpoint | undefined> {
    return this.#sync(() => {
      const record = this.#agents.get(agentKey(guildId, agentId));
      if (record === undefined || record.deleted) return undefined;
      return this.#checkpoint(guildId, agentId, record);
    });
  }

  /**
   * How many subscriptions are live: in all guilds, in one guild, or on one topic of a guild.
   * Tests use it to check that nothing was left subscribed.
   */
  subscriptionCount(guildId?: string, topic?: string): number {
    let count = 0;
    for (const [key, log] of this.#topics) {
      const [guild, name] = key.split("\u0000") as [string, string];
      if (guildId !== undefined && guild !== guildId) continue;
      if (topic === undefined || name === topic) count += log.subscriptions.size;
    }
    return count;
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const log of this.#topics.values()) {
      for (const subscription of log.subscriptions) void subscription.unsubscribe();
    }
    this.#topics.clear();
    this.#agents.clear();
    return Promise.resolve();
  }

  /** Runs `work` as one step: thrown errors become rejections, nothing interleaves with it. */
  #sync<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      if (this.#closed) {
        throw new GuildhallError(
          "unavailable",
          "the MemoryBus is closed; create a new MemoryBus to publish or subscribe again",
        );
      }
      resolve(work());
    });
  }

  #encode(message: Message): string {
    const valid = validateMessage(message);
    const json = JSON.stringify(valid);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.maxMessageBytes) {
      throw new GuildhallError(
        "invalid-argument",
        `message ${valid.id} on topic "${valid.topic}" is ${bytes} bytes, over the bus limit of ${this.maxMessageBytes}; send a reference to large data instead`,
      );
    }
    return json;
  }

  #append(guildId: string, message: Message, json: string): void {
    const log = this.#log(guildId, message.topic);
    const entry = log.append(message.sender.id, json);
    for (const subscription of log.subscriptions) subscription.enqueue(entry);
    if (log.length > this.#maxLenPerTopic) {
      const excess = log.length - this.#maxLenPerTopic;
      let dropped = 0;
      log.dropWhile(() => dropped++ >= excess);
    }
    this.#trimToCursors(log);
  }

  /** Drops what every declared agent of the topic committed past, once the topic is long. */
  #trimToCursors(log: TopicLog): void {
    if (log.length <= this.#trimAboveEntries) return;
    // A topic nobody declared keeps its hard cap only: a reader may still resume on it.
    if (log.cursors.size === 0) return;
    let lowest: TopicPosition | undefined;
    for (const position of log.cursors.values()) {
      if (lowest === undefined || comparePositions(position, lowest) < 0) lowest = position;
    }
    log.dropWhile((entry) => comparePositions(entry.position, lowest!) > 0);
  }

  #checkpoint(guildId: string, agentId: string, record: AgentRecord): AgentCheckpoint {
    const positions: Record<string, TopicPosition> = {};
    for (const topic of record.topics) {
      const position = this.#topics.get(agentKey(guildId, topic))?.cursors.get(agentId);
      if (position !== undefined) positions[topic] = position;
    }
    const timers = [...record.timers.values()].sort((a, b) => a.dueAt - b.dueAt);
    return { state: record.state, positions, commits: record.commits, timers };
  }

  #log(guildId: string, topic: string): TopicLog {
    const key = agentKey(guildId, topic);
    let log = this.#topics.get(key);
    if (log === undefined) {
      log = new TopicLog();
      this.#topics.set(key, log);
    }
    return log;
  }

  #detach(subscription: MemorySubscription): void {
    const key = agentKey(subscription.guildId, subscription.topic);
    const log = this.#topics.get(key);
    if (log === undefined) return;
    log.subscriptions.delete(subscription);
  }
}
