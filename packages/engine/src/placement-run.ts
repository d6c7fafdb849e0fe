import { GuildhallError } from "@guildhall/core";
import { abortableDelay } from "./abortable-delay.js";

/** One placement of an agent in progress: its time budget and what cancels it. */
export class PlacementRun {
  /** The agent being placed, for messages. */
  readonly agentId: string;
  /** The budget it was given, in milliseconds, for messages. */
  readonly budgetMs: number;
  /** When the agent must be ready by, in ms since the epoch. */
  readonly deadline: number;
  readonly signal: AbortSignal;

  constructor(agentId: string, budgetMs: number, signal: AbortSignal) {
    this.agentId = agentId;
    this.budgetMs = budgetMs;
    this.deadline = Date.now() + budgetMs;
    this.signal = signal;
  }

  /** Throws if the run was aborted or its deadline passed. */
  check(): void {
    if (this.signal.aborted) {
      const reason: unknown = this.signal.reason;
      if (reason instanceof GuildhallError) throw reason;
      throw new GuildhallError(
        "aborted",
        `runAgent of "${this.agentId}" was aborted by its signal${reason instanceof Error ? ` (${reason.message})` : ""}; nothing was left behind`,
        { cause: reason },
      );
    }
    if (Date.now() >= this.deadline) throw this.deadlineError();
  }

  /** The time left, in milliseconds; throws once none is. */
  remainingMs(): number {
    const remaining = this.deadline - Date.now();
    if (remaining <= 0) throw this.deadlineError();
    return remaining;
  }

  /** The error of a run out of time; `cause` is the failure that showed it, if any. */
  deadlineError(cause?: unknown): GuildhallError {
    return new GuildhallError(
      "deadline-exceeded",
      `agent "${this.agentId}" was not ready within ${this.budgetMs} ms${cause instanceof Error ? ` (${cause.message})` : ""}; a host still starting it stops it again. Raise runAgent's timeoutMs (or the engine's rpcTimeoutMs) for agents that start slowly`,
      { cause },
    );
  }

  /** Waits for `promise`, but no longer than the run allows. */
  async within<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let fail = (): void => {};
    const guard = new Promise<never>((_, reject) => {
      fail = () => {
        try {
          this.check();
          reject(this.deadlineError());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      timer = setTimeout(fail, Math.max(0, this.deadline - Date.now()));
      this.signal.addEventListener("abort", fail, { once: true });
    });
    try {
      return await Promise.race([promise, guard]);
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener("abort", fail);
    }
  }

  /** Waits `delayMs` before a retry, or what is left of the run if less; throws if the run ends. */
  async backoff(delayMs: number): Promise<void> {
    const delay = Math.min(delayMs, this.remainingMs());
    try {
      await abortableDelay(delay, this.signal);
    } catch {
      this.check();
    }
  }
}
