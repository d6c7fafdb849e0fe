// The agents of the durable-handling benchmark. Each answers every message with one reply, so
// that each handled message commits what a typical one does: a position and one outgoing message,
// and for the Counter a changed state too. The reply carries the request's `n`, so the bench can
// tell when all of a burst was handled.
import { Agent } from "@guildhall/core";

/** Keeps `{ count }`, one more per message: every commit stores a new state. */
export class Counter extends Agent {
  initialState() {
    return { count: 0 };
  }

  async onMessage(ctx) {
    this.setState({ count: this.state.count + 1 });
    await ctx.reply({ n: ctx.payload.n, count: this.state.count });
  }
}

/** Keeps no state: its commits store the position and release the reply, nothing else. */
export class Replier extends Agent {
  async onMessage(ctx) {
    await ctx.reply({ n: ctx.payload.n });
  }
}
