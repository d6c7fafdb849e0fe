// Agents the execution-engine contract suite runs. Agent processes import this file by className
// (an absolute path), so it imports nothing but @guildhall/core: never vitest, never this
// package's index.
import { Agent } from "@guildhall/core";
import type { AgentContext, JsonValue, MessageContext } from "@guildhall/core";

/** The payload a probe answers with a pong: the contract suite's sentinel. */
interface PingPayload {
  probe: "ping";
  token: string;
}

function isObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPing(value: JsonValue): value is PingPayload & { [key: string]: JsonValue } {
  return isObject(value) && value.probe === "ping" && typeof value.token === "string";
}

/** Whether the payload is the suite's own traffic or a probe's answer: never echoed. */
function isProbeTraffic(value: JsonValue): boolean {
  return (
    isObject(value) &&
    ("probe" in value || "echo" in value || "event" in value || "ownMessageReceived" in value)
  );
}

/**
 * The suite's own traffic, which every probe handles first:
 * - answers `{ probe: "ping", token }` with `{ probe: "pong", token, agentId }`. Since an agent
 *   handles one message at a time, a pong proves that everything the agent did about earlier
 *   messages of the topic has been published;
 * - reports a message of its own, which an engine must never deliver, by publishing
 *   `{ ownMessageReceived: <its id>, agentId }` on its topic.
 */
abstract class ProbeAgent<
  Props = Record<string, unknown>,
  State extends JsonValue = JsonValue,
> extends Agent<Props, State> {
  protected async handleProbeTraffic(ctx: MessageContext): Promise<boolean> {
    if (ctx.message.sender.id === this.id) {
      if (!(isObject(ctx.payload) && "ownMessageReceived" in ctx.payload)) {
        await ctx.publish(ctx.message.topic, {
          ownMessageReceived: ctx.message.id,
          agentId: this.id,
        });
      }
      return true;
    }
    if (!isPing(ctx.payload)) return false;
    await ctx.reply({ probe: "pong", token: ctx.payload.token, agentId: this.id });
    return true;
  }
}

/** Answers `{ content: "Initiate Flow" }` by sending `{ content: "Hello Responder!" }` to the default topic. */
export class InitiatorAgent extends ProbeAgent {
  async onMessage(ctx: MessageContext): Promise<void> {
    if (await this.handleProbeTraffic(ctx)) return;
    if (isObject(ctx.payload) && ctx.payload.content === "Initiate Flow") {
      await ctx.send({ content: "Hello Responder!" });
    }
  }
}

/** Replies to `{ content: "Hello Responder!" }` with `{ content: "Acknowledged: <its id>" }`. */
export class ResponderAgent extends ProbeAgent {
  async onMessage(ctx: MessageContext): Promise<void> {
    if (await this.handleProbeTraffic(ctx)) return;
    if (isObject(ctx.payload) && ctx.payload.content === "Hello Responder!") {
      await ctx.reply({ content: `Acknowledged: ${ctx.message.id}` });
    }
  }
}

/** Properties of {@link EchoAgent}. */
export interface EchoAgentProperties {
  /** Publish `{ event: "started" | "stopped", agentId }` here from onStart / onStop. Default: none. */
  eventsTopic?: string;
  /** Make onStart take this long (in ms) before it publishes "started": a slow start. Default 0. */
  startDelayMs?: number;
  /** Make onStop take this long (in ms) before it publishes "stopped": a slow stop. Default 0. */
  stopDelayMs?: number;
}

/**
 * Replies to every message with `{ echo: <payload>, agentId }`, except the suite's own traffic,
 * so two echo agents never talk to each other forever. A payload with a string `echoTo` is echoed
 * with `send` to that topic instead, which shows what the agent received whatever `reply` does.
 */
export class EchoAgent extends ProbeAgent<EchoAgentProperties> {
  #context: AgentContext | undefined;

  override async onStart(ctx: AgentContext): Promise<void> {
    this.#context = ctx;
    const delayMs = this.properties.startDelayMs ?? 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (this.properties.eventsTopic !== undefined) {
      await ctx.publish(this.properties.eventsTopic, { event: "started", agentId: this.id });
    }
  }

  async onMessage(ctx: MessageContext): Promise<void> {
    if (await this.handleProbeTraffic(ctx)) return;
    if (isProbeTraffic(ctx.payload)) return;
    const echo = { echo: ctx.payload, agentId: this.id };
    const echoTo = isObject(ctx.payload) ? ctx.payload.echoTo : undefined;
    if (typeof echoTo === "string") await ctx.send(echo, { topic: echoTo });
    else await ctx.reply(echo);
  }

  override async onStop(): Promise<void> {
    const delayMs = this.properties.stopDelayMs ?? 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (this.properties.eventsTopic !== undefined && this.#context !== undefined) {
      await this.#context.publish(this.properties.eventsTopic, {
        event: "stopped",
        agentId: this.id,
      });
    }
  }
}

/** Throws from onStart: runAgent must reject and leave nothing behind. */
export class FailingStartAgent extends ProbeAgent {
  override onStart(): void {
    throw new Error("FailingStartAgent always fails in onStart, as the contract suite expects");
  }

  onMessage(): void {}
}

/** An export that is not an Agent: a className naming it must be refused. */
export class NotAnAgent {
  onMessage(): void {}
}

/** The durable state of {@link CounterAgent}. */
export interface CounterState {
  [key: string]: JsonValue;
  /** The sum of every committed `add`. */
  count: number;
  /** How many times the agent started (onStart ran), in its whole life. */
  starts: number;
}

/**
 * A durable counter: the contract suite's probe of agent state.
 * - `{ op: "add", n }` adds n to `state.count`;
 * - `{ op: "add-then-throw", n }` adds n, sends `{ leaked: true }` and throws: both must be dropped;
 * - `{ op: "get" }` replies `{ count, starts, agentId, pid }`.
 * `initialState()` starts at zero; every onStart counts itself in `state.starts`.
 */
export class CounterAgent extends ProbeAgent<Record<string, unknown>, CounterState> {
  override initialState(): CounterState {
    return { count: 0, starts: 0 };
  }

  override onStart(): void {
    this.state.starts += 1;
  }

  async onMessage(ctx: MessageContext): Promise<void> {
    if (await this.handleProbeTraffic(ctx)) return;
    const payload = ctx.payload;
    if (!isObject(payload)) return;
    const n = typeof payload.n === "number" ? payload.n : 0;
    switch (payload.op) {
      case "add":
        this.state.count += n;
        return;
      case "add-then-throw":
        this.state.count += n;
        await ctx.send({ leaked: true, agentId: this.id });
        throw new Error("CounterAgent throws after add-then-throw, as the contract suite expects");
      case "get":
        await ctx.reply({
          count: this.state.count,
          starts: this.state.starts,
          agentId: this.id,
          pid: process.pid,
        });
        return;
      default:
        return;
    }
  }
}
