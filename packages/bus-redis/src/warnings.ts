// What RedisBus recovers from by itself and still wants someone to know about. Each kind carries a
// readable `message` (what the default reporter prints) and the fields a program would act on.
import type { TrimmedEntries } from "@guildhall/core";

/** A stream entry that is not a valid message: skipped, and delivery goes on with the next. */
export interface MalformedEntryWarning {
  readonly kind: "malformed-entry";
  /** The stream key. */
  readonly key: string;
  /** The entry's stream id. */
  readonly entryId: string;
  /** What was wrong with it. */
  readonly reason: string;
  readonly message: string;
}

/**
 * Reading failed, mostly because the connection dropped; the reader reconnects (or retries) by
 * itself with backoff and resumes after the last entry it delivered.
 */
export interface ReaderFailedWarning {
  readonly kind: "reader-failed";
  readonly error: unknown;
  readonly message: string;
}

/** The reader is reading again after a {@link ReaderFailedWarning}. */
export interface ReaderRecoveredWarning {
  readonly kind: "reader-recovered";
  readonly message: string;
}

/**
 * After a reconnect, a stream was gone or its last id was below what the bus had delivered:
 * Redis lost it (a restart without persistence, a failover to a replica that lagged, a deleted
 * key). The bus reads that stream again from its start, so nothing published since is missed.
 */
export interface StreamResetWarning {
  readonly kind: "stream-reset";
  readonly key: string;
  /** The id the bus had delivered up to. */
  readonly cursor: string;
  /** The stream's last id on the server now, or undefined when the stream did not exist. */
  readonly lastId: string | undefined;
  readonly message: string;
}

/**
 * Entries a subscription had not read were trimmed, so it never gets them: a subscription resumed
 * `after` a position older than what the stream still holds, or the reader was away while the
 * hard cap (`maxLenPerTopic`) trimmed past it. Reported only for subscriptions without their own
 * `onTrimmed`.
 */
export interface TrimmedUnreadWarning extends TrimmedEntries {
  readonly kind: "trimmed-unread";
  /** The stream key. */
  readonly key: string;
  readonly message: string;
}

/** Something RedisBus recovered from by itself, or could not; see each kind. */
export type RedisBusWarning =
  | MalformedEntryWarning
  | ReaderFailedWarning
  | ReaderRecoveredWarning
  | StreamResetWarning
  | TrimmedUnreadWarning;

/** The warning for a stream Redis lost, read again from its start; `server` names the Redis. */
export function streamResetWarning(
  key: string,
  cursor: string,
  lastId: string | undefined,
  server: string,
): StreamResetWarning {
  return {
    kind: "stream-reset",
    key,
    cursor,
    lastId,
    message:
      lastId === undefined
        ? `stream ${key} is gone from Redis at ${server} (restarted without persistence?); reading it again from its start`
        : `stream ${key} on Redis at ${server} ends at ${lastId}, before the last delivered entry ${cursor} (restarted without persistence?); reading it again from its start`,
  };
}

/** The warning for entries of `key` trimmed before a subscription read them. */
export function trimmedUnreadWarning(trimmed: TrimmedEntries, key: string): TrimmedUnreadWarning {
  return {
    kind: "trimmed-unread",
    ...trimmed,
    key,
    message:
      `a subscription of topic "${trimmed.topic}" of guild "${trimmed.guildId}" needed the ` +
      `entries after ${trimmed.after}, but the stream ${key} was trimmed up to ` +
      `${trimmed.lastTrimmed} before they were read: they are lost to it. Raise maxLenPerTopic, ` +
      "or find why the agent (or reader) fell this far behind",
  };
}

/**
 * Hands `warning` to `onWarning` and swallows what the handler throws: a warning reports something
 * the bus recovered from, so a faulty handler must not fail the subscription or stop the reader.
 */
export function deliverWarning(
  onWarning: (warning: RedisBusWarning) => void,
  warning: RedisBusWarning,
): void {
  try {
    onWarning(warning);
  } catch {
    // Deliberately ignored: see above.
  }
}
