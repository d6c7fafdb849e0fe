// The first stage: splits each job's text into words and deals them out to the workers' inboxes,
// round robin, so the work fans out.
import { Agent, inboxTopic, type MessageContext } from "@guildhall/core";
import { isJob } from "./payloads.js";

/** Properties of {@link Splitter}. */
export interface SplitterProperties {
  /** The ids of the workers to deal words to. */
  workers: string[];
}

/** Deals the words of every `{ text }` on the default topic to the workers, one per inbox. */
export class Splitter extends Agent<SplitterProperties> {
  #next = 0;

  async onMessage(ctx: MessageContext): Promise<void> {
    if (!isJob(ctx.payload)) return;
    const workers = this.properties.workers;
    const words = ctx.payload.text.split(/\s+/).filter((word) => word !== "");
    if (workers.length === 0 || words.length === 0) return;
    const jobId = ctx.message.id;
    await Promise.all(
      words.map((word, part) => {
        const worker = workers[this.#next++ % workers.length] ?? "";
        return ctx.publish(inboxTopic(worker), { jobId, part, parts: words.length, word });
      }),
    );
  }
}
