// What the commands that drive a Redis-backed cluster share: the flags that say where it is and
// how to reach its hosts (`--redis`, `--key-prefix`, `--token`, the TLS flags), and a connection
// to its location registry that fails early, with a message that says what to check, when Redis
// cannot be reached.
import { errorMessage } from "@guildhall/core";
import { HostClients, type ClusterTlsOptions } from "@guildhall/engine";
import { RedisLocationRegistry } from "@guildhall/registry";
import type { Command } from "commander";
import { addClientTlsOptions, resolveClientTls, type ClientTlsFlags } from "./client-tls.js";
import { CliError, ExitCode } from "./exit-codes.js";
import { pick, type Env } from "./settings.js";

/** The flags every cluster command takes, as commander parses them. */
export interface ClusterFlags extends ClientTlsFlags {
  readonly redis?: string;
  readonly keyPrefix?: string;
  readonly token?: string;
}

/** A connection to a cluster's registry, and clients of its hosts. */
export interface ClusterConnection {
  readonly registry: RedisLocationRegistry;
  /** The Redis URL without its password, for messages. */
  readonly redisLabel: string;
  /**
   * How to reach the hosts, as ClusterExecutionEngine options: the bearer token and TLS the flags
   * ask for (absent when not asked for), so every engine a command builds dials hosts alike.
   */
  readonly hostAccess: { readonly token?: string; readonly tls?: ClusterTlsOptions };
  /**
   * Where the hosts' bus, and so their agents' durable state, lives: `GUILDHALL_BUS_URL` when
   * set (as for `guildhall host`), else the registry's Redis; and its key prefix.
   */
  readonly bus: { readonly url: string; readonly prefix?: string };
  readonly hosts: HostClients;
  /** Closes the registry connection and every host connection. */
  close(): Promise<void>;
}

/** Adds `--redis`, `--key-prefix`, `--token` and the TLS flags to `command`. */
export function addClusterOptions(command: Command): Command {
  const withCluster = command
    .option(
      "--redis <url>",
      "Redis of the cluster's location registry [GUILDHALL_REDIS_URL, REDIS_URL]",
    )
    .option(
      "--key-prefix <prefix>",
      "Redis key prefix the hosts use [GUILDHALL_KEY_PREFIX] (default: gh:)",
    )
    .option("--token <token>", "bearer token of the hosts; prefer the variable [GUILDHALL_TOKEN]");
  return addClientTlsOptions(withCluster);
}

/** `redis://user:secret@host:6379` as `redis://user:***@host:6379`. */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, "$1***@");
}

/**
 * Connects to the registry the flags (or the environment) name and checks that Redis answers.
 *
 * @throws CliError usage without a Redis URL; unreachable when Redis does not answer
 */
export async function connectCluster(
  flags: ClusterFlags,
  env: Env = process.env,
): Promise<ClusterConnection> {
  const url = pick(flags.redis, env, "GUILDHALL_REDIS_URL", "REDIS_URL");
  if (url === undefined) {
    throw new CliError(
      "no cluster given: pass --redis redis://<host>:6379 (or set GUILDHALL_REDIS_URL) naming the Redis your agent hosts use",
      ExitCode.usage,
    );
  }
  const prefix = pick(flags.keyPrefix, env, "GUILDHALL_KEY_PREFIX");
  const token = pick(flags.token, env, "GUILDHALL_TOKEN");
  const tls = resolveClientTls(flags, env);
  const redisLabel = redact(url);
  let registry: RedisLocationRegistry;
  try {
    registry = new RedisLocationRegistry({
      url,
      ...(prefix !== undefined && { prefix }),
      // A command line should say "unreachable" in seconds, not wait out a server's patience.
      connectTimeoutMs: 3_000,
      commandTimeoutMs: 3_000,
    });
  } catch (error) {
    throw new CliError(`--redis ${redisLabel}: ${errorMessage(error)}`, ExitCode.usage);
  }
  try {
    await registry.listHosts();
  } catch (error) {
    await registry.close().catch(() => undefined);
    throw new CliError(
      `cannot reach Redis at ${redisLabel} (${errorMessage(error)}): check that redis-server runs there and that this machine can reach it (the URL comes from --redis, GUILDHALL_REDIS_URL or REDIS_URL)`,
      ExitCode.unreachable,
    );
  }
  const hosts = new HostClients({ token, tls });
  return {
    registry,
    redisLabel,
    hostAccess: {
      ...(token !== undefined && { token }),
      ...(tls !== undefined && { tls }),
    },
    bus: {
      url: pick(undefined, env, "GUILDHALL_BUS_URL") ?? url,
      ...(prefix !== undefined && { prefix }),
    },
    hosts,
    async close() {
      hosts.close();
      await registry.close().catch(() => undefined);
    },
  };
}
