// The agent of the sleep benchmark: a durable counter that answers each message with its count
// and its pid, so the bench sees both that its state survived a sleep and that a new process
// answered (the agent did sleep and wake).
/* global process */
import { Agent } from "@guildhall/core";

/** Keeps `{ count }`, one more per message; replies `{ n, count, pid }`. */
export class Sleeper extends Agent {
  initialState() {
    return { count: 0 };
  }

  async onMessage(ctx) {
    this.setState({ count: this.state.count + 1 });
    await ctx.reply({ n: ctx.payload.n, count: this.state.count, pid: process.pid });
  }
}
