// Fires one agent's committed timers (DESIGN section 13) from whoever runs it: its host, or the
// in-process engine. The store does the firing as one atomic step (message on the inbox, timer
// forgotten), so this class only decides when to ask, and what to forget after the answer. A host
// keeps one per agent, sleeping ones included, so an instance holds one Node timer at most, no
// closure of its own while idle, and never keeps the process alive.
import type { AgentLogger } from "./agent.js";
import type { AgentStore } from "./agent-store.js";
import { GuildhallError, errorMessage } from "./errors.js";
import {
  timerMessage,
  type AgentTimer,
  type FireTimerResult,
  type TimerChanges,
} from "./timers.js";

/** The longest delay `setTimeout` takes (2^31 - 1 ms, about 24.8 days); longer ones re-arm. */
const MAX_TIMEOUT_MS = 2_147_483_647;
/** The longest pause between attempts to fire while the store cannot be reached. */
const MAX_RETRY_DELAY_MS = 5_000;

/** Options of {@link AgentTimers}. */
export interface AgentTimersOptions {
  /** Where the timers are kept and fired: the agent's bus. */
  readonly store: AgentStore;
  readonly guildId: string;
  readonly agentId: string;
  /** The placement epoch the agent was claimed with: a newer claim fences these fires. */
  readonly epoch: number;
  /** The agent's pending timers, as its checkpoint holds them. */
  readonly timers: readonly AgentTimer[];
  readonly log: AgentLogger;
  /** The store refused a fire: a newer placement owns the agent. Firing has stopped. */
  readonly onFenced?: () => void;
  /** A timer's message was put on the agent's inbox. */
  readonly onFired?: (timer: AgentTimer) => void;
  /**
   * First pause before asking again when the store was unreachable, in ms. Default 100, doubling
   * to 5 s.
   */
  readonly retryDelayMs?: number;
}

function byDueAt(a: AgentTimer, b: AgentTimer): number {
  return a.dueAt - b.dueAt;
}

/**
 * Fires one agent's due timers through its store, soonest first, one at a time.
 *
 * Each fire is `store.fireTimer` under the agent's epoch: `fired` and `gone` (fired before, or
 * cancelled) forget the timer; `fenced` stops everything (another placement fires them now);
 * `unknown` (the store lost the agent) forgets it; a store that cannot be reached is asked again,
 * with backoff. Apply the timer changes of each commit once it landed.
 *
 * @example
 * ```ts
 * const checkpoint = await bus.claimAgent(guildId, agentId, { epoch, topics });
 * const timers = new AgentTimers({
 *   store: bus, guildId, agentId, epoch, timers: checkpoint.timers, log,
 * });
 * // with each CommitRecord whose `timers` is set (a commit that landed):
 * timers.apply(record.timers);
 * timers.close();
 * ```
 */
export class AgentTimers {
  readonly #options: AgentTimersOptions;
  #epoch: number;
  /** Soonest first. */
  #timers: AgentTimer[];
  #handle: NodeJS.Timeout | undefined;
  /** The timer whose fire awaits the store's answer: never two at once. */
  #inFlight: AgentTimer | undefined;
  /** Bumped by reset and close, so the answer to a fire sent before is not acted upon. */
  #generation = 0;
  #retryDelayMs: number;
  #failures = 0;
  /** Stopped for good by close, or until a reset by a fence. */
  #closed = false;
  #stopped = false;

  constructor(options: AgentTimersOptions) {
    this.#options = options;
    this.#epoch = options.epoch;
    this.#timers = [...options.timers].sort(byDueAt);
    this.#retryDelayMs = options.retryDelayMs ?? 100;
    this.#arm();
  }

  /** How many timers are pending. */
  get size(): number {
    return this.#timers.length;
  }

  /** When the soonest pending timer is due, in ms since the Unix epoch; `undefined` for none. */
  get nextDueAt(): number | undefined {
    return this.#timers[0]?.dueAt;
  }

  /** Whether timer `id` is pending here (committed, not fired or cancelled yet). */
  has(id: string): boolean {
    return this.#timers.some((timer) => timer.id === id);
  }

