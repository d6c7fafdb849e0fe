// The hello pair: an initiator that greets the guild every second and a responder that answers
// each greeting. Run them with `guildhall dev examples/hello/guild.yaml`.
import { Agent, type AgentContext, type JsonValue, type MessageContext } from "@guildhall/core";

/** Properties of {@link Initiator}, from the guild file. */
export interface InitiatorProperties {
  /** Time between two greetings, in milliseconds. Default 1000. */
  intervalMs?: number;
  /** The greeting; a counter is appended. Default "Hello". */
  greeting?: string;
}

function field(payload: JsonValue, name: string): JsonValue | undefined {
  return typeof payload === "object" && payload !== null && !Array.isArray(payload)
    ? payload[name]
    : undefined;
}

/** Greets the guild's default topic every `intervalMs`, and logs the answers it gets. */
export class Initiator extends Agent<InitiatorProperties> {
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;

  override onStart(ctx: AgentContext): void {
    // Greetings go out on a timer rather than once: whoever joins later still hears the next one.
    this.#timer = setInterval(() => {
      this.#sent++;
      const greeting = `${this.properties.greeting ?? "Hello"} #${this.#sent}`;
      ctx.send({ greeting }).catch((error: unknown) => {
        ctx.log.warn("greeting not sent", { error: String(error) });
      });
    }, this.properties.intervalMs ?? 1_000);
  }

  onMessage(ctx: MessageContext): void {
    const reply = field(ctx.payload, "reply");
    if (typeof reply === "string") ctx.log.info("answered", { by: ctx.message.sender.id, reply });
  }

  override onStop(): void {
    clearInterval(this.#timer);
  }
}

/** Answers every greeting with a reply to its sender. */
export class Responder extends Agent {
  async onMessage(ctx: MessageContext): Promise<void> {
    const greeting = field(ctx.payload, "greeting");
    if (typeof greeting !== "string") return;
    await ctx.reply({ reply: `Hi ${ctx.message.sender.id}, got your "${greeting}"` });
  }
}
