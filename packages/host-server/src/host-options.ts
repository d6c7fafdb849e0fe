// The options of createAgentHost, their defaults, and the one function that checks them and fills
// the defaults in (as connect-node's validateNodeTransportOptions does for transports).
import { networkInterfaces } from "node:os";
import {
  DEFAULT_MAX_STATE_BYTES,
  MAX_HIBERNATE_AFTER_MS,
  GuildhallError,
  RestartPolicy,
  checkPem,
  checkWholeNumber,
  isDurableBus,
  type DurableMessageBus,
} from "@guildhall/core";
import type { LocationRegistry } from "@guildhall/registry";
import type { Logger, LevelWithSilent } from "pino";

/** TLS material of the host, PEM-encoded. */
export interface AgentHostTlsOptions {
  /** The server certificate chain (PEM). */
  readonly cert: string | Buffer;
  /** The private key of `cert` (PEM). */
  readonly key: string | Buffer;
  /**
   * CA certificates (PEM) that sign client certificates. Giving one turns on mutual TLS: clients
   * must present a certificate it signed. Default: none (server-side TLS only).
   */
  readonly ca?: string | Buffer;
  /**
   * Whether clients must present a certificate signed by `ca`; the TLS handshake of any other
   * client fails. Default: true when `ca` is given, else false.
   */
  readonly requireClientCert?: boolean;
}

/** The default of {@link AgentHostOptions.drainTimeoutMs}, in milliseconds. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** Log levels of the host's JSON log (pino's, and `silent`). */
export type HostLogLevel = LevelWithSilent;

