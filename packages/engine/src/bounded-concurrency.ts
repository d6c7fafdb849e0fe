// Runs many independent tasks with at most `limit` in flight, so launching a large guild or healing
// a lost host does not open hundreds of agent starts at once.

/** The outcome of one task of {@link settleWithConcurrency}, in input order. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Calls `task` for every item with at most `limit` calls in flight and resolves, once all have
 * settled, with each outcome in the order of `items`. Never rejects.
 */
export async function settleWithConcurrency<I, T>(
  items: readonly I[],
  limit: number,
  task: (item: I, index: number) => Promise<T>,
): Promise<Settled<T>[]> {
  const results = new Array<Settled<T>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { ok: true, value: await task(items[index] as I, index) };
      } catch (error) {
        results[index] = { ok: false, error };
      }
    }
  };
  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
