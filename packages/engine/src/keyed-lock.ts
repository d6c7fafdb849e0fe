// Serializes the engine's own operations on one agent (run, stop, re-place), so that within one
// engine a stop never overtakes the placement it should undo and the reconciler never places an
// agent a caller is placing. Engines in other processes are kept apart by the registry's epochs.

/** Mutual exclusion per key, in arrival order. */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  /** Whether an operation on `key` holds or waits for the lock. */
  isLocked(key: string): boolean {
    return this.#tails.has(key);
  }

  /** Runs `task` once every earlier task of `key` has settled; resolves or rejects with it. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.#tails.set(key, tail);
    try {
      await previous;
      return await task();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
