// Redis stream ids are `<milliseconds>-<sequence>`, two unsigned 64-bit decimals. They are compared
// part by part as decimal strings (shorter is smaller, then lexically), which is exact for the full
// 64-bit range where a Number would round.

/** The id before every entry: reading after it reads a stream from its start. */
export const STREAM_START = "0-0";

function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative, zero or positive as stream id `a` is before, equal to or after `b`. */
export function compareStreamIds(a: string, b: string): number {
  const dashA = a.indexOf("-");
  const dashB = b.indexOf("-");
  const msA = dashA < 0 ? a : a.slice(0, dashA);
  const msB = dashB < 0 ? b : b.slice(0, dashB);
  const byMs = compareDecimal(msA, msB);
  if (byMs !== 0) return byMs;
  return compareDecimal(dashA < 0 ? "0" : a.slice(dashA + 1), dashB < 0 ? "0" : b.slice(dashB + 1));
}
