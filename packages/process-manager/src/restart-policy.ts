// When an agent process ends without being asked to, the manager (the component that watches it)
// decides whether and when to bring it back; callers never have to.
import type { RestartPolicy } from "@guildhall/core";

/** A restart policy with every field filled in. */
export interface ResolvedRestartPolicy {
  /** `always`: after any exit not asked for; `on-failure`: after a non-zero exit or a signal; `never`. */
  readonly mode: "always" | "on-failure" | "never";
  /** Restarts in a row (without a stable period between) before the agent is left `crashed`. */
  readonly maxRestarts: number;
  /** Delay before the first restart of a series; doubled for each further one. */
  readonly backoffMs: number;
}

/** The policy of agents whose spec names none: restart failures, 5 in a row, from 500 ms. */
export const DEFAULT_RESTART_POLICY: ResolvedRestartPolicy = Object.freeze({
  mode: "on-failure",
  maxRestarts: 5,
  backoffMs: 500,
});

/** Fills the fields a spec's policy leaves out from `defaults`. */
export function resolveRestartPolicy(
  policy: RestartPolicy | undefined,
  defaults: ResolvedRestartPolicy = DEFAULT_RESTART_POLICY,
): ResolvedRestartPolicy {
  if (policy === undefined) return defaults;
  return {
    mode: policy.mode,
    maxRestarts: policy.maxRestarts ?? defaults.maxRestarts,
    backoffMs: policy.backoffMs ?? defaults.backoffMs,
  };
}

/** The delay before restart number `attempt` (1-based) of a series: exponential, capped. */
export function backoffDelayMs(backoffMs: number, attempt: number, maxBackoffMs: number): number {
  const exponent = Math.max(0, attempt - 1);
  // 2 ** exponent overflows to Infinity for long series, which the cap absorbs.
  return Math.min(maxBackoffMs, backoffMs * 2 ** exponent);
}

/** How a process ended. */
export interface ProcessExit {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Whether the exit counts as a failure: a non-zero code, or death by a signal. */
export function isFailure(exit: ProcessExit): boolean {
  return exit.signal !== null || exit.exitCode !== 0;
}

/** What to do after an exit nobody asked for. */
export type RestartDecision =
  | { readonly restart: true; readonly delayMs: number; readonly attempt: number }
  | { readonly restart: false; readonly reason: "policy" | "exhausted" };

/**
 * Decides the fate of an agent whose process ended unexpectedly.
 *
 * @param failed whether the end counts as a failure ({@link isFailure}, or a failed start)
 * @param restartsInARow restarts already made in the current series (0 after a stable period)
 */
export function decideRestart(
  policy: ResolvedRestartPolicy,
  failed: boolean,
  restartsInARow: number,
  maxBackoffMs: number,
): RestartDecision {
  const wanted = policy.mode === "always" || (policy.mode === "on-failure" && failed);
  if (!wanted) return { restart: false, reason: "policy" };
  if (restartsInARow >= policy.maxRestarts) return { restart: false, reason: "exhausted" };
  const attempt = restartsInARow + 1;
  return {
    restart: true,
    attempt,
    delayMs: backoffDelayMs(policy.backoffMs, attempt, maxBackoffMs),
  };
}
