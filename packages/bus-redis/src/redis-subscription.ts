// One subscription of a RedisBus. The reader hands it every entry of its stream; it keeps the ones
// published after it started, queues them and drains the queue with its own loop, so a slow or
// failing handler holds up only this subscription. The queue holds JSON text and each delivery
// parses its own copy, so subscribers never share mutable objects.
import type { Message, MessageHandler, SubscribeOptions, Subscription } from "@guildhall/core";
import { STREAM_START, compareStreamIds } from "./stream-id.js";

/** Reports a handler failure of a subscription without its own `onError`. */
export type HandlerErrorReporter = (
  error: unknown,
  message: Message,
  subscription: Subscription,
) => void;

/** A live subscription of a RedisBus. */
export class RedisSubscription implements Subscription {
  private queue: string[] = [];
  private head = 0;
  private draining = false;
  private active = true;

  /**
   * @param startId Entries up to this stream id were there before the subscription: skipped.
   * @param detach Removes the subscription from the reader; called once, on unsubscribe.
   */
  constructor(
    readonly guildId: string,
    readonly topic: string,
    readonly key: string,
    private startId: string,
    private readonly handler: MessageHandler,
    private readonly options: SubscribeOptions,
    private readonly reportError: HandlerErrorReporter,
    private readonly detach: (subscription: RedisSubscription) => void,
  ) {}

  /**
   * Redis lost the stream (see StreamResetWarning): its entries now start again from the lowest
   * ids, all of them published after this subscription started.
   */
  restartFromStreamStart(): void {
    this.startId = STREAM_START;
  }

  /** Takes entry `entryId` of the stream, whose message `json` was sent by `senderId`. */
  offer(entryId: string, senderId: string, json: string): void {
    if (!this.active || compareStreamIds(entryId, this.startId) <= 0) return;
    if (senderId === this.options.excludeSender) return;
    this.queue.push(json);
    if (!this.draining) {
      this.draining = true;
      queueMicrotask(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    while (this.active && this.head < this.queue.length) {
      const json = this.queue[this.head]!;
      this.head += 1;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const message = JSON.parse(json) as Message;
      try {
        await this.handler(message);
      } catch (error) {
        try {
          (this.options.onError ?? ((e, m) => this.reportError(e, m, this)))(error, message);
        } catch {
          // An error reporter that throws must not stop delivery either.
        }
      }
    }
    this.draining = false;
  }

  unsubscribe(): Promise<void> {
    if (this.active) {
      this.active = false;
      this.queue = [];
      this.head = 0;
      this.detach(this);
    }
    return Promise.resolve();
  }
}
