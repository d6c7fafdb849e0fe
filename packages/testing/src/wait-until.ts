// Polls a condition with a deadline, for state that announces no event (an engine's listing).

/** Options of {@link waitUntil}. */
export interface WaitUntilOptions {
  /** Give up after this many milliseconds. Default 10,000. */
  timeoutMs?: number;
  /** Time between two checks, in milliseconds. Default 20. */
  intervalMs?: number;
  /** What is awaited, for the error message. Default: "the condition". */
  description?: string;
}

/**
 * Resolves once `condition` returns true; rejects when it has not by the deadline, or throws.
 *
 * @example
 * ```ts
 * await waitUntil(async () => !(await engine.isAgentRunning("demo", "echo")), {
 *   description: "echo to stop",
 * });
 * ```
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  options: WaitUntilOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) {
      throw new Error(`waited ${timeoutMs} ms for ${options.description ?? "the condition"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
