// Turns a listener-based event source into the async iterable a server-streaming handler yields
// from: events queue up while the client reads slowly, and the stream ends when `signal` aborts
// (the client cancelled, or the host is shutting down).

/**
 * Yields every value `subscribe` pushes from the moment it is called until `signal` aborts.
 * `subscribe` returns the function that removes its listener; it runs when the stream ends.
 */
export async function* eventStream<T>(
  subscribe: (push: (value: T) => void) => () => void,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const unsubscribe = subscribe((value) => {
    queue.push(value);
    notify();
  });
  signal.addEventListener("abort", notify);
  try {
    for (;;) {
      let next = queue.shift();
      while (next !== undefined) {
        yield next;
        next = queue.shift();
      }
      if (signal.aborted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", notify);
  }
}
