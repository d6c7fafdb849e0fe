// RedisBus: the MessageBus on Redis Streams. Two connections per bus: one for commands (publish,
// the start of a subscription, CLIENT UNBLOCK) and one that blocks in XREAD for every subscription
// of the bus (see stream-reader.ts). Publishing appends to the topic's stream; every bus reading
// that stream delivers the entry to its own subscriptions.
import {
  GuildhallError,
  ID_PATTERN,
  validateMessage,
  type Message,
  type MessageBus,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from "@guildhall/core";
import { Redis } from "ioredis";
import { disconnectClient } from "./disconnect.js";
import { MESSAGE_FIELD, streamKey } from "./keys.js";
import {
  ioredisOptions,
  resolveRedisBusOptions,
  type RedisBusOptions,
  type ResolvedRedisBusOptions,
} from "./options.js";
import { RedisErrorMapper } from "./redis-errors.js";
import { RedisSubscription } from "./redis-subscription.js";
import { STREAM_START } from "./stream-id.js";
import { StreamReader } from "./stream-reader.js";

const MAX_TOPIC_LENGTH = 256;

function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", message);
}

function checkGuildId(guildId: unknown): string {
  if (typeof guildId !== "string" || !ID_PATTERN.test(guildId)) {
    throw invalid(
      `guild id ${JSON.stringify(guildId)} is invalid: it must match ${ID_PATTERN.source} ` +
        "(letters, digits, '.', '_', '-'; at most 128)",
    );
  }
  return guildId;
}

function checkTopic(topic: unknown): string {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw invalid(
      `topic ${JSON.stringify(topic)} is invalid: it must be a string of 1 to ${MAX_TOPIC_LENGTH} characters`,
    );
  }
  return topic;
}

function checkSubscribeOptions(options: unknown): SubscribeOptions {
  if (typeof options !== "object" || options === null) {
    throw invalid("subscribe options must be an object such as { excludeSender: agentId }");
  }
  const { excludeSender, onError } = options as Record<string, unknown>;
  if (excludeSender !== undefined && typeof excludeSender !== "string") {
    throw invalid(
      `subscribe option excludeSender must be a sender id string, not ${typeof excludeSender}`,
    );
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw invalid(`subscribe option onError must be a function, not ${typeof onError}`);
  }
  return { ...(options as SubscribeOptions) };
}

/**
 * A {@link MessageBus} on Redis Streams, shared by every process connected to the same Redis:
 * what agent hosts use to carry the messages of their agents.
 *
 * Each (guild, topic) is one stream, `<prefix>bus:<guildId>:<topic>`, trimmed to about
 * `maxLenPerTopic` entries. A bus holds two connections: one for commands and one that reads every
 * subscribed stream with a single blocking `XREAD`. A subscription receives what is published
 * after `subscribe` resolved, in order, at most once; after a dropped connection or a Redis
 * restart it resumes after the last message it was given, so it misses only what Redis itself no
 * longer holds (trimmed, or lost with a restart without persistence). See the package README.
 *
 * ```ts
 * const bus = new RedisBus({ url: "redis://localhost:6379" });
 * await bus.subscribe("my-guild", "default_topic", (message) => console.log(message.payload));
 * await bus.publish("my-guild", createMessage({ topic: "default_topic", sender: { id: "app" }, payload: "hi" }));
 * await bus.close();
 * ```
 */
export class RedisBus implements MessageBus {
  readonly #options: ResolvedRedisBusOptions;
  readonly #errors: RedisErrorMapper;
  readonly #commands: Redis;
  readonly #reader: StreamReader;
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
    const errors = new RedisErrorMapper(resolved.url);
    this.#errors = errors;
    const commands = new Redis(resolved.url, ioredisOptions(resolved, "commands"));
    commands.on("error", (error: Error) => errors.connectionFailed(error));
    commands.on("ready", () => errors.connected());
    this.#commands = commands;
    this.#reader = new StreamReader(new Redis(resolved.url, ioredisOptions(resolved, "reader")), {
      blockMs: resolved.blockMs,
      readBatchSize: resolved.readBatchSize,
      watchdogGraceMs: resolved.commandTimeoutMs,
      maxRetryDelayMs: resolved.maxReconnectDelayMs,
      errors,
      onWarning: resolved.onWarning,
      unblock: (clientId) => commands.client("UNBLOCK", clientId),
    });
    // Errors of this first attempt arrive as "error" events; ioredis keeps retrying.
    commands.connect().catch(() => {});
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
    const valid = validateMessage(message);
    const json = JSON.stringify(valid);
    const bytes = Buffer.byteLength(json);
    const limit = this.#options.maxPayloadBytes;
    if (bytes > limit) {
      throw invalid(
        `message ${valid.id} on topic "${valid.topic}" is ${bytes} bytes of JSON, over the bus ` +
          `limit of ${limit} bytes (maxPayloadBytes); send a reference to large data (a URL, ` +
          "an object-store key) instead of the data itself",
      );
    }
    const what = `could not publish message ${valid.id} to topic "${valid.topic}" of guild "${guildId}"`;
    this.#checkReachable(what);
    try {
      await this.#commands.xadd(
        streamKey(this.#options.prefix, guildId, valid.topic),
        "MAXLEN",
        "~",
        this.#options.maxLenPerTopic,
        "*",
        MESSAGE_FIELD,
        json,
      );
    } catch (error) {
      throw this.#failure(error, what);
    }
  }

  /**
   * Calls `handler` with every message published on `topic` in guild `guildId` after this
   * resolves: one call at a time, in publish order. Resolves once the stream's current end is
   * known, which is where the subscription starts.
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
    this.#checkReachable(what);
    let startId: string;
    try {
      const last = await this.#commands.xrevrange(key, "+", "-", "COUNT", 1);
      startId = last[0]?.[0] ?? STREAM_START;
    } catch (error) {
      throw this.#failure(error, what);
    }
    this.#checkOpen("subscribe");
    const subscription = new RedisSubscription(
      guildId,
      topic,
      key,
      startId,
      handler,
      subscribeOptions,
      this.#options.onHandlerError,
      (s) => {
        this.#subscriptions.delete(s);
        this.#reader.remove(s);
      },
    );
    this.#subscriptions.add(subscription);
    this.#reader.add(subscription, startId);
    return subscription;
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