  /**
   * Applies the timer changes of a commit that landed: cancellations first, then new timers. A
   * cancelled timer whose fire is in flight may still arrive: the store serialized the two.
   */
  apply(changes: TimerChanges): void {
    if (this.#closed) return;
    const head = this.#timers[0];
    if (changes.cancel.length > 0) {
      const cancelled = new Set(changes.cancel);
      this.#timers = this.#timers.filter((timer) => !cancelled.has(timer.id));
    }
    for (const timer of changes.schedule) {
      if (this.has(timer.id)) continue;
      // Insertion after every timer due no later: equal due times fire in scheduling order.
      let at = this.#timers.length;
      while (at > 0 && this.#timers[at - 1]!.dueAt > timer.dueAt) at -= 1;
      this.#timers.splice(at, 0, timer);
    }
    if (this.#timers[0] !== head) this.#arm();
  }

  /**
   * Replaces every pending timer with those of a new checkpoint, claimed under `epoch`; firing
   * resumes if a fence had stopped it. A fire still in flight is awaited, its answer ignored.
   */
  reset(timers: readonly AgentTimer[], epoch: number): void {
    if (this.#closed) return;
    this.#generation += 1;
    this.#epoch = epoch;
    this.#timers = [...timers].sort(byDueAt);
    this.#stopped = false;
    this.#failures = 0;
    this.#retryDelayMs = this.#options.retryDelayMs ?? 100;
    this.#arm();
  }

  /** Stops firing, for good; a fire in flight completes in the store. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#generation += 1;
    clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#timers = [];
  }

  // A static function and setTimeout's argument, rather than a closure per instance or per arm.
  static #wake(self: AgentTimers): void {
    self.#handle = undefined;
    self.#fireDue();
  }

  #arm(): void {
    clearTimeout(this.#handle);
    this.#handle = undefined;
    if (this.#closed || this.#stopped || this.#inFlight !== undefined) return;
    const next = this.#timers[0];
    if (next === undefined) return;
    const delayMs = Math.min(Math.max(0, next.dueAt - Date.now()), MAX_TIMEOUT_MS);
    this.#handle = setTimeout(AgentTimers.#wake, delayMs, this);
    this.#handle.unref();
  }

  #fireDue(): void {
    if (this.#closed || this.#stopped || this.#inFlight !== undefined) return;
    const timer = this.#timers[0];
    if (timer === undefined) return;
    // Not due yet: a delay past setTimeout's limit goes in steps, and clocks may differ a little.
    if (timer.dueAt > Date.now()) {
      this.#arm();
      return;
    }
    this.#inFlight = timer;
    const generation = this.#generation;
    const { store, guildId, agentId } = this.#options;
    const fire = { epoch: this.#epoch, message: timerMessage(agentId, timer) };
    // Through a promise, so a store that throws at once is answered like one that rejects.
    Promise.resolve(fire)
      .then((f) => store.fireTimer(guildId, agentId, f))
      .then(
        (result) => this.#answered(generation, timer, result),
        (error: unknown) => this.#failed(generation, timer, error),
      );
  }

  #answered(generation: number, timer: AgentTimer, result: FireTimerResult): void {
    this.#inFlight = undefined;
    if (generation !== this.#generation) {
      this.#arm();
      return;
    }
    this.#failures = 0;
    this.#retryDelayMs = this.#options.retryDelayMs ?? 100;
    if (result === "fenced") {
      this.#stopped = true;
      this.#options.log.warn("a newer placement owns this agent: its timers fire there, not here", {
        epoch: this.#epoch,
      });
      this.#options.onFenced?.();
      return;
    }
    if (result === "unknown") {
      this.#options.log.warn(
        "the bus has no record of this agent (its Redis lost its data?): its timer is lost",
        { timerId: timer.id },
      );
    }
    this.#forget(timer.id);
    if (result === "fired") this.#options.onFired?.(timer);
    this.#arm();
  }

  #failed(generation: number, timer: AgentTimer, error: unknown): void {
    this.#inFlight = undefined;
    if (generation !== this.#generation) {
      this.#arm();
      return;
    }
    const { log } = this.#options;
    // Waiting will not make a refused timer acceptable (its message is over the bus's limit):
    // retrying it would hold back every timer after it.
    if (error instanceof GuildhallError && error.code === "invalid-argument") {
      log.error("the bus refused a timer's message; the timer is dropped", {
        timerId: timer.id,
        error: errorMessage(error),
      });
      this.#forget(timer.id);
      this.#arm();
      return;
    }
    if (this.#failures % 20 === 0) {
      log.warn("firing a timer failed; retrying until the bus answers", {
        timerId: timer.id,
        error: errorMessage(error),
      });
    }
    this.#failures += 1;
    clearTimeout(this.#handle);
    this.#handle = setTimeout(AgentTimers.#wake, this.#retryDelayMs, this);
    this.#handle.unref();
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, MAX_RETRY_DELAY_MS);
  }

  #forget(id: string): void {
    const at = this.#timers.findIndex((timer) => timer.id === id);
    if (at >= 0) this.#timers.splice(at, 1);
  }
}
