// Input checks shared by both registries, so bad input is refused with the same message whichever
// backend is in use, and nothing malformed reaches a Redis key.
import { AgentSpec, GuildSpec, GuildhallError, checkWholeNumber } from "@guildhall/core";
import type { GuildContext, HostRegistration } from "./location-registry.js";

/** Longest host address accepted; generous for DNS names with a port. */
const MAX_ADDRESS_LENGTH = 512;
// Addresses are opaque, but whitespace and control characters are never part of a dialable one.
// eslint-disable-next-line no-control-regex
const BAD_ADDRESS_CHARACTER = /[\s\u0000-\u001f\u007f]/;
/** Upper bound for leases and TTLs: a day. Anything longer is a unit mistake. */
const MAX_DURATION_MS = 86_400_000;

function invalid(message: string): GuildhallError {
  return new GuildhallError("invalid-argument", message);
}

/** Checks an agent or guild id; core's check, so both registries word a bad id as the buses do. */
export { checkId } from "@guildhall/core";

/** Checks a host address: any non-empty string without whitespace, as dialed. */
export function checkAddress(value: unknown): string {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > MAX_ADDRESS_LENGTH ||
    BAD_ADDRESS_CHARACTER.test(value)
  ) {
    throw invalid(
      `host address ${JSON.stringify(value)} is invalid: it must be a non-empty string of at most ` +
        `${MAX_ADDRESS_LENGTH} characters without whitespace, e.g. "10.0.0.7:50051" or "[::1]:50051"`,
    );
  }
  return value;
}

/** Checks a duration in milliseconds: a whole number from 1 ms to a day. */
export function checkDurationMs(name: string, value: unknown): number {
  return checkWholeNumber(name, value, { min: 1, max: MAX_DURATION_MS, unit: "milliseconds" });
}

/** Checks a placement epoch. */
export function checkEpoch(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(
      `epoch ${String(value)} is invalid: use the positive integer registerAgent returned`,
    );
  }
  return value;
}

function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .map((issue) => {
      const where = issue.path.map(String).join(".");
      return `${where === "" ? "(root)" : where}: ${issue.message}`;
    })
    .join("; ");
}

/** Checks an agent spec against the schema of `@guildhall/core`. */
export function checkAgentSpec(value: unknown): AgentSpec {
  const result = AgentSpec.safeParse(value);
  if (!result.success) {
    throw invalid(`invalid agent spec: ${describeIssues(result.error.issues)}`);
  }
  return result.data;
}

/** Checks a guild context: a guild spec without its agent list. */
export function checkGuildContext(value: unknown): GuildContext {
  if (typeof value !== "object" || value === null) {
    throw invalid("invalid guild: expected an object such as { id, name }");
  }
  const result = GuildSpec.safeParse({ ...value, agents: [] });
  if (!result.success) {
    throw invalid(`invalid guild: ${describeIssues(result.error.issues)}`);
  }
  const { agents: _agents, ...context } = result.data;
  return context;
}

/** Defaults a registry fills into a host registration. */
export interface HostDefaults {
  readonly hostLeaseMs: number;
  /** Undefined: the host's lease. */
  readonly agentTtlMs: number | undefined;
}

/** A host registration with every field checked and filled. */
export interface ResolvedHost {
  readonly address: string;
  readonly maxAgents: number;
  readonly leaseMs: number;
  readonly agentTtlMs: number;
  readonly draining: boolean;
}

/** Checks a host registration and fills its defaults. */
export function resolveHost(host: HostRegistration, defaults: HostDefaults): ResolvedHost {
  if (typeof host !== "object" || (host as unknown) === null) {
    throw invalid("invalid host: expected { address, maxAgents }");
  }
  const maxAgents: unknown = host.maxAgents;
  if (typeof maxAgents !== "number" || !Number.isInteger(maxAgents) || maxAgents < 0) {
    throw invalid(
      `maxAgents ${String(maxAgents)} is invalid: it must be a whole number, 0 or more`,
    );
  }
  const leaseMs = checkDurationMs("leaseMs", host.leaseMs ?? defaults.hostLeaseMs);
  const agentTtlMs = checkDurationMs(
    "agentTtlMs",
    host.agentTtlMs ?? defaults.agentTtlMs ?? leaseMs,
  );
  return {
    address: checkAddress(host.address),
    maxAgents,
    leaseMs,
    // A location must never outlive its host's lease: that is what makes an existing one live.
    agentTtlMs: Math.min(agentTtlMs, leaseMs),
    draining: host.draining === true,
  };
}
