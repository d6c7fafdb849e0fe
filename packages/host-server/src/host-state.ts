// The host's life as one state union, held in one place; the RPCs, the registry and the metrics
// read what they need from it.

/**
 * Where a host is in its life: `created` (not started), `starting`, `serving` (takes agents),
 * `draining` (runs its agents, refuses new ones), `stopping` (close() runs), `closed`.
 */
export type AgentHostState =
  "created" | "starting" | "serving" | "draining" | "stopping" | "closed";

/** Whether a host in `state` is shutting down or has shut down. */
export function isShuttingDown(state: AgentHostState): boolean {
  return state === "stopping" || state === "closed";
}

/** Whether a host in `state` refuses new agents: it drains or shuts down. */
export function refusesAgents(state: AgentHostState): boolean {
  return state === "draining" || isShuttingDown(state);
}

/** The state of one host, and who hears of each change. */
export class HostLifecycle {
  readonly #listeners = new Set<(state: AgentHostState) => void>();
  #state: AgentHostState = "created";

  get state(): AgentHostState {
    return this.#state;
  }

  /** Moves the host to `state`; a host that shuts down only goes on to `closed`. */
  moveTo(state: AgentHostState): void {
    if (state === this.#state) return;
    if (this.#state === "closed" || (this.#state === "stopping" && state !== "closed")) return;
    this.#state = state;
    for (const listener of this.#listeners) listener(state);
  }

  /** Calls `listener` with each new state; returns its removal. */
  onChange(listener: (state: AgentHostState) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
