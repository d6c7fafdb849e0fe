// The agents of the agent-to-agent messaging benchmark. A Pinger on one host and a Ponger on
// another bounce messages through their hosts and Redis; the Pinger times each round trip itself,
// so the figure is what agent code sees: agent → IPC → host → Redis → host → IPC → agent, twice.
import { Agent } from "@guildhall/core";
import { performance } from "node:perf_hooks";

/**
 * Started by `{ rounds }` in its inbox: sends `ping` to its peer's inbox and, on each `pong`,
 * records the round trip and sends the next; finally publishes `{ samplesMs }` on
 * "bench-results". Handlers run one message at a time, so the loop is driven by the pongs rather
 * than awaited inside one handler.
 */
export class Pinger extends Agent {
  #rounds = 0;
  #samples = [];
  #sentAt = 0;

  async onMessage(ctx) {
    const { payload } = ctx;
    if (typeof payload.rounds === "number") {
      this.#rounds = payload.rounds;
      this.#samples = [];
      return this.#ping(ctx);
    }
    if (payload.pong !== undefined) {
      this.#samples.push(performance.now() - this.#sentAt);
      if (this.#samples.length < this.#rounds) return this.#ping(ctx);
      await ctx.publish("bench-results", { samplesMs: this.#samples });
    }
  }

  async #ping(ctx) {
    this.#sentAt = performance.now();
    await ctx.publish(`inbox:${this.properties.peer}`, { ping: this.#samples.length });
  }
}

/** Answers each ping in the sender's inbox. */
export class Ponger extends Agent {
  async onMessage(ctx) {
    if (ctx.payload.ping !== undefined) await ctx.reply({ pong: ctx.payload.ping });
  }
}
