// What `guildhall host` runs with: each setting from its flag, else its environment variable
// (DESIGN section 6), else its default, checked here with messages that name both the flag and the
// variable so an operator knows which one to fix.
import { readFileSync } from "node:fs";
import { GuildhallError, errorMessage } from "@guildhall/core";
import type { AgentHostOptions, AgentHostTlsOptions, HostLogLevel } from "@guildhall/host-server";
import { pick, type Env } from "../settings.js";

/** The flags of `guildhall host`, as commander parses them (all strings, all optional). */
export interface HostCommandFlags {
  readonly port?: string;
  readonly bind?: string;
  readonly advertiseAddress?: string;
  readonly redisUrl?: string;
  readonly busUrl?: string;
  readonly keyPrefix?: string;
  readonly memory?: boolean;
  /** False with `--no-metrics`. */
  readonly metrics?: boolean;
  readonly metricsPort?: string;
  readonly maxAgents?: string;
  readonly maxProcesses?: string;
  readonly hibernateAfterMs?: string;
  readonly maxStateBytes?: string;
  readonly maxLenPerTopic?: string;
  readonly maxQueuedPerSubscription?: string;
  readonly heartbeatMs?: string;
  readonly leaseMs?: string;
  readonly stopTimeoutMs?: string;
  readonly drainTimeoutMs?: string;
  readonly warmPoolSize?: string;
  readonly agentModules?: string;
  readonly token?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly logLevel?: string;
}

/** Where the host keeps its registry and bus. */
export type HostBackend =
  | {
      readonly kind: "redis";
      readonly registryUrl: string;
      readonly busUrl: string;
      /** Key prefix of registry and bus; undefined for their default (`gh:`). */
      readonly prefix: string | undefined;
      /** RedisBus limits given; the bus's defaults for the others. */
      readonly bus: {
        readonly maxLenPerTopic?: number;
        readonly maxQueuedPerSubscription?: number;
      };
    }
  | { readonly kind: "memory" };

/** Everything `guildhall host` needs to start. */
export interface HostCommandConfig {
  readonly backend: HostBackend;
  /** The options of createAgentHost, without registry, bus and logger. */
  readonly host: AgentHostOptions;
  readonly logLevel: HostLogLevel;
}

function fail(message: string): never {
  throw new GuildhallError("invalid-argument", message);
}

/** The host's whole-number settings: flag, environment variable, and the least value allowed. */
const WHOLE_NUMBER_SETTINGS = {
  port: ["--port", "GUILDHALL_PORT", 0],
  metricsPort: ["--metrics-port", "GUILDHALL_METRICS_PORT", 0],
  maxAgents: ["--max-agents", "GUILDHALL_MAX_AGENTS", 1],
  maxProcesses: ["--max-processes", "GUILDHALL_MAX_PROCESSES", 1],
  hibernateAfterMs: ["--hibernate-after-ms", "GUILDHALL_HIBERNATE_AFTER_MS", 0],
  maxStateBytes: ["--max-state-bytes", "GUILDHALL_MAX_STATE_BYTES", 2],
  maxLenPerTopic: ["--max-len-per-topic", "GUILDHALL_MAX_LEN_PER_TOPIC", 1],
  maxQueuedPerSubscription: [
    "--max-queued-per-subscription",
    "GUILDHALL_MAX_QUEUED_PER_SUBSCRIPTION",
    1,
  ],
  heartbeatMs: ["--heartbeat-ms", "GUILDHALL_HEARTBEAT_MS", 1],
  leaseMs: ["--lease-ms", "GUILDHALL_LEASE_MS", 1],
  stopTimeoutMs: ["--stop-timeout-ms", "GUILDHALL_STOP_TIMEOUT_MS", 0],
  drainTimeoutMs: ["--drain-timeout-ms", "GUILDHALL_DRAIN_TIMEOUT_MS", 0],
  warmPoolSize: ["--warm-pool-size", "GUILDHALL_WARM_POOL_SIZE", 0],
} as const satisfies Record<string, readonly [flag: string, variable: string, min: number]>;

type WholeNumberSetting = keyof typeof WHOLE_NUMBER_SETTINGS;

