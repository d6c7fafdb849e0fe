// The options of ClusterExecutionEngine, their defaults, and the one function that checks them and
// fills the defaults in (as connect-node's validateNodeTransportOptions does for transports).
import {
  GuildhallError,
  checkPem,
  checkWholeNumber,
  createJsonLogger,
  type AgentLogger,
  type MessageBus,
} from "@guildhall/core";
import { leastLoaded, type HostDiscovery, type PlacementStrategy } from "@guildhall/placement";
import type { LocationRegistry } from "@guildhall/registry";
import type { ClusterTlsOptions } from "./host-clients.js";
import { DEFAULT_RETRY, type ResolvedRetryOptions, type RetryOptions } from "./retry-policy.js";

/** The default deadline of one host call, and of `runAgent` as a whole, in milliseconds. */
export const DEFAULT_RPC_TIMEOUT_MS = 60_000;
/**
 * The default longest time between two reconcile passes, in milliseconds. A pass also runs as
 * soon as a host's lease lapses, so this bounds only the healing of agents lost otherwise (a host
 * restarted at the same address, a failed placement).
 */
export const DEFAULT_RECONCILE_INTERVAL_MS = 2_000;

/** The default of {@link ReconcileOptions.drainMoveConcurrency}. */
export const DEFAULT_DRAIN_MOVE_CONCURRENCY = 4;
/**
 * How soon the reconciler passes again while a draining host still has agents another host can
 * take, in milliseconds: the next few of them move then, rather than a whole interval later.
 */
export const DRAIN_PASS_DELAY_MS = 250;

/** How the engine heals agents whose host died (DESIGN section 9), and empties draining hosts (section 14). */
export interface ReconcileOptions {
  /**
   * The longest time between two passes, in milliseconds. A pass also runs as soon as the lease
   * of a host with agents lapses, so an agent of a dead host is placed again right after the
   * host's lease (3 s by default) and runs after its start-up; agents lost while their host
   * lives on (it restarted, or lost them) are placed again within about one interval.
   * Default 2000.
   */
  readonly intervalMs?: number;
  /**
   * The reconciler lease, in milliseconds: one engine per registry reconciles at a time, and
   * another takes over this long after it stopped renewing. Must exceed `intervalMs`.
   * Default three intervals, at least 5000 (6000 with the default interval).
   */
  readonly leaseMs?: number;
  /** Agents re-placed at once. Default 8. */
  readonly concurrency?: number;
  /**
   * Agents moved at once off a host that drains (SIGTERM, `DrainHost`): each pass moves up to
   * this many of them to other eligible hosts, with `moveAgent`, and passes again within about
   * 250 ms while a draining host still has agents that another host can take, so a drain ends in
   * about the time of its moves. Agents no other host can take stay
   * where they are (their host stops them at its drain timeout, and they are placed again once a
   * host has room). Default 4.
   */
  readonly drainMoveConcurrency?: number;
  /**
   * Evens out the fleet: while the live hosts that take agents differ by more than this share of
   * their capacity (0 to 1: 0.2 is 20 of 100 agents), each pass moves up to
   * `drainMoveConcurrency` agents from the fullest host to the emptiest, with `moveAgent`, so
   * a host that joined (a scale-up, a rolling update's new pod) takes its share. Only in passes
   * with nothing to heal or drain. Default: off.
   */
  readonly rebalanceThreshold?: number;
  /**
   * How long a desired agent that this engine never saw running is left unplaced before the
   * reconciler places it, in milliseconds: another engine may be starting it right now. Agents
   * this engine saw running are re-placed as soon as their host's lease expires. Default:
   * `rpcTimeoutMs`.
   */
  readonly placementGraceMs?: number;
}

