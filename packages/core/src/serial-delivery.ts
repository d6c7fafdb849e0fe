// The delivery loop every subscription of a MessageBus needs: messages handed to one handler one at
// a time, in the order they were queued, so that a slow or failing handler holds up only its own
// subscription. The queue holds JSON text and each delivery parses its own copy, so subscribers
// never share mutable objects.
import type { TopicPosition } from "./agent-store.js";
import type { Message } from "./message.js";
import type { MessageHandler } from "./message-bus.js";
import { rememberValidMessage } from "./validation.js";

// Past this many delivered entries at the front, the queue is compacted (when that halves it).
const COMPACT_AFTER = 1024;

/**
 * Delivers queued messages to one handler, one call at a time and in order; for implementations
 * of {@link MessageBus}. A handler that throws is reported to `onError` and delivery goes on.
 *
 * @example
 * ```ts
 * const delivery = new SerialDelivery(handler, (error, message) => console.error(message.id, error));
 * delivery.push(JSON.stringify(message), "1700000000000-0"); // the handler runs on a later microtask
 * delivery.close(); // drops what is still queued
 * ```
 */
export class SerialDelivery {
  readonly #handler: MessageHandler;
  readonly #onError: (error: unknown, message: Message) => void;
  // JSON text and position, alternating: one array instead of an object per queued message.
  #queue: string[] = [];
  #head = 0;
  #draining = false;
  #closed = false;

  constructor(handler: MessageHandler, onError: (error: unknown, message: Message) => void) {
    this.#handler = handler;
    this.#onError = onError;
  }

  /** Messages queued and not yet handed to the handler. */
  get length(): number {
    return (this.#queue.length - this.#head) / 2;
  }

  /**
   * Queues a message, as its JSON text, with its position in its topic. Never calls the handler
   * before the caller's next await. Queue only JSON the bus validated as a message: what is
   * delivered counts as valid from then on (`validateMessage` does not check it again).
   */
  push(json: string, position: TopicPosition): void {
    if (this.#closed) return;
    this.#queue.push(json, position);
    if (!this.#draining) {
      this.#draining = true;
      queueMicrotask(() => void this.#drain());
    }
  }

  /** Drops what is still queued; a handler call in progress finishes. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
  }

  async #drain(): Promise<void> {
    while (!this.#closed && this.#head < this.#queue.length) {
      const json = this.#queue[this.#head]!;
      const position = this.#queue[this.#head + 1]!;
      this.#head += 2;
      if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      // Every bus validates a message's JSON before it queues it here.
      const message = rememberValidMessage(JSON.parse(json) as Message);
      try {
        await this.#handler(message, position);
      } catch (error) {
        try {
          this.#onError(error, message);
        } catch {
          // An error reporter that throws must not stop delivery either.
        }
      }
    }
    this.#draining = false;
  }
}
