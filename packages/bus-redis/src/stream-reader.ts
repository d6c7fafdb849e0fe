// One reader of a RedisBus: one connection, one loop, one blocking multi-stream XREAD for every
// subscription of the streams StreamReaders gives it, however many. Why it resumes from per-stream
// cursors, how it notices trimmed entries and a Redis that lost its data, and why new streams
// interrupt the read with CLIENT UNBLOCK: docs/decisions/0011-one-blocking-read-per-bus.md.
import { setImmediate as nextTurn, setTimeout as delay } from "node:timers/promises";
import { ParsedMessage, errorMessage, formatZodIssues } from "@guildhall/core";
import type { RedisErrorMapper } from "@guildhall/registry";
import type { Redis } from "ioredis";
import { disconnectClient } from "./disconnect.js";
import { MESSAGE_FIELD } from "./keys.js";
import type { RedisSubscription } from "./redis-subscription.js";
import {
  STREAM_START,
  compareStreamIds,
  isNoSuchKey,
  lostAfter,
  parseStreamInfo,
} from "./stream-id.js";
import { deliverWarning, streamResetWarning, type RedisBusWarning } from "./warnings.js";

/** What the reader needs from the bus. */
export interface StreamReaderOptions {
  readonly blockMs: number;
  readonly readBatchSize: number;
  /** How much longer than `blockMs` a read may stay unanswered before the connection is dropped. */
  readonly watchdogGraceMs: number;
  /** The longest pause between retries of a read that failed on a live connection. */
  readonly maxRetryDelayMs: number;
  readonly errors: RedisErrorMapper;
  readonly onWarning: (warning: RedisBusWarning) => void;
  /** Sends `CLIENT UNBLOCK <clientId>` on another connection; resolves to what Redis answered. */
  readonly unblock: (clientId: number) => Promise<unknown>;
  /**
   * On another connection: at most `count` entries of stream `key` after `after` (`XRANGE key
   * (after + COUNT count`), and before them, when asked, the stream's `XINFO STREAM` reply.
   */
  readonly range: (
    key: string,
    after: string,
    count: number,
  ) => Promise<[id: string, fields: string[]][]>;
  /** On another connection: `XINFO STREAM key`; undefined when there is no such stream. */
  readonly streamInfo: (key: string) => Promise<unknown>;
}

interface StreamState {
  readonly key: string;
  readonly topic: string;
  /** The id of the last entry handed to the subscriptions. */
  cursor: string;
  readonly subscriptions: Set<RedisSubscription>;
}

interface Read {
  /** Whether a CLIENT UNBLOCK for this read is under way. */
  unblocking: boolean;
  /** The streams read and the cursor each was read after. */
  readonly cursors: ReadonlyMap<StreamState, string>;
}

type XReadReply = [key: string, entries: [id: string, fields: string[]][]][];

/** The longest pause between two CLIENT UNBLOCK attempts for one read, in milliseconds. */
const MAX_UNBLOCK_PAUSE_MS = 20;

/** Whether some subscription of the stream takes entries now (its queue is not full). */
function readable(state: StreamState): boolean {
  for (const subscription of state.subscriptions) if (subscription.takesEntries) return true;
  return false;
}

