// The reading side of a RedisBus, spread over as many blocking reads as its streams need: each
// StreamReader covers at most `maxStreamsPerRead` streams on a connection of its own. A blocked
// XREAD costs Redis a walk over all its keys whenever an entry wakes it, so one read over every
// stream of a host with thousands of sleeping agents would make each publish cost milliseconds of
// Redis time; bounded reads keep that cost flat (docs/decisions/0015-sleeping-agents.md).
import type { RedisSubscription } from "./redis-subscription.js";
import type { StreamReader } from "./stream-reader.js";

/** Reads every subscribed stream of one bus, each stream on one of a few blocking reads. */
export class StreamReaders {
  readonly #open: () => StreamReader;
  readonly #maxStreamsPerRead: number;
  readonly #readers: StreamReader[] = [];
  /** Which reader reads each stream: a stream stays on its reader while anyone reads it. */
  readonly #readerOf = new Map<string, StreamReader>();

  /** `open` makes a reader with a connection of its own, the first one at once. */
  constructor(open: () => StreamReader, maxStreamsPerRead: number) {
    this.#open = open;
    this.#maxStreamsPerRead = maxStreamsPerRead;
    this.#readers.push(open());
  }

  /** Starts handing the entries of `subscription`'s stream after its cursor to it. */
  add(subscription: RedisSubscription): void {
    let reader = this.#readerOf.get(subscription.key);
    if (reader === undefined) {
      reader = this.#readerWithRoom();
      this.#readerOf.set(subscription.key, reader);
    }
    reader.add(subscription);
  }

  /** Stops handing entries to `subscription`; a stream nobody reads leaves its reader. */
  remove(subscription: RedisSubscription): void {
    const reader = this.#readerOf.get(subscription.key);
    if (reader === undefined) return;
    reader.remove(subscription);
    if (!reader.reads(subscription.key)) this.#readerOf.delete(subscription.key);
  }

  /** A subscription whose queue was full takes entries again; see {@link StreamReader.resume}. */
  resume(subscription: RedisSubscription): void {
    this.#readerOf.get(subscription.key)?.resume(subscription);
  }

  /** Ends every read and closes their connections. Idempotent. */
  async close(): Promise<void> {
    this.#readerOf.clear();
    await Promise.all(this.#readers.map((reader) => reader.close()));
  }

  /**
   * The first reader below the limit, or a new one. Readers are never closed before the bus: a
   * host whose sleeping agents come and go would otherwise open and close connections with them.
   */
  #readerWithRoom(): StreamReader {
    const found = this.#readers.find((reader) => reader.streamCount < this.#maxStreamsPerRead);
    if (found !== undefined) return found;
    const reader = this.#open();
    this.#readers.push(reader);
    return reader;
  }
}
