// The last stage: gathers the workers' results of each job and, once every word is in, publishes
// one summary on the default topic.
import { Agent, type MessageContext } from "@guildhall/core";
import { isPieceResult, type PieceResult } from "./payloads.js";

/** Collects `results` by job and sends `{ jobId, words, letters, vowels, longest, byWorker }`. */
export class Gatherer extends Agent {
  readonly #jobs = new Map<string, PieceResult[]>();

  async onMessage(ctx: MessageContext): Promise<void> {
    const result = ctx.payload;
    if (!isPieceResult(result)) return;
    const pieces = this.#jobs.get(result.jobId) ?? [];
    pieces.push(result);
    this.#jobs.set(result.jobId, pieces);
    if (pieces.length < result.parts) return;
    this.#jobs.delete(result.jobId);
    const byWorker: Record<string, number> = {};
    for (const piece of pieces) byWorker[piece.worker] = (byWorker[piece.worker] ?? 0) + 1;
    const longest = pieces.reduce((a, b) => (b.letters > a.letters ? b : a));
    await ctx.send({
      jobId: result.jobId,
      words: pieces.length,
      letters: pieces.reduce((sum, piece) => sum + piece.letters, 0),
      vowels: pieces.reduce((sum, piece) => sum + piece.vowels, 0),
      longest: longest.word,
      byWorker,
    });
  }
}