/** Reads every subscribed stream of one bus with one blocking XREAD at a time. */
export class StreamReader {
  readonly #client: Redis;
  readonly #options: StreamReaderOptions;
  readonly #streams = new Map<string, StreamState>();
  readonly #abort = new AbortController();
  #inFlight: Read | undefined;
  /** The reader connection's CLIENT ID, known from the first read after each (re)connect. */
  #clientId: number | undefined;
  #needsSync = true;
  #failing = false;
  #idle: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(client: Redis, options: StreamReaderOptions) {
    this.#client = client;
    this.#options = options;
    client.on("error", (error: Error) => options.errors.connectionFailed(error));
    client.on("close", () => {
      this.#clientId = undefined;
      this.#needsSync = true;
    });
  }

  get #closed(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Starts handing the entries of `subscription`'s stream after its cursor to it. */
  add(subscription: RedisSubscription): void {
    if (this.#closed) return;
    const startId = subscription.cursor;
    let state = this.#streams.get(subscription.key);
    if (state === undefined) {
      state = {
        key: subscription.key,
        topic: subscription.topic,
        cursor: startId,
        subscriptions: new Set(),
      };
      this.#streams.set(subscription.key, state);
      this.#wake();
    } else if (compareStreamIds(startId, state.cursor) < 0) {
      state.cursor = startId;
      this.#wake();
    } else if (!readable(state)) {
      // Left out of the reads while every subscription of it was full.
      this.#wake();
    }
    state.subscriptions.add(subscription);
    this.#loop ??= this.#run();
  }

  /** How many streams this reader reads. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Whether this reader reads the stream `key`. */
  reads(key: string): boolean {
    return this.#streams.has(key);
  }

  /** Stops handing entries to `subscription`; a stream nobody reads leaves the next read. */
  remove(subscription: RedisSubscription): void {
    const state = this.#streams.get(subscription.key);
    if (state === undefined) return;
    state.subscriptions.delete(subscription);
    if (state.subscriptions.size === 0) this.#streams.delete(subscription.key);
  }

  /** Ends the blocking read and the loop, and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#abort.abort();
      this.#streams.clear();
      this.#idle?.();
      await disconnectClient(this.#client);
    }
    await this.#loop;
  }

  #warn(warning: RedisBusWarning): void {
    deliverWarning(this.#options.onWarning, warning);
  }

  /**
   * A stream was added or its cursor lowered: the loop must read it anew, whether it idles or
   * blocks on the others.
   */
  #wake(): void {
    this.#idle?.();
    const read = this.#inFlight;
    const clientId = this.#clientId;
    if (read === undefined || clientId === undefined || read.unblocking) return;
    read.unblocking = true;
    void this.#unblock(read, clientId);
  }

  async #unblock(read: Read, clientId: number): Promise<void> {
    // Until the read is answered: giving up earlier would leave a new stream unread for up to
    // blockMs on a machine too busy to get the read to Redis quickly. The read ends within blockMs
    // (plus the watchdog's grace) in any case, which bounds these attempts.
    for (let attempt = 0; ; attempt++) {
      if (this.#inFlight !== read || this.#closed) return;
      let answer: unknown;
      try {
        answer = await this.#options.unblock(clientId);
      } catch {
        return; // The command connection is down too; the read ends within blockMs anyway.
      }
      if (answer === 1) return;
      // 0: the read has not reached Redis yet (or has just been answered): try again shortly.
      try {
        await delay(Math.min(1 + attempt, MAX_UNBLOCK_PAUSE_MS), undefined, {
          signal: this.#abort.signal,
        });
      } catch {
        return;
      }
    }
  }

  /**
   * A subscription that stopped taking entries (its queue was full) takes them again: it is told
   * of entries trimmed while they waited in Redis, reads the ones it missed with `range` on the
   * command connection, and rejoins the shared read once it has caught up with it.
   */
  resume(subscription: RedisSubscription): void {
    const state = this.#streams.get(subscription.key);
    if (state === undefined || this.#closed) return;
    // What the others of its stream took meanwhile it reads on its own, so they never wait for its
    // gap to be read again; then it rejoins the shared read (and so does its stream, if it was
    // left out while all its subscriptions were full).
    const token = subscription.beginCatchUp();
    void this.#catchUp(state, subscription).finally(() => {
      subscription.endCatchUp(token);
      this.#wake();
    });
  }

  async #catchUp(state: StreamState, subscription: RedisSubscription): Promise<void> {
    const { range, streamInfo, readBatchSize } = this.#options;
    try {
      // While it was full its entries waited in Redis, where the hard cap may have trimmed some:
      // it is told, as after a reconnect, rather than losing them silently.
      const lost = lostAfter(parseStreamInfo(await streamInfo(state.key)), subscription.cursor);
      if (lost !== undefined) subscription.reportTrimmed(lost);
      // Caught up once its cursor reaches the shared read's: checked in the same turn as the
      // shared read's next dispatch could run, so no entry falls between the two.
      while (
        subscription.takesCatchUp &&
        this.#streams.get(state.key) === state &&
        compareStreamIds(subscription.cursor, state.cursor) < 0
      ) {
        const entries = await range(state.key, subscription.cursor, readBatchSize);
        if (entries.length === 0) return;
        for (const [entryId, fields] of entries) {
          const entry = this.#parse(state, entryId, fields);
          subscription.offer(entryId, entry?.senderId, entry?.json, true);
        }
      }
    } catch (error) {
      // Redis failed under it: the shared read takes over from its cursor, re-reading for all.
      if (this.#streams.get(state.key) !== state || this.#closed) return;
      if (compareStreamIds(subscription.cursor, state.cursor) < 0)
        state.cursor = subscription.cursor;
      this.#warn({
        kind: "reader-failed",
        error,
        message: `reading the entries a full subscription of ${state.key} missed failed (${this.#options.errors.scrub(errorMessage(error))}); the stream is read again from there`,
      });
    }
  }

  /** The streams some subscription takes entries of now: the others wait out of the read. */
  #readable(): StreamState[] {
    return [...this.#streams.values()].filter(readable);
  }

  async #run(): Promise<void> {
    let retryDelayMs = 50;
    while (!this.#closed) {
      if (this.#streams.size === 0) {
        await new Promise<void>((resolve) => (this.#idle = resolve));
        this.#idle = undefined;
        continue;
      }
      try {
        await this.#ready();
        if (this.#closed) break;
        if (this.#needsSync) await this.#sync();
        if (this.#failing) {
          this.#failing = false;
          this.#warn({
            kind: "reader-recovered",
            message: `reading from Redis at ${this.#options.errors.display} again; resuming after the last delivered message of each topic`,
          });
        }
        retryDelayMs = 50;
        // Everything may have been unsubscribed while connecting, or every subscription be full:
        // XREAD needs at least one stream, and resume() or add() ends the wait.
        const states = this.#readable();
        if (states.length === 0) {
          await new Promise<void>((resolve) => (this.#idle = resolve));
          this.#idle = undefined;
          continue;
        }
        const { reply, read } = await this.#read(states);
        if (reply !== null) {
          this.#dispatch(reply, read);
          // What the handlers write first (a host hands the message to its agent process) goes
          // out before the next read is written: each write that wakes another process costs
          // tens of microseconds, which the message would otherwise wait for.
          await nextTurn();
        }
      } catch (error) {
        if (this.#closed) break;
        this.#needsSync = true;
        if (!this.#failing) {
          this.#failing = true;
          const reason = this.#options.errors.scrub(errorMessage(error));
          this.#warn({
            kind: "reader-failed",
            error,
            message: `reading from Redis at ${this.#options.errors.display} failed (${reason}); retrying with backoff, no message Redis keeps is lost`,
          });
        }
        // On a live connection (a reply error) nothing else paces the retries.
        if (this.#client.status === "ready") {
          await delay(retryDelayMs, undefined, { signal: this.#abort.signal }).catch(() => {});
          retryDelayMs = Math.min(retryDelayMs * 2, this.#options.maxRetryDelayMs);
        }
      }
    }
  }

  /** Resolves once the connection is ready (or the reader closed); connects when idle. */
  async #ready(): Promise<void> {
    const client = this.#client;
    if (client.status === "ready") return;
    if (client.status === "wait" || client.status === "end") {
      // Connection failures arrive as "error" events and are retried by ioredis itself.
      client.connect().catch(() => {});
    }
    const signal = this.#abort.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        client.off("ready", done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      client.on("ready", done);
      signal.addEventListener("abort", done);
    });
  }

  /** After a (re)connect: learn the connection's id and restart the streams Redis lost. */
  async #sync(): Promise<void> {
    const clientId = await this.#client.client("ID");
    const states = [...this.#streams.values()];
    const pipeline = this.#client.pipeline();
    for (const state of states) pipeline.xinfo("STREAM", state.key);
    const results = (await pipeline.exec()) ?? [];
    states.forEach((state, i) => {
      const [error, reply] = results[i] ?? [new Error("no reply to XINFO STREAM"), undefined];
      if (error !== null && !isNoSuchKey(error)) throw error;
      const info = parseStreamInfo(error === null ? reply : undefined);
      if (this.#streams.get(state.key) !== state) return;
      const lastId = info.lastGeneratedId;
      if (
        state.cursor !== STREAM_START &&
        (lastId === undefined || compareStreamIds(lastId, state.cursor) < 0)
      ) {
        const cursor = state.cursor;
        state.cursor = STREAM_START;
        for (const subscription of state.subscriptions) subscription.restartFromStreamStart();
        this.#warn(streamResetWarning(state.key, cursor, lastId, this.#options.errors.display));
      }
      // Every subscription's cursor is at or after the stream's: all it lacks is still unread.
      for (const subscription of state.subscriptions) {
        const lost = lostAfter(info, subscription.cursor);
        if (lost !== undefined) subscription.reportTrimmed(lost);
      }
    });
    this.#clientId = clientId;
    this.#needsSync = false;
  }

  async #read(states: readonly StreamState[]): Promise<{ reply: XReadReply | null; read: Read }> {
    const keys = states.map((state) => state.key);
    const cursors = states.map((state) => state.cursor);
    const read: Read = {
      unblocking: false,
      cursors: new Map(states.map((state) => [state, state.cursor])),
    };
    this.#inFlight = read;
    // A read that outlives its block by this much is on a dead connection (a partition, a hung
    // server): drop it and let the reconnect and resync take over.
    const watchdog = setTimeout(() => {
      if (this.#inFlight === read) this.#client.disconnect(true);
    }, this.#options.blockMs + this.#options.watchdogGraceMs);
    try {
      const reply = await this.#client.xread(
        "COUNT",
        this.#options.readBatchSize,
        "BLOCK",
        this.#options.blockMs,
        "STREAMS",
        ...keys,
        ...cursors,
      );
      return { reply, read };
    } finally {
      clearTimeout(watchdog);
      if (this.#inFlight === read) this.#inFlight = undefined;
    }
  }

  #dispatch(reply: XReadReply, read: Read): void {
    for (const [key, entries] of reply) {
      const state = this.#streams.get(key);
      // The stream was removed (and maybe added again), or its cursor lowered, since this read
      // was issued: the entries between its cursor now and the read's would be skipped.
      if (state === undefined || read.cursors.get(state) !== state.cursor) continue;
      for (const [entryId, fields] of entries) {
        state.cursor = entryId;
        const entry = this.#parse(state, entryId, fields);
        if (entry === undefined) continue;
        for (const subscription of state.subscriptions) {
          subscription.offer(entryId, entry.senderId, entry.json);
        }
      }
    }
  }

  #parse(
    state: StreamState,
    entryId: string,
    fields: string[],
  ): { senderId: string; json: string } | undefined {
    const malformed = (reason: string): undefined => {
      this.#warn({
        kind: "malformed-entry",
        key: state.key,
        entryId,
        reason,
        message: `skipped entry ${entryId} of stream ${state.key}: ${reason}. Publish only through a MessageBus, which writes valid messages`,
      });
      return undefined;
    };
    let json: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === MESSAGE_FIELD) json = fields[i + 1];
    }
    if (json === undefined) return malformed(`it has no "${MESSAGE_FIELD}" field`);
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (error) {
      return malformed(`its message is not JSON (${(error as Error).message})`);
    }
    // Parsed from JSON, its payload is JSON: the compiled check of the rest is all it needs.
    const result = ParsedMessage.safeParse(value);
    if (!result.success) {
      return malformed(`not a valid message: ${formatZodIssues(result.error.issues).join("; ")}`);
    }
    if (result.data.topic !== state.topic) {
      return malformed(
        `its topic "${result.data.topic}" is not the stream's topic "${state.topic}"`,
      );
    }
    return { senderId: result.data.sender.id, json };
  }
}
