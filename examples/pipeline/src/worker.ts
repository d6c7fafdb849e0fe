// The middle stage: each worker analyses the words dealt to its inbox and publishes what it found
// on the `results` topic.
import { Agent, type MessageContext } from "@guildhall/core";
import { isPiece } from "./payloads.js";

/** Counts the letters and vowels of each word it is sent. */
export class Worker extends Agent {
  async onMessage(ctx: MessageContext): Promise<void> {
    if (!isPiece(ctx.payload)) return;
    const { jobId, part, parts, word } = ctx.payload;
    await ctx.publish("results", {
      jobId,
      part,
      parts,
      word,
      letters: word.replace(/[^\p{L}]/gu, "").length,
      vowels: word.replace(/[^aeiouy]/gi, "").length,
      worker: this.id,
    });
  }
}
