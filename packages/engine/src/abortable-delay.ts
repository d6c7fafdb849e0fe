// A backoff wait that ends early when the operation is given up, so neither a caller's abort nor
// an engine shutdown waits out a retry delay.

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason as soon as it aborts.
 */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
