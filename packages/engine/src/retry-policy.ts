// Which failures of a host call are worth another try, where, and after how long. Pure functions,
// so the decisions are unit-tested without hosts or clocks.
import type { ErrorCode } from "@guildhall/core";

/** How the engine retries host calls that failed with UNAVAILABLE. */
export interface RetryOptions {
  /**
   * How many calls of one operation (a placement, a stop) may fail with `unavailable` before it
   * gives up. Refusals by full hosts do not count: each host is asked once. Default 4.
   */
  readonly maxAttempts?: number;
  /** The delay after the first `unavailable`, in milliseconds; doubled after each further one. Default 100. */
  readonly initialBackoffMs?: number;
  /** The longest delay between two attempts, in milliseconds. Default 2000. */
  readonly maxBackoffMs?: number;
}

/** {@link RetryOptions} with every default filled in. */
export interface ResolvedRetryOptions {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** The defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: ResolvedRetryOptions = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
};

/**
 * What to do after a failed CreateAgent:
 * - `next-host`: the host is full; ask another one right away and never this one again.
 * - `retry-elsewhere`: the host is draining, stopping or unreachable; wait a backoff and ask
 *   another host (this one again only when every other host refused too).
 * - `fail`: the request itself is wrong (bad spec, module not allowed, duplicate, bad token) or
 *   the agent failed to start; another host would answer the same.
 */
export type PlacementAction = "next-host" | "retry-elsewhere" | "fail";

/** The {@link PlacementAction} for a CreateAgent failure of `code`. */
export function placementAction(code: ErrorCode): PlacementAction {
  switch (code) {
    case "resource-exhausted":
      return "next-host";
    case "unavailable":
      return "retry-elsewhere";
    default:
      return "fail";
  }
}

/**
 * What to do after a failed StopAgent:
 * - `done`: the host does not run the agent (any more);
 * - `retry`: the host could not be reached or is busy; wait a backoff and call it again;
 * - `fail`: the host refused (a bad token, an internal error).
 */
export type StopAction = "done" | "retry" | "fail";

/** The {@link StopAction} for a StopAgent failure of `code`. */
export function stopAction(code: ErrorCode): StopAction {
  switch (code) {
    case "not-found":
      return "done";
    case "unavailable":
      return "retry";
    default:
      return "fail";
  }
}

/**
 * The delay before retry number `retry` (0 for the first), in milliseconds: exponential from
 * `initialBackoffMs`, capped at `maxBackoffMs`, with "equal jitter" (a random half on top of a
 * fixed half) so engines that failed together do not retry together, yet never retry at once.
 *
 * @param random - a number in [0, 1); `Math.random()` unless a test fixes it
 */
export function backoffDelayMs(
  retry: number,
  options: ResolvedRetryOptions,
  random: number = Math.random(),
): number {
  const exponent = Math.min(Math.max(0, Math.floor(retry)), 30);
  const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** exponent);
  const half = ceiling / 2;
  return Math.round(half + half * Math.min(Math.max(random, 0), 1));
}
