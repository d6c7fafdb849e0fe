// The options of RedisBus, their defaults, and the one function that checks them and fills the
// defaults in, plus the ioredis settings of the bus's two connections.
import { GuildhallError, checkWholeNumber, type Message, type Subscription } from "@guildhall/core";
// The registry's connection defaults: the bus connects to Redis the same way. The key prefix is
// shared too (registry keys never start with `bus:`).
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_RECONNECT_DELAY_MS,
  DEFAULT_PREFIX,
} from "@guildhall/registry";
import type { RedisOptions } from "ioredis";
import type { RedisBusWarning } from "./warnings.js";

/** Default approximate number of messages each topic's stream keeps. */
export const DEFAULT_MAX_LEN_PER_TOPIC = 10_000;
/** Default largest message accepted: 1 MiB of JSON. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576;
/** Default longest time one blocking read waits on the server. */
export const DEFAULT_BLOCK_MS = 5_000;
/** Default number of entries one read takes from each stream. */
export const DEFAULT_READ_BATCH_SIZE = 100;
/** Default number of messages one subscription holds for its handler. */
export const DEFAULT_MAX_QUEUED_PER_SUBSCRIPTION = 1_000;
/** Default number of streams one blocking read covers. */
export const DEFAULT_MAX_STREAMS_PER_READ = 256;
/** Default time a command may take before it fails. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/** Default length past which a commit trims its topic's stream to what its agents still need. */
export const DEFAULT_TRIM_ABOVE_ENTRIES = 1_000;
/** Default time a deleted agent's fence outlives it: a day. */
export const DEFAULT_TOMBSTONE_TTL_MS = 86_400_000;

/** Options of {@link RedisBus}. */
export interface RedisBusOptions {
  /**
   * The Redis server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS.
   * Hosts read it from `GUILDHALL_BUS_URL`, else `GUILDHALL_REDIS_URL` (or `REDIS_URL`).
   */
  readonly url: string;
  /**
   * Prepended to every key, so several deployments can share one Redis. Streams live under
   * `<prefix>bus:`, agent records under `<prefix>bus-agent:` and positions under
   * `<prefix>bus-cursors:`. No `{` or `}`: every key carries its guild's hash tag, which braces in
   * the prefix would replace. Default `"gh:"`.
   */
  readonly prefix?: string;
  /**
   * The hard cap: about how many messages each (guild, topic) stream keeps at most. Publishes and
   * commits trim older entries with `XADD MAXLEN ~`, so the real length may exceed it by a little.
   * It bounds memory whatever readers still need: an agent (or subscriber) that falls further
   * behind loses the trimmed messages and is told (`onTrimmed`, else a `trimmed-unread`
   * warning). Default 10000.
   */
  readonly maxLenPerTopic?: number;
  /**
   * Once a topic's stream is longer than this, each commit of a message of it trims the entries
   * every declared agent of the topic has committed past (`XTRIM MINID ~` to their lowest
   * position), so streams stay short while agents keep up. Never past an agent's position: only
   * `maxLenPerTopic` does that. At or above `maxLenPerTopic` it never applies. Default 1000.
   */
  readonly trimAboveEntries?: number;
  /**
   * How long a stopped (deleted) agent's fence outlives it, in milliseconds: for this long a copy
   * still running under an epoch from before the delete cannot commit, nor claim the agent back.
   * Make it longer than any copy can go on unnoticed (a paused VM, a partitioned host). Default
   * 86400000 (a day).
   */
  readonly tombstoneTtlMs?: number;
  /** The largest message accepted, in bytes of its JSON. Default 1048576 (1 MiB). */
  readonly maxPayloadBytes?: number;
  /**
   * The longest one blocking read (`XREAD BLOCK`) waits on the server, in milliseconds. New
   * subscriptions interrupt a read at once (`CLIENT UNBLOCK`), so this only bounds how long a
   * read lasts when nothing happens. Default 5000.
   */
  readonly blockMs?: number;
  /** How many entries one read takes from each stream at most. Default 100. */
  readonly readBatchSize?: number;
  /**
   * How many streams one blocking read covers at most; past it the bus opens another reader
   * connection. Redis walks every key of a blocked read when an entry wakes it, so a read over
   * thousands of streams (a host's sleeping agents) would make each publish cost milliseconds of
   * Redis time. Default 256.
   */
  readonly maxStreamsPerRead?: number;
  /**
   * How many messages one subscription holds in memory for its handler at most. A subscription
   * whose handler falls this far behind stops taking entries and leaves its stream's entries in
   * Redis until half of them are handled, then reads on from where it stopped: a slow agent costs
   * its host a bounded amount of memory and never slows the other subscriptions. Default 1000.
   */
  readonly maxQueuedPerSubscription?: number;
  /**
   * How long a command (publish, the start of a subscription) may wait for its reply before it
   * fails with `unavailable`, in milliseconds; also how much longer than `blockMs` a blocking read
   * may go unanswered before the reader drops the connection and reconnects. A publish that timed
   * out may still have been applied. Default 5000.
   */
  readonly commandTimeoutMs?: number;
  /** How long to wait for a TCP (and TLS) connection, in milliseconds. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * The longest delay between reconnection attempts, in milliseconds; attempts start at 50 ms and
   * back off to it. Both connections keep reconnecting until the bus is closed. Default 2000.
   */
  readonly maxReconnectDelayMs?: number;
  /**
   * Called when a handler throws and its subscription has no `onError`. Default: one line on
   * stderr naming the guild, topic and message id.
   */
  readonly onHandlerError?: (error: unknown, message: Message, subscription: Subscription) => void;
  /**
   * Called with what the bus recovered from by itself, or could not: a malformed stream entry
   * skipped, the reader losing or regaining its connection, a stream read again from its start
   * after Redis lost it, entries trimmed before a subscription without `onTrimmed` read them.
   * Default: one line on stderr each.
   */
  readonly onWarning?: (warning: RedisBusWarning) => void;
  /**
   * More ioredis options, e.g. `{ tls: { ca } }` for a private CA with `rediss://`. Applied over
   * the bus's own connection settings, so overriding `enableOfflineQueue`, `maxRetriesPerRequest`
   * or `retryStrategy` changes the failure behaviour described in the README.
   */
  readonly redis?: RedisOptions;
}

