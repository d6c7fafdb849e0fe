// `guildhall host`: runs one agent host until SIGTERM or SIGINT, then shuts it down gracefully and
// exits 0: it stops taking agents, hands them to other hosts while an engine's reconciler moves
// them (up to its drain timeout), stops those left and deregisters. It is the container entrypoint.
import { errorMessage } from "@guildhall/core";
import type { DurableMessageBus } from "@guildhall/core";
import type { AgentHost } from "@guildhall/host-server";
import type { LocationRegistry } from "@guildhall/registry";
import type { Command } from "commander";
import { stopTracing } from "../tracing.js";
import {
  resolveHostCommandConfig,
  type HostCommandConfig,
  type HostCommandFlags,
} from "./host-config.js";

/**
 * Extra time past the drain timeout and the agents' stop timeout that a shutdown may take before
 * the process gives up.
 */
const SHUTDOWN_SLACK_MS = 10_000;

/** A host started by {@link runHost}, with what the command made for it. */
export interface RunningHost {
  readonly host: AgentHost;
  /**
   * The longest a graceful shutdown (drain, then close) may take before the command gives up:
   * the host's drain timeout and agent stop timeout, plus slack for closing its servers.
   */
  readonly shutdownLimitMs: number;
  /** Stops the host and closes its registry and bus connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a host from a resolved configuration: Redis registry and bus (or in-memory ones with
 * `--memory`), then `createAgentHost` and `start()`. On failure the connections are closed again.
 */
export async function runHost(config: HostCommandConfig): Promise<RunningHost> {
  // Loaded here rather than at the top, so the other commands of the program start faster.
  const [
    { RedisBus },
    { createAgentHost, createHostLogger, resolveAgentHostOptions },
    { RedisLocationRegistry, HOST_COMMAND_TIMEOUT_MS },
  ] = await Promise.all([
    import("@guildhall/bus-redis"),
    import("@guildhall/host-server"),
    import("@guildhall/registry"),
  ]);
  const logger = createHostLogger(config.logLevel);
  let registry: LocationRegistry | undefined;
  let bus: DurableMessageBus | undefined;
  if (config.backend.kind === "redis") {
    const prefix = config.backend.prefix;
    registry = new RedisLocationRegistry({
      url: config.backend.registryUrl,
      ...(prefix !== undefined && { prefix }),
      // A hung heartbeat must fail, and be retried, while the host's lease still runs.
      commandTimeoutMs: HOST_COMMAND_TIMEOUT_MS,
    });
    bus = new RedisBus({
      url: config.backend.busUrl,
      ...(prefix !== undefined && { prefix }),
      ...config.backend.bus,
    });
  }
  const host = createAgentHost({
    ...config.host,
    logger,
    ...(registry !== undefined && { registry }),
    ...(bus !== undefined && { bus }),
  });
  const closeConnections = async () => {
    await Promise.allSettled([registry?.close(), bus?.close()]);
  };
  try {
    await host.start();
  } catch (error) {
    await host.close();
    await closeConnections();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const { drainTimeoutMs, stopTimeoutMs } = resolveAgentHostOptions(config.host);
  return {
    host,
    shutdownLimitMs: drainTimeoutMs + stopTimeoutMs + SHUTDOWN_SLACK_MS,
    close() {
      closing ??= (async () => {
        await host.close();
        await closeConnections();
      })();
      return closing;
    },
  };
}

/**
 * Drains the host (its agents go to other hosts while an engine's reconciler moves them, up to
 * the drain timeout; those left are stopped, keeping their state), then closes it. A drain that
 * fails (the host never served) leaves the stopping to close().
 */
async function drainThenClose(running: RunningHost): Promise<void> {
  await running.host.drain({ stopAgents: true }).catch(() => undefined);
  await running.close();
}

/** The action of `guildhall host`: start, wait for a signal, shut down, exit. */
async function hostAction(flags: HostCommandFlags): Promise<void> {
  let config: HostCommandConfig;
  try {
    config = resolveHostCommandConfig(flags);
  } catch (error) {
    process.stderr.write(`guildhall host: ${errorMessage(error)}\n`);
    process.exit(2);
  }
  const shutdown = (running: RunningHost): void => {
    const limitMs = running.shutdownLimitMs;
    const deadline = setTimeout(() => {
      process.stderr.write(
        `guildhall host: shutdown did not finish within ${limitMs} ms; exiting\n`,
      );
      process.exit(1);
    }, limitMs);
    deadline.unref();
    const exit = (code: number) => void stopTracing().finally(() => process.exit(code));
    drainThenClose(running).then(
      () => exit(0),
      (error: unknown) => {
        process.stderr.write(`guildhall host: shutdown failed: ${errorMessage(error)}\n`);
        exit(1);
      },
    );
  };

  // Handlers go in before the host starts: it announces "serving" from inside runHost, and a
  // signal sent right after that must still mean a graceful shutdown, not Node's default exit.
  let running: RunningHost | undefined;
  let stopRequested = false;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // A second Ctrl-C means "now": the agents are killed with the host's process group.
      if (signal === "SIGINT") process.exit(130);
      return;
    }
    if (running === undefined) stopRequested = true;
    else shutdown(running);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  try {
    running = await runHost(config);
  } catch (error) {
    process.stderr.write(`guildhall host: ${errorMessage(error)}\n`);
    process.exit(1);
  }
  if (stopRequested) shutdown(running);
}

/** Adds `guildhall host` to `program`. */
export function registerHostCommand(program: Command): Command {
  return program
    .command("host")
    .description(
      "Run an agent host: serve the agent host API (gRPC, gRPC-Web, Connect) and run agents as processes until SIGTERM. " +
        "Every flag can be given as the environment variable in brackets.",
    )
    .option(
      "--port <port>",
      "port of the agent host API; 0 picks a free one [GUILDHALL_PORT] (default: 50051)",
    )
    .option("--bind <address>", "interface to listen on [GUILDHALL_BIND] (default: 0.0.0.0)")
    .option(
      "--advertise-address <host:port>",
      "address engines dial, e.g. $(POD_IP):50051 [GUILDHALL_ADVERTISE_ADDRESS] (default: first non-internal IPv4 address and the port)",
    )
    .option("--redis-url <url>", "Redis of the location registry [GUILDHALL_REDIS_URL, REDIS_URL]")
    .option(
      "--bus-url <url>",
      "Redis of the message bus [GUILDHALL_BUS_URL] (default: the registry's Redis)",
    )
    .option(
      "--key-prefix <prefix>",
      "Redis key prefix of registry and bus [GUILDHALL_KEY_PREFIX] (default: gh:)",
    )
    .option("--memory", "standalone host: in-memory registry and bus instead of Redis")
    .option(
      "--metrics-port <port>",
      "port of /metrics; 0 picks a free one [GUILDHALL_METRICS_PORT] (default: 9464)",
    )
    .option("--no-metrics", "do not serve /metrics")
    .option(
      "--max-agents <n>",
      "agents declared at most, asleep or awake [GUILDHALL_MAX_AGENTS] (default: 20000)",
    )
    .option(
      "--max-processes <n>",
      "agent processes at once; past it the least recently active agent sleeps [GUILDHALL_MAX_PROCESSES] (default: 100)",
    )
    .option(
      "--hibernate-after-ms <ms>",
      "idle time after which an agent sleeps (no process until its next message or timer), for agents whose spec does not say; 0 never [GUILDHALL_HIBERNATE_AFTER_MS] (default: 0)",
    )
    .option(
      "--max-len-per-topic <n>",
      "about how many messages the bus keeps per topic; older ones are trimmed [GUILDHALL_MAX_LEN_PER_TOPIC] (default: 10000)",
    )
    .option(
      "--max-queued-per-subscription <n>",
      "messages an agent's topic holds in the host for it at most; the rest wait in Redis [GUILDHALL_MAX_QUEUED_PER_SUBSCRIPTION] (default: 1000)",
    )
    .option(
      "--max-state-bytes <n>",
      "largest agent state, in bytes of JSON [GUILDHALL_MAX_STATE_BYTES] (default: 1048576)",
    )
    .option(
      "--heartbeat-ms <ms>",
      "registry heartbeat interval [GUILDHALL_HEARTBEAT_MS] (default: 500)",
    )
    .option(
      "--lease-ms <ms>",
      "host lease in the registry [GUILDHALL_LEASE_MS] (default: 3000, or three heartbeats if longer)",
    )
    .option(
      "--stop-timeout-ms <ms>",
      "SIGTERM to SIGKILL for each agent [GUILDHALL_STOP_TIMEOUT_MS] (default: 10000)",
    )
    .option(
      "--drain-timeout-ms <ms>",
      "on SIGTERM, how long to wait for an engine to move the agents to other hosts before stopping those left [GUILDHALL_DRAIN_TIMEOUT_MS] (default: 30000)",
    )
    .option(
      "--warm-pool-size <n>",
      "idle agent processes kept started, so a new agent only loads its module; 0 disables [GUILDHALL_WARM_POOL_SIZE] (default: 2)",
    )
    .option(
      "--agent-modules <list>",
      "comma-separated packages or absolute directories agents may be loaded from [GUILDHALL_AGENT_MODULES] (required)",
    )
    .option(
      "--token <token>",
      "bearer token every RPC must carry; prefer the variable [GUILDHALL_TOKEN]",
    )
    .option("--tls-cert <file>", "server certificate (PEM) [GUILDHALL_TLS_CERT]")
    .option("--tls-key <file>", "server key (PEM) [GUILDHALL_TLS_KEY]")
    .option("--tls-ca <file>", "CA of client certificates; turns on mutual TLS [GUILDHALL_TLS_CA]")
    .option(
      "--log-level <level>",
      "fatal, error, warn, info, debug, trace or silent [LOG_LEVEL] (default: info)",
    )
    .action(hostAction);
}