/** Options of {@link createAgentHost}. Every field is optional. */
export interface AgentHostOptions {
  /** The TCP port of the agent host API. `0` picks a free port (read it from `host.port`). Default 50051. */
  readonly port?: number;
  /**
   * The interface to listen on: `"0.0.0.0"` (every IPv4 interface), `"::"`, or one address.
   * Default `"127.0.0.1"`, so an embedded host is not reachable from other machines unless asked;
   * `guildhall host` listens on `"0.0.0.0"`.
   */
  readonly host?: string;
  /**
   * The address engines dial and the registry records, e.g. `"10.0.0.7:50051"` (in Kubernetes,
   * `$(POD_IP):50051`). Opaque: it is never split on `:`. Default: `<host>:<port>` (IPv6 in
   * brackets); for a wildcard `host`, the first non-internal IPv4 address of the machine (else
   * `127.0.0.1`) with the bound port.
   */
  readonly advertiseAddress?: string;
  /**
   * Where the host registers itself and its agents. Default: a private `MemoryLocationRegistry`,
   * which only suits a standalone host nobody else looks up. A registry you pass is not closed
   * by the host.
   */
  readonly registry?: LocationRegistry;
  /**
   * The bus the host publishes and subscribes on for all its agents, and where their durable
   * state, read positions and fences live (a `RedisBus`, or a `MemoryBus`). Default: a private
   * `MemoryBus` (agents of this host talk only to each other). A bus you pass is not closed by
   * the host.
   */
  readonly bus?: DurableMessageBus;
  /**
   * The largest state an agent may keep, in bytes of its JSON; a handler that leaves a larger
   * one is treated as one that threw. Default 1,048,576 (1 MiB). Env `GUILDHALL_MAX_STATE_BYTES`.
   */
  readonly maxStateBytes?: number;
  /**
   * Agent modules the host may load: package names (matched exactly), absolute directories or
   * `file:` URLs (everything inside), or single files. Anything else is refused with
   * PERMISSION_DENIED before a process starts. Default: none, so every CreateAgent is refused
   * until you list something.
   */
  readonly agentModules?: readonly string[];
  /**
   * Agents declared on the host at most, asleep or awake; CreateAgent beyond it fails with
   * RESOURCE_EXHAUSTED. Placement weighs hosts by it. Default 20000.
   */
  readonly maxAgents?: number;
  /**
   * Agent processes at once. An agent that must start (created, or woken by a message or timer)
   * when this many run puts the least recently active awake agent to sleep first, rather than
   * being refused. Default 100, or `maxAgents` when smaller.
   */
  readonly maxProcesses?: number;
  /**
   * How long an agent whose spec has no `hibernateAfterMs` may be idle (no message handled, no
   * timer due sooner) before it sleeps: its state is committed, its process exits, and its next
   * message or timer starts it again. `0` never. Default 0. Env `GUILDHALL_HIBERNATE_AFTER_MS`.
   */
  readonly hibernateAfterMs?: number;
  /** Milliseconds between two registry heartbeats (one round trip for all agents). Default 500. */
  readonly heartbeatMs?: number;
  /**
   * The host's lease in the registry, in milliseconds: a host silent this long counts as dead and
   * its agents as gone. Must exceed `heartbeatMs`. Default 3000 (six heartbeats; three
   * heartbeats if that is longer), see docs/decisions/0004-failover-timing.md. Agent locations
   * never outlive it.
   */
  readonly leaseMs?: number;
  /** How long a stopping agent gets after SIGTERM (its `onStop`) before SIGKILL, in milliseconds. Default 10000. */
  readonly stopTimeoutMs?: number;
  /**
   * How long a drain (`drain()`, `DrainHost`, `guildhall host` on SIGTERM) waits for an engine's
   * reconciler to move the host's agents to other hosts, in milliseconds, counted from the moment
   * the host started draining. The agents still here then are stopped (with `stopAgents`), their
   * durable state kept for their next placement. A drain does not wait while no reconciler is
   * active. Default 30000. Env `GUILDHALL_DRAIN_TIMEOUT_MS`.
   */
  readonly drainTimeoutMs?: number;
  /**
   * How long `close()` lets in-flight RPCs and streams finish after the agents stopped, before it
   * cuts the connections, in milliseconds. Default 2000.
   */
  readonly closeGraceMs?: number;
  /** How long an agent may take from spawn to ready (module load, `onStart`), in milliseconds. Default 30000. */
  readonly startTimeoutMs?: number;
  /** Idle agent runner processes kept started so CreateAgent skips a Node.js start-up. `0` disables. Default 2. */
  readonly warmPoolSize?: number;
  /** Restart policy of agents whose spec has none. Default `{ mode: "on-failure", maxRestarts: 5, backoffMs: 500 }`. */
  readonly defaultRestartPolicy?: RestartPolicy;
  /**
   * A bearer token every RPC must carry (`authorization: Bearer <token>`), except
   * `grpc.health.v1.Health` so probes need no secret. Default: none (no authentication).
   */
  readonly token?: string;
  /** Serve over TLS (and mutual TLS when `ca` is given). Default: plaintext HTTP/2 (h2c). */
  readonly tls?: AgentHostTlsOptions;
  /** The largest request message accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. Default 4194304 (4 MiB). */
  readonly maxRequestBytes?: number;
  /** The port of the Prometheus `/metrics` endpoint; `0` picks a free one; `false` disables it. Default 9464. */
  readonly metricsPort?: number | false;
  /** The interface the metrics endpoint listens on. Default: `host`. */
  readonly metricsHost?: string;
  /** Also export prom-client's default process metrics (`process_*`, `nodejs_*`). Default true. */
  readonly processMetrics?: boolean;
  /** A pino logger to write to (the host adds `host`, `agent_id`, `guild_id` fields). Default: JSON lines on stdout. */
  readonly logger?: Logger;
  /** The level of the default logger. Default: `LOG_LEVEL` from the environment, else `"info"`. */
  readonly logLevel?: HostLogLevel;
}

