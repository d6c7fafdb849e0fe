// How the page writes numbers, times and JSON.

/** A duration as `850ms`, `12.3s`, `4m 05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const s = Math.round(ms / 1_000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

/** How long ago `at` was, from `now`: `3s ago`. */
export function formatAgo(at: number | undefined, now: number): string {
  return at === undefined ? "never" : `${formatDuration(Math.max(0, now - at))} ago`;
}

/** A time of day with milliseconds, local: `14:03:07.120`. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Bytes as mebibytes: `42 MB`; `-` for unknown. */
export function formatMemory(bytes: number): string {
  return bytes > 0 ? `${Math.round(bytes / 1_048_576)} MB` : "-";
}

/** `value` as JSON on one line, cut to `max` characters. */
export function oneLine(value: unknown, max = 160): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `value` as indented JSON. */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}
