// What the bare children of the relay and n:n figures share (bare-relay-child.mjs,
// bare-pinger-child.mjs): plain ioredis on a RedisBus's own stream layout, one stream per topic
// with the message JSON in field "m" (packages/bus-redis/src/keys.ts), read and written as a bus
// does by default, and nothing of Guildhall in between. Their entries are valid messages, so a
// RedisBus reading the same streams takes them as it takes an agent's.
/* global process, console */
import { Redis } from "ioredis";

/** The field of an entry that holds the message JSON, as the bus writes it. */
const MESSAGE_FIELD = "m";
/** As a RedisBus reads by default: at most 100 entries per XREAD, blocked up to 5 s. */
const READ = ["COUNT", 100, "BLOCK", 5_000];
/** As a RedisBus publishes by default: each stream capped at about 10,000 entries. */
const MAX_LEN = 10_000;

let sequence = 0;

/** A message as a bus carries it: what `createMessage` makes, with an id unique to this process. */
export function messageJson(topic, senderId, payload) {
  return JSON.stringify({
    id: `bare-${process.pid}-${++sequence}`,
    topic,
    sender: { id: senderId },
    format: "json",
    payload,
    timestamp: Date.now(),
  });
}

/**
 * A reading connection blocked in one XREAD on every stream given, and a writing connection for
 * the XADDs, as a RedisBus holds them.
 */
export class BareStreams {
  #reader;
  #writer;
  #stopped = false;

  constructor(url) {
    this.#reader = new Redis(url);
    this.#writer = new Redis(url);
  }

  /** Appends a message's JSON to the stream `key`; resolves once Redis has it. */
  append(key, json) {
    return this.#writer.xadd(key, "MAXLEN", "~", MAX_LEN, "*", MESSAGE_FIELD, json);
  }

  /**
   * Reads `keys` from their current ends until stopped, calling `handle(key, message)` for each
   * entry in order; the appends it returns go out together (pipelined on the writing connection)
   * and are awaited before the next read, as a batch. Resolves once the ends are known: anything
   * appended after that is read.
   */
  async start(keys, handle) {
    // Each stream's last id now, rather than `$` in the first XREAD: what is appended between
    // this resolving and that read being sent is not missed.
    const cursors = await Promise.all(
      keys.map(async (key) => {
        const [last] = await this.#reader.xrevrange(key, "+", "-", "COUNT", 1);
        return last?.[0] ?? "0-0";
      }),
    );
    const loop = async () => {
      while (!this.#stopped) {
        const reply = await this.#reader.xread(...READ, "STREAMS", ...keys, ...cursors);
        const appends = [];
        for (const [key, entries] of reply ?? []) {
          const index = keys.indexOf(key);
          for (const [id, fields] of entries) {
            cursors[index] = id;
            const at = fields.indexOf(MESSAGE_FIELD);
            const appended = handle(key, JSON.parse(fields[at + 1]));
            if (appended !== undefined) appends.push(appended);
          }
        }
        await Promise.all(appends);
      }
    };
    loop().catch((error) => {
      if (this.#stopped) return;
      console.error("bare streams:", error);
      process.exit(1);
    });
  }

  /** Drops both connections (a blocked read included). */
  stop() {
    this.#stopped = true;
    this.#reader.disconnect();
    this.#writer.disconnect();
  }
}

/**
 * Ends the process once its parent goes or tells it to (SIGTERM), after `stop`: a child of the
 * benchmark never outlives it.
 */
export function exitWithParent(stop) {
  const exit = () => {
    stop();
    process.exit(0);
  };
  process.on("SIGTERM", exit);
  process.on("disconnect", exit);
}