/** Options with every default filled in. */
export interface ResolvedAgentHostOptions {
  readonly port: number;
  readonly host: string;
  readonly advertiseAddress: string | undefined;
  readonly registry: LocationRegistry | undefined;
  readonly bus: DurableMessageBus | undefined;
  readonly maxStateBytes: number;
  readonly agentModules: readonly string[];
  readonly maxAgents: number;
  readonly maxProcesses: number;
  readonly hibernateAfterMs: number;
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  readonly stopTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly closeGraceMs: number;
  readonly startTimeoutMs: number;
  readonly warmPoolSize: number;
  readonly defaultRestartPolicy: RestartPolicy | undefined;
  readonly token: string | undefined;
  readonly tls: AgentHostTlsOptions | undefined;
  readonly maxRequestBytes: number;
  readonly metricsPort: number | false;
  readonly metricsHost: string;
  readonly processMetrics: boolean;
  readonly logger: Logger | undefined;
  readonly logLevel: HostLogLevel;
}

/** The default of {@link AgentHostOptions.maxAgents}: agents that sleep cost a host little. */
const DEFAULT_MAX_AGENTS = 20_000;

/** The default of {@link AgentHostOptions.maxProcesses}. */
const DEFAULT_MAX_PROCESSES = 100;

const LOG_LEVELS: readonly HostLogLevel[] = [
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
];

function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", `createAgentHost: ${message}`);
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  return checkWholeNumber(`createAgentHost: option ${name}`, value, { min, max });
}

function port(name: string, value: unknown, fallback: number): number {
  return integer(name, value, fallback, 0, 65_535);
}