/** Bus options with every default filled in. */
export interface ResolvedRedisBusOptions {
  readonly url: string;
  readonly prefix: string;
  readonly maxLenPerTopic: number;
  readonly trimAboveEntries: number;
  readonly tombstoneTtlMs: number;
  readonly maxPayloadBytes: number;
  readonly blockMs: number;
  readonly readBatchSize: number;
  readonly maxStreamsPerRead: number;
  readonly maxQueuedPerSubscription: number;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxReconnectDelayMs: number;
  readonly onHandlerError: (error: unknown, message: Message, subscription: Subscription) => void;
  readonly onWarning: (warning: RedisBusWarning) => void;
  readonly redis: RedisOptions;
}

/** Upper bound for durations: a day. Anything longer is a unit mistake. */
const MAX_DURATION_MS = 86_400_000;
/** Upper bound for a tombstone's life: 30 days. */
const MAX_TOMBSTONE_TTL_MS = 30 * MAX_DURATION_MS;
/** Upper bound for stream lengths. */
const MAX_ENTRIES = 1_000_000_000;

function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", message);
}

function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
  unit: string,
): number {
  return checkWholeNumber(`RedisBus: option ${name}`, value, { min, max, unit });
}

function checkFunction<T>(name: string, value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== "function") {
    throw invalid(`RedisBus: option ${name} must be a function, not ${typeof value}`);
  }
  return value as T;
}

function reportHandlerError(error: unknown, message: Message, subscription: Subscription): void {
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(
    `[guildhall RedisBus] handler of guild "${subscription.guildId}" topic "${subscription.topic}" failed on message ${message.id}: ${reason}`,
  );
}

function reportWarning(warning: RedisBusWarning): void {
  console.error(`[guildhall RedisBus] ${warning.message}`);
}

