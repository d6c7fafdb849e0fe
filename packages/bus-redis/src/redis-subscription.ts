// One subscription of a RedisBus. The reader hands it every entry of its stream; it keeps the ones
// published after it started and delivers them through core's SerialDelivery, so a slow or failing
// handler holds up only this subscription.
import {
  SerialDelivery,
  type Message,
  type MessageHandler,
  type SubscribeOptions,
  type Subscription,
} from "@guildhall/core";
import { STREAM_START, compareStreamIds } from "./stream-id.js";

/** Reports a handler failure of a subscription without its own `onError`. */
export type HandlerErrorReporter = (
  error: unknown,
  message: Message,
  subscription: Subscription,
) => void;

/** A live subscription of a RedisBus. */
export class RedisSubscription implements Subscription {
  readonly #delivery: SerialDelivery;
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
    handler: MessageHandler,
    private readonly options: SubscribeOptions,
    reportError: HandlerErrorReporter,
    private readonly detach: (subscription: RedisSubscription) => void,
  ) {
    this.#delivery = new SerialDelivery(handler, (error, message) =>
      (options.onError ?? ((e, m) => reportError(e, m, this)))(error, message),
    );
  }

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
    this.#delivery.push(json);
  }

  unsubscribe(): Promise<void> {
    if (this.active) {
      this.active = false;
      this.#delivery.close();
      this.detach(this);
    }
    return Promise.resolve();
  }
}