function text(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw invalid(`option ${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkTls(tls: AgentHostTlsOptions | undefined): AgentHostTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== "object" || (tls as unknown) === null) {
    throw invalid("option tls must be { cert, key, ca?, requireClientCert? }");
  }
  checkPem("createAgentHost: option tls.cert", tls.cert);
  checkPem("createAgentHost: option tls.key", tls.key);
  if (tls.ca !== undefined) checkPem("createAgentHost: option tls.ca", tls.ca);
  if (tls.requireClientCert !== undefined && typeof tls.requireClientCert !== "boolean") {
    throw invalid("option tls.requireClientCert must be a boolean");
  }
  if (tls.requireClientCert === true && tls.ca === undefined) {
    throw invalid(
      "option tls.requireClientCert needs tls.ca, the CA that signs client certificates",
    );
  }
  return tls;
}

function logLevel(value: unknown): HostLogLevel {
  const level = value ?? process.env["LOG_LEVEL"] ?? "info";
  if (typeof level !== "string" || !LOG_LEVELS.includes(level.toLowerCase() as HostLogLevel)) {
    throw invalid(
      `log level ${JSON.stringify(level)} is unknown; use one of ${LOG_LEVELS.join(", ")} (option logLevel or LOG_LEVEL)`,
    );
  }
  return level.toLowerCase() as HostLogLevel;
}

/**
 * Checks `options` and fills in the defaults documented on {@link AgentHostOptions}.
 *
 * @throws GuildhallError `invalid-argument` naming the bad option and what it must be
 */
export function resolveAgentHostOptions(options: AgentHostOptions = {}): ResolvedAgentHostOptions {
  if (typeof options !== "object" || (options as unknown) === null) {
    throw invalid("options must be an object, e.g. createAgentHost({ agentModules: [...] })");
  }
  const agentModules: readonly unknown[] = options.agentModules ?? [];
  if (!Array.isArray(agentModules)) {
    throw invalid(
      "option agentModules must be an array of package names, absolute directories or file URLs",
    );
  }
  for (const entry of agentModules) {
    if (typeof entry !== "string" || entry.trim() === "") {
      throw invalid("option agentModules must hold non-empty strings");
    }
    if (entry.startsWith(".")) {
      throw invalid(
        `option agentModules has the relative path "${entry}"; use an absolute directory or a file URL`,
      );
    }
  }
  const heartbeatMs = integer("heartbeatMs", options.heartbeatMs, 500, 10, 3_600_000);
  const leaseMs = integer(
    "leaseMs",
    options.leaseMs,
    Math.max(3_000, heartbeatMs * 3),
    20,
    86_400_000,
  );
  if (leaseMs <= heartbeatMs) {
    throw invalid(
      `leaseMs (${leaseMs}) must be longer than heartbeatMs (${heartbeatMs}), or the host's lease lapses between heartbeats; use about three heartbeats`,
    );
  }
  let defaultRestartPolicy: RestartPolicy | undefined;
  if (options.defaultRestartPolicy !== undefined) {
    const parsed = RestartPolicy.safeParse(options.defaultRestartPolicy);
    if (!parsed.success) {
      throw invalid(
        `option defaultRestartPolicy is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      );
    }
    defaultRestartPolicy = parsed.data;
  }
  const token = text("token", options.token);
  const host = text("host", options.host) ?? "127.0.0.1";
  const metricsPort =
    options.metricsPort === false ? false : port("metricsPort", options.metricsPort, 9_464);
  const registry = options.registry;
  if (registry !== undefined && typeof registry.heartbeat !== "function") {
    throw invalid(
      "option registry must be a LocationRegistry (RedisLocationRegistry, MemoryLocationRegistry)",
    );
  }
  const bus = options.bus;
  if (bus !== undefined && (typeof bus.subscribe !== "function" || !isDurableBus(bus))) {
    throw invalid(
      "option bus must be a bus that keeps agents durable (RedisBus, MemoryBus), with claimAgent, commitAgent and deleteAgent",
    );
  }
  const maxAgents = integer("maxAgents", options.maxAgents, DEFAULT_MAX_AGENTS, 1, 1_000_000);
  return {
    port: port("port", options.port, 50_051),
    host,
    advertiseAddress: text("advertiseAddress", options.advertiseAddress),
    registry,
    bus,
    agentModules: [...(agentModules as readonly string[])],
    maxAgents,
    maxProcesses: integer(
      "maxProcesses",
      options.maxProcesses,
      Math.min(DEFAULT_MAX_PROCESSES, maxAgents),
      1,
      100_000,
    ),
    hibernateAfterMs: integer(
      "hibernateAfterMs",
      options.hibernateAfterMs,
      0,
      0,
      MAX_HIBERNATE_AFTER_MS,
    ),
    maxStateBytes: integer(
      "maxStateBytes",
      options.maxStateBytes,
      DEFAULT_MAX_STATE_BYTES,
      2,
      64 * 1024 * 1024,
    ),
    heartbeatMs,
    leaseMs,
    stopTimeoutMs: integer("stopTimeoutMs", options.stopTimeoutMs, 10_000, 0, 3_600_000),
    drainTimeoutMs: integer(
      "drainTimeoutMs",
      options.drainTimeoutMs,
      DEFAULT_DRAIN_TIMEOUT_MS,
      0,
      3_600_000,
    ),
    closeGraceMs: integer("closeGraceMs", options.closeGraceMs, 2_000, 0, 3_600_000),
    startTimeoutMs: integer("startTimeoutMs", options.startTimeoutMs, 30_000, 1, 3_600_000),
    warmPoolSize: integer("warmPoolSize", options.warmPoolSize, 2, 0, 1_000),
    defaultRestartPolicy,
    token,
    tls: checkTls(options.tls),
    maxRequestBytes: integer(
      "maxRequestBytes",
      options.maxRequestBytes,
      4_194_304,
      1_024,
      2 ** 31 - 1,
    ),
    metricsPort,
    metricsHost: text("metricsHost", options.metricsHost) ?? host,
    processMetrics: options.processMetrics ?? true,
    logger: options.logger,
    logLevel: logLevel(options.logLevel),
  };
}

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", "::0"]);

/** The address to advertise for a host bound to `host` on `port` (see {@link AgentHostOptions.advertiseAddress}). */
export function defaultAdvertiseAddress(host: string, boundPort: number): string {
  let name = host;
  if (WILDCARDS.has(host)) {
    name = "127.0.0.1";
    for (const list of Object.values(networkInterfaces())) {
      const found = list?.find((entry) => entry.family === "IPv4" && !entry.internal);
      if (found !== undefined) {
        name = found.address;
        break;
      }
    }
  }
  return name.includes(":") && !name.startsWith("[")
    ? `[${name}]:${boundPort}`
    : `${name}:${boundPort}`;
}
