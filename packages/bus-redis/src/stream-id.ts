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

/** The greatest value of either part of a stream id (an unsigned 64-bit number). */
const MAX_ID_PART = 18_446_744_073_709_551_615n;

/** The id right before `id`: the last one a stream could hold before it. */
function previousStreamId(id: string): string {
  const dash = id.indexOf("-");
  const ms = BigInt(id.slice(0, dash));
  const seq = BigInt(id.slice(dash + 1));
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms > 0n ? `${ms - 1n}-${MAX_ID_PART}` : STREAM_START;
}

/** What `XINFO STREAM` tells the bus: where the stream's ids are, and what it dropped. */
export interface StreamInfo {
  readonly length: number | undefined;
  /** The id of the oldest entry held; undefined when the stream is empty. */
  readonly firstEntryId: string | undefined;
  /** The id of the last entry ever added, deleted or not. */
  readonly lastGeneratedId: string | undefined;
  /** How many entries were ever added (Redis 7.0 or newer). */
  readonly entriesAdded: number | undefined;
  /** The greatest id removed by XDEL (Redis 7.0 or newer; trimming does not set it). */
  readonly maxDeletedEntryId: string | undefined;
}

/** Reads an `XINFO STREAM` reply, a flat list of names and values; the stream exists. */
export function parseStreamInfo(info: unknown): StreamInfo {
  const fields = new Map<unknown, unknown>();
  if (Array.isArray(info)) {
    for (let i = 0; i + 1 < info.length; i += 2) fields.set(info[i], info[i + 1]);
  }
  const id = (name: string): string | undefined => {
    const value = fields.get(name);
    return typeof value === "string" ? value : undefined;
  };
  const count = (name: string): number | undefined => {
    const value = fields.get(name);
    return typeof value === "number" ? value : undefined;
  };
  const first = fields.get("first-entry");
  return {
    length: count("length"),
    firstEntryId: Array.isArray(first) && typeof first[0] === "string" ? first[0] : undefined,
    lastGeneratedId: id("last-generated-id"),
    entriesAdded: count("entries-added"),
    maxDeletedEntryId: id("max-deleted-entry-id"),
  };
}

/**
 * The last id a reader needing every entry after `after` lost, or undefined when it lost none.
 * Trimming drops the oldest entries; Redis records no id for them (`max-deleted-entry-id` counts
 * XDEL only), so a stream that dropped entries and now starts after `after` counts as having
 * dropped what the reader needed, up to just before its first entry. When trimming ended exactly
 * at `after` that is reported too: a reader that close to the cap is worth knowing about.
 */
export function lostAfter(info: StreamInfo, after: string): string | undefined {
  const { length, firstEntryId, lastGeneratedId, entriesAdded, maxDeletedEntryId } = info;
  let lost: string | undefined;
  const consider = (id: string | undefined): void => {
    if (id !== undefined && compareStreamIds(id, after) > 0) {
      if (lost === undefined || compareStreamIds(id, lost) > 0) lost = id;
    }
  };
  consider(maxDeletedEntryId);
  // Before Redis 7.0 (no entries-added) nothing tells a trimmed stream from an untouched one.
  if (entriesAdded !== undefined && length !== undefined && entriesAdded > length) {
    consider(firstEntryId === undefined ? lastGeneratedId : previousStreamId(firstEntryId));
  }
  return lost;
}

/** Whether `error` is Redis saying the stream does not exist (`XINFO STREAM` of no key). */
export function isNoSuchKey(error: unknown): boolean {
  return error instanceof Error && /no such key/i.test(error.message);
}
