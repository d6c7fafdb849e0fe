// The options of both registries, their defaults, and the one function per registry that checks
// them and fills the defaults in.
import type { RedisOptions } from "ioredis";
import { GuildhallError } from "@guildhall/core";
import { checkDurationMs, type HostDefaults } from "./validate.js";

/** Default key prefix. */
export const DEFAULT_PREFIX = "gh:";
/**
 * Default host lease: six heartbeats at the hosts' 500 ms default, so a dead host's agents are
 * known dead within 3 s while a host that misses heartbeats for up to 2.5 s keeps them
 * (docs/decisions/0004-failover-timing.md).
 */
export const DEFAULT_HOST_LEASE_MS = 3_000;
/** Default time a command may take, queued or in flight, before it fails. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/**
 * The command timeout a host's registry should use: shorter than the slack of the default host
 * lease (3000 ms lease, 500 ms heartbeats), so a heartbeat hung on a stalled connection fails and
 * is retried while the lease still runs. `guildhall host` uses it.
 */
export const HOST_COMMAND_TIMEOUT_MS = 2_000;
/** Default time to establish a connection. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Default cap on the delay between reconnection attempts. */
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 2_000;

/** Options of {@link MemoryLocationRegistry}. */
export interface MemoryLocationRegistryOptions {
  /** The lease of hosts registered without `leaseMs`, in milliseconds. Default 3000. */
  readonly hostLeaseMs?: number;
  /**
   * The agent location TTL of hosts registered without `agentTtlMs`, in milliseconds; capped at
   * each host's lease. Default: the host's lease.
   */
  readonly agentTtlMs?: number;
}

/** Options of {@link RedisLocationRegistry}. */
export interface RedisLocationRegistryOptions {
  /**
   * The Redis server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS.
   * Hosts read it from `GUILDHALL_REDIS_URL` (or `REDIS_URL`).
   */
  readonly url: string;
  /** Prepended to every key, so several deployments can share one Redis. Default `"gh:"`. */
  readonly prefix?: string;
  /** The lease of hosts registered without `leaseMs`, in milliseconds. Default 3000. */
  readonly hostLeaseMs?: number;
  /**
   * The agent location TTL of hosts registered without `agentTtlMs`, in milliseconds; capped at
   * each host's lease. Default: the host's lease.
   */
  readonly agentTtlMs?: number;
  /**
   * How long one operation may wait, whether queued while connecting or sent and unanswered,
   * before it fails with `unavailable`, in milliseconds. Default 5000. A host's registry should
   * use less than its lease's slack (lease less heartbeat interval; `HOST_COMMAND_TIMEOUT_MS`,
   * 2000, for the default lease), so a hung heartbeat fails and is retried before the lease
   * lapses. A write that timed out may still have been applied.
   */
  readonly commandTimeoutMs?: number;
  /** How long to wait for a TCP (and TLS) connection, in milliseconds. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * The longest delay between reconnection attempts, in milliseconds; attempts start at 50 ms and
   * back off to it. The client never stops reconnecting until closed. Default 2000.
   */
  readonly maxReconnectDelayMs?: number;
  /**
   * More ioredis options, e.g. `{ tls: { ca } }` for a private CA with `rediss://`. Applied over
   * the registry's own connection settings, so overriding `enableOfflineQueue`,
   * `maxRetriesPerRequest` or `retryStrategy` changes the failure behaviour described in the
   * README. Credentials and TLS given in the URL are kept.
   */
  readonly redis?: RedisOptions;
}

/** Registry options with every default filled in. */
export interface ResolvedRedisOptions extends HostDefaults {
  readonly url: string;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxReconnectDelayMs: number;
  readonly redis: RedisOptions;
}

function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", message);
}

/** Checks memory registry options and fills the defaults. */
export function resolveMemoryOptions(options: MemoryLocationRegistryOptions = {}): HostDefaults {
  return {
    hostLeaseMs: checkDurationMs("hostLeaseMs", options.hostLeaseMs ?? DEFAULT_HOST_LEASE_MS),
    agentTtlMs:
      options.agentTtlMs === undefined
        ? undefined
        : checkDurationMs("agentTtlMs", options.agentTtlMs),
  };
}

/** Checks Redis registry options and fills the defaults. */
export function resolveRedisOptions(options: RedisLocationRegistryOptions): ResolvedRedisOptions {
  if (typeof options !== "object" || (options as unknown) === null) {
    throw invalid(
      'RedisLocationRegistry needs options: new RedisLocationRegistry({ url: "redis://…" })',
    );
  }
  const url: unknown = options.url;
  if (typeof url !== "string" || !/^rediss?:\/\/[^/]/.test(url)) {
    throw invalid(
      `Redis URL ${url === undefined ? "is missing" : "is invalid"}: expected ` +
        '"redis://[user:password@]host:port[/db]" or "rediss://…" for TLS. ' +
        "Set GUILDHALL_REDIS_URL (or REDIS_URL).",
    );
  }
  const prefix: unknown = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== "string" || prefix.length > 64 || /\s/.test(prefix)) {
    throw invalid(
      `key prefix ${JSON.stringify(prefix)} is invalid: it must be a string of at most 64 characters without whitespace`,
    );
  }
  return {
    url,
    prefix,
    hostLeaseMs: checkDurationMs("hostLeaseMs", options.hostLeaseMs ?? DEFAULT_HOST_LEASE_MS),
    agentTtlMs:
      options.agentTtlMs === undefined
        ? undefined
        : checkDurationMs("agentTtlMs", options.agentTtlMs),
    commandTimeoutMs: checkDurationMs(
      "commandTimeoutMs",
      options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    ),
    connectTimeoutMs: checkDurationMs(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ),
    maxReconnectDelayMs: checkDurationMs(
      "maxReconnectDelayMs",
      options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS,
    ),
    redis: options.redis ?? {},
  };
}

/**
 * The ioredis options a registry connects with, to be passed alongside the URL (which wins for
 * host, port, credentials, db and TLS).
 *
 * Failure behaviour: commands fail fast instead of queueing forever, while the connection keeps
 * coming back by itself.
 * - `enableOfflineQueue: true`: a command issued while connecting waits for the connection
 *   (a registry used right after construction works), bounded by `commandTimeout`.
 * - `maxRetriesPerRequest: 0`: when a connection drops or an attempt fails, queued and in-flight
 *   commands fail at once rather than wait for later attempts.
 * - `autoResendUnfulfilledCommands: false`: a write whose reply was lost is never replayed behind
 *   the caller's back; the caller sees the failure and decides.
 * - `commandTimeout`: a hung server (paused, partitioned) fails commands instead of stalling.
 * - `retryStrategy`: reconnect forever, backing off from 50 ms to `maxReconnectDelayMs`.
 */
export function ioredisOptions(resolved: ResolvedRedisOptions): RedisOptions {
  const { maxReconnectDelayMs } = resolved;
  return {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: resolved.commandTimeoutMs,
    connectTimeout: resolved.connectTimeoutMs,
    retryStrategy: (attempt: number) =>
      Math.min(50 * 2 ** Math.min(attempt - 1, 10), maxReconnectDelayMs),
    ...resolved.redis,
  };
}
