// Percentiles of latency samples and their ratios to a yardstick measured in the same run.
export { inParallel } from "../test-support/in-parallel.js";

/** p50, p95 and p99 of a set of samples, with how many there were. */
export interface Percentiles {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** The sample at quantile `q` (nearest rank, no interpolation: every figure is a real sample). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** p50/p95/p99 of `values`. */
export function percentiles(values: readonly number[]): Percentiles {
  return {
    n: values.length,
    p50: quantile(values, 0.5),
    p95: quantile(values, 0.95),
    p99: quantile(values, 0.99),
  };
}

/** Each percentile of `figure` divided by the same percentile of `limit`. */
export function ratios(
  figure: Percentiles,
  limit: Percentiles,
  limitFactor = 1,
): { p50: number; p95: number; p99: number } {
  return {
    p50: figure.p50 / (limit.p50 * limitFactor),
    p95: figure.p95 / (limit.p95 * limitFactor),
    p99: figure.p99 / (limit.p99 * limitFactor),
  };
}

/** Milliseconds since `start` (a `performance.now()` reading). */
export function since(start: number): number {
  return performance.now() - start;
}

/** Times one call, in milliseconds. */
export async function timed(call: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await call();
  return since(start);
}
