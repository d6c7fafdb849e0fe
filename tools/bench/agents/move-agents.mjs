// The agents of the move benchmark: durable counters fed a steady stream of messages while they
// are moved between hosts. Each reply names the process that handled the message, so the bench
// can tell the moved agent's new copy from its old one.
/* global process */
import { Agent } from "@guildhall/core";

/** Keeps `{ count }`, one more per message, and replies `{ n, count, agentId, pid }`. */
export class Streamed extends Agent {
  initialState() {
    return { count: 0 };
  }

  async onMessage(ctx) {
    this.setState({ count: this.state.count + 1 });
    await ctx.reply({
      n: ctx.payload.n,
      count: this.state.count,
      agentId: this.id,
      pid: process.pid,
    });
  }
}
