// What a host streams to watchers (WatchAgents): every change of an agent's process, as it
// happens. Events are derived from process events ('exit'), never from polling.
import type { DurableState } from "./manager-options.js";

/** Fields every lifecycle event carries. */
export interface AgentEventBase {
  readonly guildId: string;
  readonly agentId: string;
  readonly agentName: string;
  /** When it happened, in milliseconds since the Unix epoch. */
  readonly timestamp: number;
}

/** A process now runs the agent (forked, or taken from the warm pool); it is not ready yet. */
export interface AgentStartedEvent extends AgentEventBase {
  readonly type: "started";
  readonly pid: number;
  /** Whether the process came from the warm pool. */
  readonly warm: boolean;
}

/** The agent's `onStart` resolved; it receives deliveries from now on. */
export interface AgentReadyEvent extends AgentEventBase {
  readonly type: "ready";
  readonly pid: number;
  /** From spawn (or restart) request to ready, in milliseconds. */
  readonly startupMs: number;
  /**
   * The state `onStart` left, when it differs from the one this start was given by `prepareStart`
   * (always present when nothing was stored and the agent has `initialState()`, so that its result
   * gets stored). The host commits it as onStart's commit.
   */
  readonly state?: DurableState;
}

/** The agent's process ended and will not be restarted: it was stopped, or exited cleanly. */
export interface AgentStoppedEvent extends AgentEventBase {
  readonly type: "stopped";
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when `stop`/`shutdown` asked for it; false for an exit the policy does not restart. */
  readonly requested: boolean;
}

/** The agent's process failed: it died, exited non-zero, or could not start. */
export interface AgentCrashedEvent extends AgentEventBase {
  readonly type: "crashed";
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What went wrong, when known (the agent's error, or why starting failed). */
  readonly error: string | undefined;
  /** Whether the restart policy brings it back. */
  readonly willRestart: boolean;
  /** The backoff before the restart, when there is one. */
  readonly restartInMs: number | undefined;
  /** Restarts so far. */
  readonly restarts: number;
}

/** A restarted agent is ready again. */
export interface AgentRestartedEvent extends AgentEventBase {
  readonly type: "restarted";
  readonly pid: number;
  /** Restarts so far, this one included. */
  readonly restarts: number;
}

/** Any lifecycle event. */
export type AgentLifecycleEvent =
  AgentStartedEvent | AgentReadyEvent | AgentStoppedEvent | AgentCrashedEvent | AgentRestartedEvent;

/** Event names and payloads of `AgentProcessManager.on`; `lifecycle` receives every event. */
export interface AgentProcessManagerEvents {
  started: AgentStartedEvent;
  ready: AgentReadyEvent;
  stopped: AgentStoppedEvent;
  crashed: AgentCrashedEvent;
  restarted: AgentRestartedEvent;
  lifecycle: AgentLifecycleEvent;
}

type Listener = (event: AgentLifecycleEvent) => void;

/** Dispatches lifecycle events to listeners; a throwing listener cannot break the manager. */
export class LifecycleEmitter {
  readonly #listeners = new Map<keyof AgentProcessManagerEvents, Set<Listener>>();

  /** Adds a listener for one event type (or `lifecycle` for all); returns its removal. */
  on<K extends keyof AgentProcessManagerEvents>(
    type: K,
    listener: (event: AgentProcessManagerEvents[K]) => void,
  ): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    const entry = listener as Listener;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Calls the listeners of the event's type, then those of `lifecycle`. */
  emit(event: AgentLifecycleEvent): void {
    for (const type of [event.type, "lifecycle"] as const) {
      for (const listener of this.#listeners.get(type) ?? []) {
        try {
          listener(event);
        } catch (error) {
          process.emitWarning(
            `a "${type}" listener of AgentProcessManager threw: ${(error as Error).message}`,
            "GuildhallListenerWarning",
          );
        }
      }
    }
  }
}