function integer(
  value: string | undefined,
  flag: string,
  variable: string,
  min: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    fail(`${flag} (or ${variable}) must be a whole number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function readPem(file: string | undefined, flag: string, variable: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    fail(
      `cannot read ${flag} (or ${variable}) file ${file}: ${errorMessage(error)}; give the path of a PEM file`,
    );
  }
}

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Resolves the settings of `guildhall host` from its flags and the environment.
 *
 * @throws GuildhallError `invalid-argument` naming the flag and variable to fix
 */
export function resolveHostCommandConfig(
  flags: HostCommandFlags,
  env: Env = process.env,
): HostCommandConfig {
  const redisUrl = pick(flags.redisUrl, env, "GUILDHALL_REDIS_URL", "REDIS_URL");
  const busUrl = pick(flags.busUrl, env, "GUILDHALL_BUS_URL");
  let backend: HostBackend;
  if (flags.memory === true) {
    if (redisUrl !== undefined || busUrl !== undefined) {
      fail(
        "--memory runs a standalone host with an in-memory registry and bus, but a Redis URL is set too (--redis-url, GUILDHALL_REDIS_URL, REDIS_URL or GUILDHALL_BUS_URL); drop one of them",
      );
    }
    backend = { kind: "memory" };
  } else {
    if (redisUrl === undefined) {
      fail(
        "no location registry: set GUILDHALL_REDIS_URL (or REDIS_URL, or --redis-url) to the Redis of your cluster, e.g. redis://redis:6379, or pass --memory to run one standalone host with an in-memory registry and bus",
      );
    }
    backend = {
      kind: "redis",
      registryUrl: redisUrl,
      busUrl: busUrl ?? redisUrl,
      prefix: pick(flags.keyPrefix, env, "GUILDHALL_KEY_PREFIX"),
      bus: {},
    };
  }

  const agentModules = (pick(flags.agentModules, env, "GUILDHALL_AGENT_MODULES") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (agentModules.length === 0) {
    fail(
      "no agent modules are allowed, so this host could run nothing: list the packages or absolute directories of your agents in GUILDHALL_AGENT_MODULES (comma-separated) or --agent-modules",
    );
  }

  const cert = readPem(
    pick(flags.tlsCert, env, "GUILDHALL_TLS_CERT"),
    "--tls-cert",
    "GUILDHALL_TLS_CERT",
  );
  const key = readPem(
    pick(flags.tlsKey, env, "GUILDHALL_TLS_KEY"),
    "--tls-key",
    "GUILDHALL_TLS_KEY",
  );
  const ca = readPem(pick(flags.tlsCa, env, "GUILDHALL_TLS_CA"), "--tls-ca", "GUILDHALL_TLS_CA");
  let tls: AgentHostTlsOptions | undefined;
  if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined) {
      fail(
        "TLS needs both a certificate and its key: set GUILDHALL_TLS_CERT and GUILDHALL_TLS_KEY (or --tls-cert and --tls-key)",
      );
    }
    tls = { cert, key, ...(ca !== undefined && { ca }) };
  } else if (ca !== undefined) {
    fail(
      "GUILDHALL_TLS_CA (--tls-ca) turns on mutual TLS, which needs GUILDHALL_TLS_CERT and GUILDHALL_TLS_KEY too",
    );
  }

  const logLevel = (pick(flags.logLevel, env, "LOG_LEVEL") ?? "info").toLowerCase();
  if (!LEVELS.includes(logLevel)) {
    fail(
      `--log-level (or LOG_LEVEL) must be one of ${LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`,
    );
  }

  const numbers: { -readonly [Name in WholeNumberSetting]?: number } = {};
  for (const name of Object.keys(WHOLE_NUMBER_SETTINGS) as WholeNumberSetting[]) {
    const [flag, variable, min] = WHOLE_NUMBER_SETTINGS[name];
    const value = integer(pick(flags[name], env, variable), flag, variable, min);
    if (value !== undefined) numbers[name] = value;
  }
  const { metricsPort, maxLenPerTopic, maxQueuedPerSubscription, ...hostNumbers } = numbers;
  const busLimits = {
    ...(maxLenPerTopic !== undefined && { maxLenPerTopic }),
    ...(maxQueuedPerSubscription !== undefined && { maxQueuedPerSubscription }),
  };
  if (backend.kind === "memory" && Object.keys(busLimits).length > 0) {
    fail(
      "--max-len-per-topic and --max-queued-per-subscription (GUILDHALL_MAX_LEN_PER_TOPIC, GUILDHALL_MAX_QUEUED_PER_SUBSCRIPTION) set limits of the Redis bus; a --memory host has none: drop them",
    );
  }
  if (backend.kind === "redis") backend = { ...backend, bus: busLimits };
  const advertiseAddress = pick(flags.advertiseAddress, env, "GUILDHALL_ADVERTISE_ADDRESS");
  const token = pick(flags.token, env, "GUILDHALL_TOKEN");

  const host: AgentHostOptions = {
    host: pick(flags.bind, env, "GUILDHALL_BIND") ?? "0.0.0.0",
    agentModules,
    logLevel: logLevel as HostLogLevel,
    metricsPort: flags.metrics === false ? false : (metricsPort ?? 9_464),
    ...hostNumbers,
    ...(advertiseAddress !== undefined && { advertiseAddress }),
    ...(token !== undefined && { token }),
    ...(tls !== undefined && { tls }),
  };
  return { backend, host, logLevel: logLevel as HostLogLevel };
}
