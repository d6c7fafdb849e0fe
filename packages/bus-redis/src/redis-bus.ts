// RedisBus: the durable MessageBus on Redis Streams. One connection for commands (publish, the
// start of a subscription, the agent scripts, CLIENT UNBLOCK) and one that blocks in XREAD for
// every subscription of the bus, or one per `maxStreamsPerRead` streams (see stream-readers.ts
// and stream-reader.ts). Publishing appends to the
// topic's stream; every bus reading that stream delivers the entry to its own subscriptions. The
// agent records live next to the streams (redis-agent-store.ts).
import {
  GuildhallError,
  type AgentCheckpoint,
  type AgentCommit,
  type ClaimAgentOptions,
  type CommitResult,
  type DurableMessageBus,
  type FireTimer,
  type FireTimerResult,
  type Message,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from "@guildhall/core";
import { RedisErrorMapper, type RedisErrorHints } from "@guildhall/registry";
import { Redis } from "ioredis";
import { disconnectClient } from "./disconnect.js";
import { MESSAGE_FIELD, streamKey } from "./keys.js";
import {
  ioredisOptions,
  resolveRedisBusOptions,
  type RedisBusOptions,
  type ResolvedRedisBusOptions,
} from "./options.js";
import { RedisAgentStore } from "./redis-agent-store.js";
import { RedisSubscription } from "./redis-subscription.js";
import {
  STREAM_START,
  compareStreamIds,
  isNoSuchKey,
  lostAfter,
  parseStreamInfo,
} from "./stream-id.js";
import { StreamReader } from "./stream-reader.js";
import { StreamReaders } from "./stream-readers.js";
import { checkGuildId, checkPosition, checkTopic, encodeMessage, invalid } from "./validate.js";
import {
  deliverWarning,
  streamResetWarning,
  trimmedUnreadWarning,
  type RedisBusWarning,
} from "./warnings.js";

/** The advice that ends the bus's Redis error messages. */
const BUS_ERROR_HINTS: RedisErrorHints = {
  unreachable:
    "Check GUILDHALL_BUS_URL (or GUILDHALL_REDIS_URL / REDIS_URL) and that the server is running " +
    "and reachable from here, then retry; the bus keeps reconnecting and recovers by itself once " +
    "it is.",
  credentials: "Check the user and password in the bus URL (redis://user:password@host:port).",
  permission:
    "Grant it the stream commands (XADD, XREAD, XREVRANGE, XINFO, XTRIM, XLEN), the hash " +
    "commands, EVALSHA and EVAL, and CLIENT on the bus keys.",
  outOfMemory: "Raise maxmemory, or lower maxLenPerTopic so streams keep fewer messages.",
  wrongType: "Another application uses the same keys: give the bus its own prefix.",
};

function checkSubscribeOptions(options: unknown): SubscribeOptions {
  if (typeof options !== "object" || options === null) {
    throw invalid("subscribe options must be an object such as { excludeSender: agentId }");
  }
  const { excludeSender, after, ...callbacks } = options as Record<string, unknown>;
  if (excludeSender !== undefined && typeof excludeSender !== "string") {
    throw invalid(
      `subscribe option excludeSender must be a sender id string, not ${typeof excludeSender}`,
    );
  }
  for (const name of ["onError", "onTrimmed"]) {
    const callback = callbacks[name];
    if (callback !== undefined && typeof callback !== "function") {
      throw invalid(`subscribe option ${name} must be a function, not ${typeof callback}`);
    }
  }
  const checked = { ...(options as SubscribeOptions) };
  if (after !== undefined) checked.after = checkPosition("subscribe option after", after);
  return checked;
}

/** Where a subscription starts: the stream's end, or `after` (see RedisBus.subscribe). */
interface SubscriptionStart {
  readonly start: string;
  /** The last id Redis dropped that the subscription needed, when it did. */
  readonly trimmed: string | undefined;
}

/**
 * A {@link DurableMessageBus} on Redis Streams, shared by every process connected to the same
 * Redis: what agent hosts use to carry the messages of their agents, and where durable agents keep
 * their state, read positions and placement fence.
 *
 * Each (guild, topic) is one stream, `<prefix>bus:{<guildId>}:<topic>`; every key of a guild
 * shares the hash tag `{<guildId>}`, so a commit is one script on Redis Cluster too. A bus holds
 * two connections: one for commands and one that reads every subscribed stream with a single
 * blocking `XREAD`. A subscription receives what is published after `subscribe` resolved (or,
 * with `after`, everything Redis holds after that position), in order, once; after a dropped
 * connection or a Redis restart it resumes after the last message it was given.
 *
 * Trimming: publishes and commits cap each stream at about `maxLenPerTopic` entries
 * (`XADD MAXLEN ~`). Once a stream is longer than `trimAboveEntries`, each commit of one of its
 * messages also trims it to the lowest position of the topic's declared agents (`XTRIM MINID ~`),
 * so a stream never loses what a declared agent still needs except by the hard cap. An agent (or
 * subscription) that falls further behind than the cap loses the trimmed entries and is told:
 * `onTrimmed`, else a `trimmed-unread` warning. See the package README.
 *
 * ```ts
 * const bus = new RedisBus({ url: "redis://localhost:6379" });
 * await bus.subscribe("my-guild", "default_topic", (message) => console.log(message.payload));
 * await bus.publish("my-guild", createMessage({ topic: "default_topic", sender: { id: "app" }, payload: "hi" }));
 * await bus.close();
 * ```
 */
export class RedisBus implements DurableMessageBus {
  readonly #options: ResolvedRedisBusOptions;
  readonly #errors: RedisErrorMapper;
  readonly #commands: Redis;
  readonly #reader: StreamReaders;
  readonly #agents: RedisAgentStore;
  readonly #subscriptions = new Set<RedisSubscription>();
  #closing: Promise<void> | undefined;

  /**
   * Connects to Redis in the background; publish and subscribe wait for the connection (at most
   * `commandTimeoutMs`).
   *
   * @throws GuildhallError `invalid-argument` for a missing or malformed URL or option.
   */
  constructor(options: RedisBusOptions) {
    const resolved = resolveRedisBusOptions(options);
    this.#options = resolved;
    const errors = new RedisErrorMapper(resolved.url, BUS_ERROR_HINTS);
    this.#errors = errors;
    const commands = new Redis(resolved.url, ioredisOptions(resolved, "commands"));
    commands.on("error", (error: Error) => errors.connectionFailed(error));
    commands.on("ready", () => errors.connected());
    this.#commands = commands;
    const readerOptions = {
      blockMs: resolved.blockMs,
      readBatchSize: resolved.readBatchSize,
      watchdogGraceMs: resolved.commandTimeoutMs,
      maxRetryDelayMs: resolved.maxReconnectDelayMs,
      errors,
      onWarning: resolved.onWarning,
      unblock: (clientId: number) => commands.client("UNBLOCK", clientId),
      range: (key: string, after: string, count: number) =>
        commands.xrange(key, `(${after}`, "+", "COUNT", count),
      streamInfo: (key: string) =>
        commands.xinfo("STREAM", key).catch((error: unknown) => {
          if (isNoSuchKey(error)) return undefined;
          throw error;
        }),
    };
    this.#reader = new StreamReaders(
      () =>
        new StreamReader(
          new Redis(resolved.url, ioredisOptions(resolved, "reader")),
          readerOptions,
        ),
      resolved.maxStreamsPerRead,
    );
    this.#agents = new RedisAgentStore(commands, {
      ...resolved,
      call: (operation, what, command) => this.#call(operation, what, command),
    });
    // Errors of this first attempt arrive as "error" events; ioredis keeps retrying.
    commands.connect().catch(() => {});
  }

  /** The largest message accepted, in bytes of its JSON: the `maxPayloadBytes` option. */
  get maxMessageBytes(): number {
    return this.#options.maxPayloadBytes;
  }

  /**
   * Appends `message` to the stream of its topic in guild `guildId`; resolves once Redis has it.
   * Fails at once, rather than queueing, while Redis is unreachable.
   *
   * @throws GuildhallError `invalid-argument` for a malformed message or guild id, or a message
   *   whose JSON is over `maxPayloadBytes`; `unavailable` while Redis is unreachable (retry later;
   *   a publish that timed out may still have been applied) or once the bus is closed;
   *   `failed-precondition` when the topic's key holds something other than a stream.
   */
  async publish(guildId: string, message: Message): Promise<void> {
    this.#checkOpen("publish");
    checkGuildId(guildId);
    const json = encodeMessage(message, this.#options.maxPayloadBytes);
    const { id, topic } = message;
    const what = `could not publish message ${id} to topic "${topic}" of guild "${guildId}"`;
    await this.#call("publish", what, () =>
      this.#commands.xadd(
        streamKey(this.#options.prefix, guildId, topic),
        "MAXLEN",
        "~",
        this.#options.maxLenPerTopic,
        "*",
        MESSAGE_FIELD,
        json,
      ),
    );
  }

  /**
   * Calls `handler` with every message published on `topic` in guild `guildId` after this
   * resolves, with its position (the entry id): one call at a time, in publish order. Resolves
   * once the stream's current end is known, which is where the subscription starts.
   *
   * With `after` (a position a handler was given), it first delivers every entry Redis holds
   * after it, then goes on live, each entry once. When Redis trimmed entries after it already,
   * `onTrimmed` is called before this resolves (default: a `trimmed-unread` warning); a stream
   * whose ids are all below `after` (Redis lost it since) is read from its start.
   *
   * @throws GuildhallError `invalid-argument` for a malformed guild id, topic or option;
   *   `unavailable` while Redis is unreachable or once the bus is closed.
   */
  async subscribe(
    guildId: string,
    topic: string,
    handler: MessageHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    this.#checkOpen("subscribe");
    checkGuildId(guildId);
    checkTopic(topic);
    if (typeof handler !== "function") {
      throw invalid(`the handler of a subscription must be a function, not ${typeof handler}`);
    }
    const subscribeOptions = checkSubscribeOptions(options);
    const key = streamKey(this.#options.prefix, guildId, topic);
    const what = `could not subscribe to topic "${topic}" of guild "${guildId}"`;
    const { start, trimmed } = await this.#call("subscribe", what, () =>
      this.#subscriptionStart(key, subscribeOptions.after),
    );
    this.#checkOpen("subscribe");
    const { onWarning } = this.#options;
    const subscription = new RedisSubscription({
      guildId,
      topic,
      key,
      start,
      handler,
      options: subscribeOptions,
      reportError: this.#options.onHandlerError,
      reportTrimmed: (entries, streamKey) => onWarning(trimmedUnreadWarning(entries, streamKey)),
      detach: (detached) => {
        this.#subscriptions.delete(detached);
        this.#reader.remove(detached);
      },
      maxQueued: this.#options.maxQueuedPerSubscription,
      resume: (resumed) => this.#reader.resume(resumed),
    });
    if (trimmed !== undefined) subscription.reportTrimmed(trimmed);
    this.#subscriptions.add(subscription);
    this.#reader.add(subscription);
    return subscription;
  }

  /**
   * Makes `epoch` the agent's current placement and returns its checkpoint: its state, commits,
   * pending timers, and per claimed topic its position (a topic new to it starts at the stream's
   * end). Adds the topics to the agent's. One script.
   *
   * @throws GuildhallError `aborted` when a newer epoch holds the agent (or, with the same epoch,
   *   after it was deleted); `invalid-argument` for malformed ids, epoch or topics;
   *   `unavailable` while Redis is unreachable.
   */
  claimAgent(
    guildId: string,
    agentId: string,
    options: ClaimAgentOptions,
  ): Promise<AgentCheckpoint> {
    return this.#agents.claimAgent(guildId, agentId, options);
  }

  /**
   * Stores the commit's state, position and timer changes and releases its messages, at once or
   * not at all, in one script: `committed`; `duplicate` when this sequence was committed before (nothing is
   * applied twice, no message released twice); `fenced` when the epoch is not the agent's.
   *
   * @throws GuildhallError `invalid-argument` for a malformed commit or one out of order;
   *   `unavailable` while Redis is unreachable (the commit may have been applied: retry it with
   *   the same sequence); `failed-precondition` when a bus key holds another type.
   */
  commitAgent(guildId: string, agentId: string, commit: AgentCommit): Promise<CommitResult> {
    return this.#agents.commitAgent(guildId, agentId, commit);
  }

  /**
   * Deletes the agent's state, positions and timers, and keeps a tombstone of its epoch for
   * `tombstoneTtlMs` so no copy still running can commit, fire or claim under it. Idempotent.
   */
  deleteAgent(guildId: string, agentId: string): Promise<void> {
    return this.#agents.deleteAgent(guildId, agentId);
  }

  /**
   * Fires a due timer of the agent in one script: appends its message to the agent's inbox stream
   * and forgets the timer. `fired`; `gone` when no such timer is pending (it fired, or was
   * cancelled); `fenced` when the epoch is not the agent's (nothing changes); `unknown` when Redis
   * has no record of the agent.
   *
   * @throws GuildhallError `invalid-argument` for a malformed fire or a message not on the
   *   agent's inbox; `unavailable` while Redis is unreachable (it may have fired: retry, and
   *   `gone` then means it did).
   */
  fireTimer(guildId: string, agentId: string, fire: FireTimer): Promise<FireTimerResult> {
    return this.#agents.fireTimer(guildId, agentId, fire);
  }

  /** The agent's checkpoint as stored now, without claiming it; `undefined` for none or deleted. */
  readAgent(guildId: string, agentId: string): Promise<AgentCheckpoint | undefined> {
    return this.#agents.readAgent(guildId, agentId);
  }

  /**
   * Ends every subscription (a handler call in progress finishes), interrupts the blocking read
   * and closes both connections. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const subscription of [...this.#subscriptions]) await subscription.unsubscribe();
      await Promise.all([this.#reader.close(), disconnectClient(this.#commands)]);
    })();
    return this.#closing;
  }

  /** Where a subscription of `key` starts, and what Redis trimmed that it needed. */
  async #subscriptionStart(key: string, after: string | undefined): Promise<SubscriptionStart> {
    if (after === undefined) {
      const last = await this.#commands.xrevrange(key, "+", "-", "COUNT", 1);
      return { start: last[0]?.[0] ?? STREAM_START, trimmed: undefined };
    }
    let reply: unknown;
    try {
      reply = await this.#commands.xinfo("STREAM", key);
    } catch (error) {
      // No stream yet: whatever is published from now on comes after `after`.
      if (isNoSuchKey(error)) return { start: after, trimmed: undefined };
      throw error;
    }
    const info = parseStreamInfo(reply);
    const { lastGeneratedId } = info;
    let start = after;
    // Ids below `after` only: the stream began anew since (Redis lost it), all of it is new.
    if (lastGeneratedId !== undefined && compareStreamIds(lastGeneratedId, after) < 0) {
      this.#warn(streamResetWarning(key, after, lastGeneratedId, this.#errors.display));
      start = STREAM_START;
    }
    return { start, trimmed: lostAfter(info, start) };
  }

  #warn(warning: RedisBusWarning): void {
    deliverWarning(this.#options.onWarning, warning);
  }

  /** Runs one command of `operation`, failing fast while Redis is away; errors start with `what`. */
  async #call<T>(operation: string, what: string, command: () => Promise<T>): Promise<T> {
    this.#checkOpen(operation);
    this.#checkReachable(what);
    try {
      return await command();
    } catch (error) {
      throw this.#failure(error, what);
    }
  }

  #checkOpen(operation: string): void {
    if (this.#closing !== undefined) {
      throw new GuildhallError(
        "unavailable",
        `cannot ${operation}: this RedisBus is closed; create a new RedisBus to publish or subscribe again`,
      );
    }
  }

  /** Fails fast while the command connection waits to reconnect, instead of queueing. */
  #checkReachable(what: string): void {
    const status = this.#commands.status;
    if (status === "reconnecting" || status === "end" || status === "close") {
      throw this.#errors.unavailable(what);
    }
  }

  #failure(error: unknown, what: string): GuildhallError {
    if (this.#closing !== undefined) {
      return new GuildhallError(
        "unavailable",
        `${what}: the RedisBus was closed meanwhile; create a new RedisBus to go on`,
        { cause: error },
      );
    }
    return this.#errors.map(error, what);
  }
}
