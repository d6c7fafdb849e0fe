// Waiting in tests without fixed sleeps, for state that announces no event (a process exiting, a
// lease expiring, an engine's listing): poll a check until it passes or a deadline passes.
import { errorMessage } from "@guildhall/core";

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /**
   * What is awaited, for the error, e.g. "the agent to stop". A function is called at the deadline,
   * so that it can tell what was seen by then. Default: "the check to pass".
   */
  description?: string | (() => string);
  /** Give up after this many milliseconds. Default 15,000. */
  timeoutMs?: number;
  /** Time between two checks, in milliseconds. Default 20. */
  intervalMs?: number;
}

/**
 * Calls `check` until it returns something other than `undefined` or `false` without throwing,
 * and resolves with that. A check that throws is called again; at the deadline the error names
 * what was awaited and carries the check's last error as its `cause`.
 *
 * @example
 * ```ts
 * await waitFor(() => !isRunning(pid), { description: `process ${pid} to exit` });
 * const reply = await waitFor(() => replies.find((m) => m.sender.id === "echo"), {
 *   description: "the echo's reply",
 *   timeoutMs: 5_000,
 * });
 * ```
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const description = options.description ?? "the check to pass";
      const what = typeof description === "function" ? description() : description;
      const why =
        lastError === undefined ? "" : `; the check last threw: ${errorMessage(lastError)}`;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${why}`,
        lastError === undefined ? undefined : { cause: lastError },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
