// One subscription of a RedisBus. The reader hands it every entry of its stream, some of them more
// than once (a stream is read again from an older position when a subscription resumes `after`
// it); the subscription's own cursor keeps each entry it takes single and in order, and it
// delivers them through core's SerialDelivery, so a slow or failing handler holds up only itself.
import {
  SerialDelivery,
  type Message,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
  type TrimmedEntries,
} from "@guildhall/core";
import { STREAM_START, compareStreamIds } from "./stream-id.js";

/** Reports a handler failure of a subscription without its own `onError`. */
export type HandlerErrorReporter = (
  error: unknown,
  message: Message,
  subscription: Subscription,
) => void;

/** What a subscription is made of. */
export interface RedisSubscriptionInit {
  readonly guildId: string;
  readonly topic: string;
  /** The stream key. */
  readonly key: string;
  /** Entries up to this stream id are not the subscription's: the stream's end, or `after`. */
  readonly start: string;
  readonly handler: MessageHandler;
  readonly options: SubscribeOptions;
  readonly reportError: HandlerErrorReporter;
  /** Reports trimmed entries of a subscription without its own `onTrimmed`. */
  readonly reportTrimmed: (trimmed: TrimmedEntries, key: string) => void;
  /** Removes the subscription from the bus and its reader; called once, on unsubscribe. */
  readonly detach: (subscription: RedisSubscription) => void;
  /** Entries queued for the handler at most; past it the subscription stops taking entries. */
  readonly maxQueued: number;
  /** The subscription's queue drained after it was full: read its stream again from its cursor. */
  readonly resume: (subscription: RedisSubscription) => void;
}

/** A live subscription of a RedisBus. */
export class RedisSubscription implements Subscription {
  readonly guildId: string;
  readonly topic: string;
  readonly key: string;
  readonly #init: RedisSubscriptionInit;
  readonly #delivery: SerialDelivery;
  /** The id of the last entry this subscription took (or skipped as its own sender's). */
  #cursor: string;
  /** The last trimmed id reported, so that each loss is reported once. */
  #reportedTrimmed: string = STREAM_START;
  #active = true;
  /** Its queue filled up: it takes no entry until the queue is down to half. */
  #full = false;
  /** It reads what it missed while full on its own (see StreamReader.resume), not the shared read. */
  #catchingUp = false;
  /** The latest catch-up: only it may hand the subscription back to the shared read. */
  #catchUp = 0;

  constructor(init: RedisSubscriptionInit) {
    this.guildId = init.guildId;
    this.topic = init.topic;
    this.key = init.key;
    this.#init = init;
    this.#cursor = init.start;
    const { onError } = init.options;
    this.#delivery = new SerialDelivery(
      async (message, position) => {
        try {
          await init.handler(message, position);
        } finally {
          this.#drained();
        }
      },
      (error, message) =>
        onError === undefined ? init.reportError(error, message, this) : onError(error, message),
    );
  }

  /** The id of the last entry taken: the subscription needs every entry after it. */
  get cursor(): string {
    return this.#cursor;
  }

  /**
   * Redis lost the stream (see StreamResetWarning): its entries now start again from the lowest
   * ids, all of them published after this subscription started.
   */
  restartFromStreamStart(): void {
    this.#cursor = STREAM_START;
    this.#reportedTrimmed = STREAM_START;
  }

  /** Whether it takes entries of the shared read now: subscribed, not full, not catching up. */
  get takesEntries(): boolean {
    return this.#active && !this.#full && !this.#catchingUp;
  }

  /** Whether it takes the entries of its own catch-up read now: subscribed and not full. */
  get takesCatchUp(): boolean {
    return this.#active && !this.#full;
  }

  /** Leaves the shared read for a catch-up; returns the token that ends it. */
  beginCatchUp(): number {
    this.#catchingUp = true;
    return ++this.#catchUp;
  }

  /**
   * Ends catch-up `token`, unless a later one began meanwhile (its queue emptied again before the
   * earlier one had returned): handing the subscription back then would let the shared read skip
   * it past entries the later catch-up has still to read.
   */
  endCatchUp(token: number): void {
    if (token === this.#catchUp) this.#catchingUp = false;
  }

  /** Entries queued for its handler. */
  get queued(): number {
    return this.#delivery.length;
  }

  /**
   * Takes entry `entryId` of the stream, whose message `json` was sent by `senderId`. A full queue
   * takes nothing and keeps its cursor: the entries stay in Redis and are read again once it has
   * room, so a slow handler holds memory for `maxQueued` messages, not for all it is behind.
   */
  offer(
    entryId: string,
    senderId: string | undefined,
    json: string | undefined,
    catchUp = false,
  ): void {
    if (!(catchUp ? this.takesCatchUp : this.takesEntries)) return;
    if (compareStreamIds(entryId, this.#cursor) <= 0) return;
    if (this.#delivery.length >= this.#init.maxQueued) {
      this.#full = true;
      return;
    }
    this.#cursor = entryId;
    // A malformed entry (reported by the reader) is passed over.
    if (json === undefined || senderId === this.#init.options.excludeSender) return;
    this.#delivery.push(json, entryId);
  }

  #drained(): void {
    if (!this.#full || !this.#active) return;
    if (this.#delivery.length > this.#init.maxQueued / 2) return;
    this.#full = false;
    this.#init.resume(this);
  }

  /** Tells whoever listens that the entries after the cursor up to `lastTrimmed` are gone. */
  reportTrimmed(lastTrimmed: string): void {
    if (!this.#active || compareStreamIds(lastTrimmed, this.#reportedTrimmed) <= 0) return;
    this.#reportedTrimmed = lastTrimmed;
    const { guildId, topic, key } = this;
    const trimmed: TrimmedEntries = { guildId, topic, after: this.#cursor, lastTrimmed };
    try {
      const { onTrimmed } = this.#init.options;
      if (onTrimmed === undefined) this.#init.reportTrimmed(trimmed, key);
      else onTrimmed(trimmed);
    } catch {
      // A reporter that throws must not stop the subscription or the reader.
    }
  }

  unsubscribe(): Promise<void> {
    if (this.#active) {
      this.#active = false;
      this.#delivery.close();
      this.#init.detach(this);
    }
    return Promise.resolve();
  }
}
