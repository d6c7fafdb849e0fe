// A durable agent: a memory of notes that survives every restart of its process and every move to
// another host. Run it with `guildhall dev examples/memory/guild.yaml --send '{"note":"hello"}'`.
import { Agent, type JsonValue, type MessageContext } from "@guildhall/core";

/** Properties of {@link Memory}, from the guild file. */
export interface MemoryProperties {
  /** How many notes to keep. Default 5. */
  keep?: number;
}

/** What the agent remembers: its durable state. */
export interface MemoryState {
  [key: string]: JsonValue;
  /** The last notes, oldest first. */
  notes: string[];
  /** How many notes it was ever sent. */
  seen: number;
}

/**
 * Answers `{ note }` with the notes it remembers. Its state is loaded before every start and
 * committed with each message it handles, together with its reply: after a crash it goes on from
 * the last note it answered, and a note is never counted twice.
 */
export class Memory extends Agent<MemoryProperties, MemoryState> {
  override initialState(): MemoryState {
    return { notes: [], seen: 0 };
  }

  async onMessage(ctx: MessageContext): Promise<void> {
    const payload = ctx.payload;
    const note =
      typeof payload === "object" && payload !== null && !Array.isArray(payload)
        ? payload.note
        : undefined;
    if (typeof note !== "string") return;
    this.state.seen += 1;
    this.state.notes = [...this.state.notes, note].slice(-(this.properties.keep ?? 5));
    await ctx.reply({ seen: this.state.seen, remembered: this.state.notes });
  }
}
