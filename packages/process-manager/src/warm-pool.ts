// Pre-started, idle runner processes. Forking Node and loading @guildhall/core is nearly all of an
// agent's start-up cost, so a spawn that finds an idle runner only sends it the spec. The pool
// refills in the background, one fork at a time so it never competes with a cold spawn for more
// than one core.
import { GuildhallError } from "@guildhall/core";
import type { RunnerProcess } from "./runner-process.js";

/** What the pool needs from its owner. */
export interface WarmPoolOptions {
  /** Idle processes to keep (0 disables the pool). */
  readonly size: number;
  /** Forks a runner with the default exec arguments. */
  readonly fork: () => RunnerProcess;
  /** Pool processes the host's process limit leaves room for right now. */
  readonly allowed: () => number;
  /** How long a pool process may take to report in and answer before it is killed. */
  readonly startTimeoutMs: number;
  /** How long a pool process may take to stop before it is killed. */
  readonly stopTimeoutMs: number;
  /** Told when the pool gives up because runners keep dying before they report in. */
  readonly onGiveUp: (error: Error) => void;
}

/** The pool's current contents. */
export interface WarmPoolStatus {
  /** Idle processes to keep. */
  readonly size: number;
  /** Pids of the idle, reported-in processes a spawn can use now. */
  readonly idlePids: readonly number[];
  /** Processes forked but not yet reported in. */
  readonly starting: number;
}

// Runners that die before reporting in this many times in a row mean the runner itself is broken
// (a bad install, a crashing preload); forking on would only spin the CPU.
const MAX_FAILURES_IN_A_ROW = 3;

/** A pool of idle agent runners. */
export class WarmPool {
  readonly #options: WarmPoolOptions;
  readonly #idle: RunnerProcess[] = [];
  #starting: { readonly proc: RunnerProcess; readonly timer: NodeJS.Timeout } | undefined;
  #failuresInARow = 0;
  #closed = false;
  #gaveUp = false;
  #waiters: (() => void)[] = [];

  constructor(options: WarmPoolOptions) {
    this.#options = options;
  }

  /** The idle processes and the one being started. */
  status(): WarmPoolStatus {
    return {
      size: this.#options.size,
      idlePids: this.#idle.map((proc) => proc.pid),
      starting: this.#starting === undefined ? 0 : 1,
    };
  }

  /**
   * Takes an idle runner out of the pool, or else the one being started (it has a head start on
   * any fork the caller would make, and a second fork beside it would only slow both down); the
   * caller owns it from now on and its start timeout is the caller's. The pool does not refill
   * here: forking blocks the host's event loop for a moment, so the caller calls {@link refill}
   * once its spawn has settled.
   */
  take(): RunnerProcess | undefined {
    for (;;) {
      const proc = this.#idle.shift();
      // One killed from outside can still be listed until its exit is processed.
      if (proc === undefined) break;
      if (proc.connected) return proc;
    }
    const starting = this.#starting;
    if (starting === undefined || !starting.proc.connected) return undefined;
    clearTimeout(starting.timer);
    this.#starting = undefined;
    return starting.proc;
  }

  /**
   * Brings the pool to its target (`size`, less what the process limit leaves free), forking in
   * the background or stopping surplus idle processes.
   */
  refill(): void {
    if (this.#closed) return;
    const target = this.#target();
    while (this.#idle.length > target) {
      const surplus = this.#idle.pop();
      if (surplus !== undefined) void this.#stop(surplus);
    }
    if (this.#starting === undefined && !this.#gaveUp && this.#idle.length < target) {
      this.#startOne();
    }
    this.#notify();
  }

  /** Resolves once the pool is at its target, has given up, or is closed. */
  whenFull(): Promise<void> {
    if (this.#isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Stops every pool process and waits until they have exited. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#idle.splice(0)];
    if (this.#starting !== undefined) {
      clearTimeout(this.#starting.timer);
      all.push(this.#starting.proc);
    }
    this.#starting = undefined;
    this.#notify();
    await Promise.all(all.map((proc) => this.#stop(proc)));
  }

  #target(): number {
    return Math.max(0, Math.min(this.#options.size, this.#options.allowed()));
  }

  #isSettled(): boolean {
    return (
      this.#closed ||
      this.#gaveUp ||
      (this.#starting === undefined && this.#idle.length >= this.#target())
    );
  }

  #notify(): void {
    if (!this.#isSettled()) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  #startOne(): void {
    let proc: RunnerProcess;
    try {
      proc = this.#options.fork();
    } catch (error) {
      this.#failed(error as Error);
      return;
    }
    // A runner that never reports in (a preload from execArgv that hangs, a stalled machine)
    // would otherwise hold the pool, and everyone awaiting whenFull(), forever.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, this.#options.startTimeoutMs);
    const starting = { proc, timer };
    this.#starting = starting;
    proc.roundTrip().then(
      () => {
        clearTimeout(timer);
        // Taken by a spawn while it started: the spawn owns it.
        if (this.#starting !== starting) return;
        this.#starting = undefined;
        // Idle runners must not keep the host alive; one being started does, so that awaiting
        // whenFull() keeps the event loop running.
        proc.setRef(false);
        this.#failuresInARow = 0;
        this.#idle.push(proc);
        void proc.exited.then(() => {
          // An idle runner died (killed by an operator, OOM): forget it and replace it.
          const at = this.#idle.indexOf(proc);
          if (at >= 0) {
            this.#idle.splice(at, 1);
            this.refill();
          }
        });
        this.refill();
      },
      (error: Error) => {
        clearTimeout(timer);
        if (this.#starting !== starting) return;
        this.#starting = undefined;
        this.#failed(
          timedOut
            ? new GuildhallError(
                "deadline-exceeded",
                `a warm pool runner did not report in within startTimeoutMs=${this.#options.startTimeoutMs} ms and was killed`,
              )
            : error,
        );
      },
    );
  }

  #failed(error: Error): void {
    this.#failuresInARow++;
    if (this.#failuresInARow >= MAX_FAILURES_IN_A_ROW) {
      this.#gaveUp = true;
      this.#options.onGiveUp(error);
      this.#notify();
      return;
    }
    this.refill();
  }

  async #stop(proc: RunnerProcess): Promise<void> {
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), this.#options.stopTimeoutMs);
    await proc.exited;
    clearTimeout(timer);
  }
}
