// What RedisBus recovers from by itself and still wants someone to know about. Each kind carries a
// readable `message` (what the default reporter prints) and the fields a program would act on.

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

/** Something RedisBus recovered from by itself; see each kind. */
export type RedisBusWarning =
  MalformedEntryWarning | ReaderFailedWarning | ReaderRecoveredWarning | StreamResetWarning;
