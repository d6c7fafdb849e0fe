// The agents of the agent-to-agent messaging benchmark. A Pinger on one host and a Ponger on
// another bounce messages through their hosts and Redis; the Pinger times the exchange itself,
// so the figures are what agent code sees: agent → IPC → host → Redis → host → IPC → agent, twice.
import { Agent } from "@guildhall/core";
import { performance } from "node:perf_hooks";

/**
 * Started by a message in its inbox:
 * - `{ rounds }`: sends `ping` to its peer's inbox and, on each `pong`, records the round trip
 *   and sends the next; finally publishes `{ samplesMs }` on its results topic.
 * - `{ burst, window }`: keeps `window` pings in flight until `burst` pongs came back; finally
 *   publishes `{ elapsedMs, messages }` (pings and pongs) on its results topic.
 * Its results topic is `properties.results`, "bench-results" by default (several pairs in one
 * guild each report on a topic of their own).
 * Handlers run one message at a time, so each loop is driven by the pongs rather than awaited
 * inside one handler.
 */
export class Pinger extends Agent {
  #rounds = 0;
  #samples = [];
  #sentAt = 0;
  #burst = undefined;

  async onMessage(ctx) {
    const { payload } = ctx;
    if (typeof payload.rounds === "number") {
      this.#rounds = payload.rounds;
      this.#samples = [];
      this.#burst = undefined;
      return this.#ping(ctx);
    }
    if (typeof payload.burst === "number") {
      this.#burst = { total: payload.burst, sent: 0, received: 0, startedAt: performance.now() };
      const first = Math.min(payload.window ?? 1, payload.burst);
      for (let i = 0; i < first; i++) await this.#burstPing(ctx);
      return;
    }
    if (payload.pong === undefined) return;
    if (this.#burst !== undefined) {
      const burst = this.#burst;
      burst.received += 1;
      if (burst.sent < burst.total) return this.#burstPing(ctx);
      if (burst.received === burst.total) {
        this.#burst = undefined;
        await ctx.publish(this.#results, {
          elapsedMs: performance.now() - burst.startedAt,
          messages: 2 * burst.total,
        });
      }
      return;
    }
    this.#samples.push(performance.now() - this.#sentAt);
    if (this.#samples.length < this.#rounds) return this.#ping(ctx);
    await ctx.publish(this.#results, { samplesMs: this.#samples });
  }

  get #results() {
    return this.properties.results ?? "bench-results";
  }

  async #ping(ctx) {
    this.#sentAt = performance.now();
    await ctx.publish(`inbox:${this.properties.peer}`, { ping: this.#samples.length });
  }

  async #burstPing(ctx) {
    const n = this.#burst.sent++;
    await ctx.publish(`inbox:${this.properties.peer}`, { ping: n });
  }
}

/** Answers each ping in the sender's inbox. */
export class Ponger extends Agent {
  async onMessage(ctx) {
    if (ctx.payload.ping !== undefined) await ctx.reply({ pong: ctx.payload.ping });
  }
}