/** Options of {@link ClusterExecutionEngine}. */
export interface ClusterExecutionEngineOptions {
  /**
   * Where hosts register themselves and their agents, and where the engine records the agents
   * it wants running. Required. The engine does not close it.
   */
  readonly registry: LocationRegistry;
  /**
   * Which agent host addresses exist (`StaticDiscovery`, `KubernetesDiscovery`). Required. The
   * engine awaits its `ready()` before the first placement and does not close it.
   */
  readonly discovery: HostDiscovery;
  /**
   * The bus the cluster's hosts use. The engine sends nothing on it; it is kept for code that
   * holds only the engine (a `Guild` without a bus of its own uses it), and `stopAgent` deletes
   * the stopped agent's durable state on it, which fences a copy left on a host that could not be
   * reached (without it, such a copy could still commit until its host notices). Default: none.
   * The engine does not close it.
   */
  readonly bus?: MessageBus;
  /** Chooses among the eligible hosts (live, not draining, not full). Default `leastLoaded()`. */
  readonly placement?: PlacementStrategy;
  /** Dial the hosts over TLS (`https`). Default: plaintext HTTP/2 (h2c). */
  readonly tls?: ClusterTlsOptions;
  /** A bearer token sent with every call, as hosts started with `GUILDHALL_TOKEN` require. Default: none. */
  readonly token?: string;
  /**
   * The deadline of each host call, in milliseconds, and the default of `runAgent`'s
   * `timeoutMs` (how long an agent may take to become ready, retries included). Default 60000,
   * above a host's default start timeout (30 s), so a slow agent is reported by its host.
   */
  readonly rpcTimeoutMs?: number;
  /**
   * Self-healing: re-place agents whose host's lease expired, and move the agents of draining
   * hosts to others. `false` disables it (agents of a dead host stay gone until run again, and a
   * draining host stops its agents instead of handing them over). Default `{ intervalMs: 2000 }`.
   */
  readonly reconcile?: ReconcileOptions | false;
  /** Retries of host calls that fail with UNAVAILABLE. Default `{ maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 2000 }`. */
  readonly retry?: RetryOptions;
  /**
   * Where the engine reports what it does on its own (re-placements, failed retries). Default:
   * JSON lines on stderr, warnings and errors only.
   */
  readonly logger?: AgentLogger;
}

/** {@link ReconcileOptions} with every default filled in. */
export interface ResolvedReconcileOptions {
  readonly intervalMs: number;
  readonly leaseMs: number;
  readonly concurrency: number;
  readonly drainMoveConcurrency: number;
  /** Undefined: no rebalancing. */
  readonly rebalanceThreshold: number | undefined;
  readonly placementGraceMs: number;
}

/** {@link ClusterExecutionEngineOptions} with every default filled in. */
export interface ResolvedClusterExecutionEngineOptions {
  readonly registry: LocationRegistry;
  readonly discovery: HostDiscovery;
  readonly bus: MessageBus | undefined;
  readonly placement: PlacementStrategy;
  readonly tls: ClusterTlsOptions | undefined;
  readonly token: string | undefined;
  readonly rpcTimeoutMs: number;
  readonly reconcile: ResolvedReconcileOptions | false;
  readonly retry: ResolvedRetryOptions;
  readonly logger: AgentLogger;
}

function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", `ClusterExecutionEngine: ${message}`);
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  return checkWholeNumber(`ClusterExecutionEngine: option ${name}`, value, { min, max });
}