/** Checks RedisBus options and fills the defaults. */
export function resolveRedisBusOptions(options: RedisBusOptions): ResolvedRedisBusOptions {
  if (typeof options !== "object" || (options as unknown) === null) {
    throw invalid('RedisBus needs options: new RedisBus({ url: "redis://host:6379" })');
  }
  const url: unknown = options.url;
  if (typeof url !== "string" || !/^rediss?:\/\/[^/]/.test(url)) {
    throw invalid(
      `RedisBus: the Redis URL ${url === undefined ? "is missing" : "is invalid"}: expected ` +
        '"redis://[user:password@]host:port[/db]" or "rediss://…" for TLS. ' +
        "Set GUILDHALL_BUS_URL or GUILDHALL_REDIS_URL (or REDIS_URL).",
    );
  }
  const prefix: unknown = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== "string" || prefix.length > 64 || /[\s{}]/.test(prefix)) {
    throw invalid(
      `RedisBus key prefix ${JSON.stringify(prefix)} is invalid: it must be a string of at most 64 characters without whitespace or braces (each bus key carries its guild's hash tag)`,
    );
  }
  const ms = (name: string, value: number): number =>
    checkInteger(name, value, 1, MAX_DURATION_MS, "milliseconds");
  return {
    url,
    prefix,
    maxLenPerTopic: checkInteger(
      "maxLenPerTopic",
      options.maxLenPerTopic ?? DEFAULT_MAX_LEN_PER_TOPIC,
      1,
      MAX_ENTRIES,
      "messages",
    ),
    trimAboveEntries: checkInteger(
      "trimAboveEntries",
      options.trimAboveEntries ?? DEFAULT_TRIM_ABOVE_ENTRIES,
      1,
      MAX_ENTRIES,
      "messages",
    ),
    tombstoneTtlMs: checkInteger(
      "tombstoneTtlMs",
      options.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS,
      1,
      MAX_TOMBSTONE_TTL_MS,
      "milliseconds",
    ),
    maxPayloadBytes: checkInteger(
      "maxPayloadBytes",
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      256,
      512 * 1_048_576,
      "bytes",
    ),
    blockMs: ms("blockMs", options.blockMs ?? DEFAULT_BLOCK_MS),
    readBatchSize: checkInteger(
      "readBatchSize",
      options.readBatchSize ?? DEFAULT_READ_BATCH_SIZE,
      1,
      100_000,
      "entries",
    ),
    maxStreamsPerRead: checkInteger(
      "maxStreamsPerRead",
      options.maxStreamsPerRead ?? DEFAULT_MAX_STREAMS_PER_READ,
      1,
      1_000_000,
      "streams",
    ),
    maxQueuedPerSubscription: checkInteger(
      "maxQueuedPerSubscription",
      options.maxQueuedPerSubscription ?? DEFAULT_MAX_QUEUED_PER_SUBSCRIPTION,
      1,
      10_000_000,
      "messages",
    ),
    commandTimeoutMs: ms(
      "commandTimeoutMs",
      options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    ),
    connectTimeoutMs: ms(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ),
    maxReconnectDelayMs: ms(
      "maxReconnectDelayMs",
      options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS,
    ),
    onHandlerError: checkFunction("onHandlerError", options.onHandlerError, reportHandlerError),
    onWarning: checkFunction("onWarning", options.onWarning, reportWarning),
    redis: options.redis ?? {},
  };
}

/**
 * The ioredis options of the bus's connections, passed alongside the URL (which wins for host,
 * port, credentials, db and TLS).
 *
 * Failure behaviour: commands fail fast instead of queueing while Redis is away, and both
 * connections come back by themselves.
 * - `lazyConnect`: the reader connects only once something subscribes, so a publish-only bus
 *   holds one connection.
 * - `maxRetriesPerRequest: 0`: when a connection drops, in-flight commands (a publish, the
 *   blocking read) fail at once rather than wait for later attempts.
 * - `autoResendUnfulfilledCommands: false`: a publish whose reply was lost is never replayed behind
 *   the caller's back, and a blocking read is never replayed with a cursor the reader has not
 *   checked against the (possibly restarted) server.
 * - `retryStrategy`: reconnect forever, backing off from 50 ms to `maxReconnectDelayMs`.
 * The command connection adds `commandTimeout`, so a hung server fails commands instead of
 * stalling them; the reader has no command timeout (its read blocks on purpose) and is watched by
 * the reader itself instead.
 */
export function ioredisOptions(
  resolved: ResolvedRedisBusOptions,
  role: "commands" | "reader",
): RedisOptions {
  const { maxReconnectDelayMs } = resolved;
  const options: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: resolved.connectTimeoutMs,
    // Names show in CLIENT LIST which deployment (prefix) a connection belongs to.
    connectionName: `${role === "commands" ? "guildhall-bus" : "guildhall-bus-reader"}:${resolved.prefix.replace(/[^!-~]/g, "?")}`,
    retryStrategy: (attempt: number) =>
      Math.min(50 * 2 ** Math.min(attempt - 1, 10), maxReconnectDelayMs),
  };
  if (role === "commands") options.commandTimeout = resolved.commandTimeoutMs;
  return { ...options, ...resolved.redis };
}
