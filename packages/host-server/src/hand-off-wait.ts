// How long a draining host waits for its agents to be moved away (DESIGN section 14). Placement
// lives in the engines and hosts have no client for each other, so the fleet's active reconciler
// moves a draining host's agents on its behalf; the host keeps running them meanwhile and only
// waits: until none is left, until its drain timeout, or not at all while no reconciler is active,
// so a drain without a long-lived engine stops its agents as soon as it always did.

/** Why a drain stopped waiting for its agents to be moved away. */
export type HandOffEnd =
  /** No agent is left on the host: every one was moved (or stopped by its engine). */
  | "emptied"
  /** Nobody holds the reconciler lease, or the registry cannot say: nothing would move them. */
  | "no-reconciler"
  /** The drain timeout passed with agents left. */
  | "timed-out"
  /** The host shuts down (close()), which stops what is left. */
  | "closing";

/** What {@link waitForHandOff} watches. */
export interface HandOffWaitOptions {
  /** Agents holding a process on the host now. */
  readonly agentCount: () => number;
  /** Whether an engine's reconciler holds its lease (`LocationRegistry.reconcilerActive`). */
  readonly reconcilerActive: () => Promise<boolean>;
  /** When the wait ends at the latest, on the `performance.now()` clock. */
  readonly deadline: number;
  /** Ends the wait at once. */
  readonly signal: AbortSignal;
}

/**
 * How often the agent count is looked at, in milliseconds. It is a read of the host's own
 * memory, so looking often costs nothing, and the drain ends right after the last move.
 */
const AGENT_CHECK_MS = 50;

/**
 * How often the registry is asked whether a reconciler is still active, in milliseconds: an
 * engine that went away without releasing its lease stops counting once the lease lapses, and
 * the drain then stops the agents left instead of waiting out its timeout for moves that will
 * not come.
 */
const RECONCILER_CHECK_MS = 1_000;

/** Resolves after `ms`, or as soon as `signal` aborts; never rejects. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Waits while an active reconciler moves the host's agents away, and resolves with why it
 * stopped waiting. Never rejects: a registry that cannot be asked counts as no reconciler, since
 * nothing can be moved without it either.
 */
export async function waitForHandOff(options: HandOffWaitOptions): Promise<HandOffEnd> {
  let nextReconcilerCheck = Number.NEGATIVE_INFINITY;
  for (;;) {
    if (options.agentCount() === 0) return "emptied";
    if (options.signal.aborted) return "closing";
    const now = performance.now();
    if (now >= options.deadline) return "timed-out";
    if (now >= nextReconcilerCheck) {
      const active = await options.reconcilerActive().catch(() => false);
      if (!active) return "no-reconciler";
      nextReconcilerCheck = performance.now() + RECONCILER_CHECK_MS;
      continue;
    }
    await pause(Math.min(AGENT_CHECK_MS, options.deadline - now), options.signal);
  }
}