function object(name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`option ${name} must be an object, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function")
  );
}

function checkTls(value: unknown): ClusterTlsOptions | undefined {
  const tls = object("tls", value);
  if (tls === undefined) return undefined;
  for (const name of ["ca", "cert", "key"]) {
    if (tls[name] !== undefined) checkPem(`ClusterExecutionEngine: option tls.${name}`, tls[name]);
  }
  if ((tls["cert"] === undefined) !== (tls["key"] === undefined)) {
    throw invalid("options tls.cert and tls.key go together: give both for mutual TLS, or neither");
  }
  const serverName = tls["serverName"];
  if (serverName !== undefined && (typeof serverName !== "string" || serverName === "")) {
    throw invalid("option tls.serverName must be a non-empty string");
  }
  return tls;
}

function checkReconcile(value: unknown, rpcTimeoutMs: number): ResolvedReconcileOptions | false {
  if (value === false) return false;
  const options = object("reconcile", value) ?? {};
  const intervalMs = integer(
    "reconcile.intervalMs",
    options["intervalMs"],
    DEFAULT_RECONCILE_INTERVAL_MS,
    10,
    3_600_000,
  );
  const leaseMs = integer(
    "reconcile.leaseMs",
    options["leaseMs"],
    Math.max(intervalMs * 3, 5_000),
    20,
    86_400_000,
  );
  if (leaseMs <= intervalMs) {
    throw invalid(
      `reconcile.leaseMs (${leaseMs}) must be longer than reconcile.intervalMs (${intervalMs}), or the lease lapses between two passes; use about three intervals`,
    );
  }
  return {
    intervalMs,
    leaseMs,
    concurrency: integer("reconcile.concurrency", options["concurrency"], 8, 1, 1_000),
    drainMoveConcurrency: integer(
      "reconcile.drainMoveConcurrency",
      options["drainMoveConcurrency"],
      DEFAULT_DRAIN_MOVE_CONCURRENCY,
      1,
      1_000,
    ),
    rebalanceThreshold: share("reconcile.rebalanceThreshold", options["rebalanceThreshold"]),
    placementGraceMs: integer(
      "reconcile.placementGraceMs",
      options["placementGraceMs"],
      rpcTimeoutMs,
      0,
      86_400_000,
    ),
  };
}

/** An optional share above 0 and at most 1. */
function share(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > 1) {
    throw invalid(
      `${name} must be a number above 0 and at most 1 (a share of host capacity, e.g. 0.2), got ${JSON.stringify(value)}; leave it out to turn rebalancing off`,
    );
  }
  return value;
}

function checkRetry(value: unknown): ResolvedRetryOptions {
  const options = object("retry", value) ?? {};
  const initialBackoffMs = integer(
    "retry.initialBackoffMs",
    options["initialBackoffMs"],
    DEFAULT_RETRY.initialBackoffMs,
    1,
    3_600_000,
  );
  const maxBackoffMs = integer(
    "retry.maxBackoffMs",
    options["maxBackoffMs"],
    Math.max(DEFAULT_RETRY.maxBackoffMs, initialBackoffMs),
    1,
    3_600_000,
  );
  if (maxBackoffMs < initialBackoffMs) {
    throw invalid(
      `retry.maxBackoffMs (${maxBackoffMs}) must be at least retry.initialBackoffMs (${initialBackoffMs})`,
    );
  }
  return {
    maxAttempts: integer(
      "retry.maxAttempts",
      options["maxAttempts"],
      DEFAULT_RETRY.maxAttempts,
      1,
      100,
    ),
    initialBackoffMs,
    maxBackoffMs,
  };
}

/**
 * Checks `options` and fills in the defaults documented on {@link ClusterExecutionEngineOptions}.
 *
 * @throws GuildhallError `invalid-argument` naming the bad option and what it must be
 */
export function resolveClusterExecutionEngineOptions(
  options: ClusterExecutionEngineOptions,
): ResolvedClusterExecutionEngineOptions {
  if (typeof options !== "object" || (options as unknown) === null) {
    throw invalid("options must be an object: new ClusterExecutionEngine({ registry, discovery })");
  }
  if (!hasMethods(options.registry, ["listHosts", "getLocation", "setDesiredAgent"])) {
    throw invalid(
      "option registry must be a LocationRegistry (RedisLocationRegistry, or MemoryLocationRegistry for one process)",
    );
  }
  if (!hasMethods(options.discovery, ["ready", "hosts", "onChange"])) {
    throw invalid(
      'option discovery must be a HostDiscovery (new StaticDiscovery(["10.0.0.7:50051"]) or new KubernetesDiscovery({ namespace, service }))',
    );
  }
  if (options.bus !== undefined && !hasMethods(options.bus, ["publish", "subscribe"])) {
    throw invalid("option bus must be a MessageBus (RedisBus, MemoryBus)");
  }
  if (options.placement !== undefined && !hasMethods(options.placement, ["choose"])) {
    throw invalid("option placement must be a PlacementStrategy (leastLoaded(), roundRobin())");
  }
  const token = options.token;
  if (token !== undefined && (typeof token !== "string" || token === "" || /[\s\0]/.test(token))) {
    throw invalid("option token must be a non-empty string without whitespace");
  }
  if (options.logger !== undefined && !hasMethods(options.logger, ["info", "warn", "error"])) {
    throw invalid("option logger must have debug, info, warn and error methods");
  }
  const rpcTimeoutMs = integer(
    "rpcTimeoutMs",
    options.rpcTimeoutMs,
    DEFAULT_RPC_TIMEOUT_MS,
    1,
    86_400_000,
  );
  return {
    registry: options.registry,
    discovery: options.discovery,
    bus: options.bus,
    placement: options.placement ?? leastLoaded(),
    tls: checkTls(options.tls),
    token,
    rpcTimeoutMs,
    reconcile: checkReconcile(options.reconcile, rpcTimeoutMs),
    retry: checkRetry(options.retry),
    logger: options.logger ?? createJsonLogger({ level: "warn", fields: { component: "engine" } }),
  };
}
