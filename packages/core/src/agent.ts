// The Agent SDK (DESIGN section 4): what users subclass, and the contexts their code receives.
import type { JsonValue, Message } from "./message.js";

/** Options of `send`, `reply` and `publish`. */
export interface SendOptions {
  /**
   * The topic. `send` defaults to the guild's default topic; `reply` to the incoming message's
   * topic, or the sender's inbox when the message came to this agent's inbox.
   */
  topic?: string;
  /** What the payload is. Default `"json"`. */
  format?: string;
  /** The conversation; `reply` sets it to the incoming message's thread (or its id). */
  threadId?: string;
  /** The message answered; `reply` sets it to the incoming message's id. */
  inResponseTo?: string;
}

/** Structured logging for agent code; fields are JSON. */
export interface AgentLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What an agent can do outside a message handler: in `onStart`, or from timers it sets. */
export interface AgentContext {
  /** The agent's id. */
  readonly agentId: string;
  /** The agent's guild. */
  readonly guildId: string;
  /** Publishes to `opts.topic`, or to the guild's default topic. Resolves with the sent message. */
  send(payload: JsonValue, opts?: SendOptions): Promise<Message>;
  /** Publishes to a named topic. Resolves with the sent message. */
  publish(topic: string, payload: JsonValue, opts?: Omit<SendOptions, "topic">): Promise<Message>;
  /** The agent's log; entries carry its guild and agent ids. */
  readonly log: AgentLogger;
  /**
   * Sets a durable timer: after `delayMs` the agent receives a message on its inbox whose payload
   * is `payload` (format `"guildhall.timer"`, id the timer's). The timer is committed with the
   * handler that set it (a handler that throws sets none), fires at least once even when the
   * agent sleeps or its host dies, and wakes a sleeping agent. Resolves with the timer's id.
   *
   * @throws GuildhallError `invalid-argument` for a delay that is not a whole number of ms from 0
   *   to 366 days, or a payload that is not JSON or too large; `resource-exhausted` past 1,000
   *   pending timers per agent
   */
  schedule(delayMs: number, payload: JsonValue): Promise<{ id: string }>;
  /**
   * Cancels a timer set before: committed like `schedule`, after which it never fires. Cancelling
   * a timer that fired or was cancelled already does nothing.
   */
  cancelSchedule(id: string): Promise<void>;
}

/** What an agent's `onMessage` receives. */
export interface MessageContext extends AgentContext {
  /** The message being handled. */
  readonly message: Message;
  /** The message's payload (same as `message.payload`). */
  readonly payload: JsonValue;
  /** Answers the message: same topic, `inResponseTo` its id, `threadId` its thread. */
  reply(payload: JsonValue, opts?: SendOptions): Promise<Message>;
}

/** What an agent is constructed with. */
export interface AgentInit<Props = Record<string, unknown>> {
  /** From the spec's `id`. */
  id: string;
  /** From the spec's `name`. */
  name: string;
  /** The guild the agent runs in. */
  guildId: string;
  /** From the spec's `properties` (`{}` when it has none). */
  properties: Props;
}

const AGENT_BRAND = Symbol.for("@guildhall/core/Agent");

/**
 * A long-lived program that reacts to messages. Subclass it, implement `onMessage`, and export the
 * class; a guild file names it as `"<module>#<ExportName>"`.
 *
 * An agent receives its guild's default topic (unless `listenToDefaultTopic: false`), its
 * `additionalTopics` and its inbox `inbox:<id>`, and never its own messages.
 *
 * @example
 * ```ts
 * export class Echo extends Agent {
 *   async onMessage(ctx: MessageContext) {
 *     await ctx.reply({ echoed: ctx.payload });
 *   }
 * }
 * ```
 */
export abstract class Agent<Props = Record<string, unknown>, State extends JsonValue = JsonValue> {
  /** Marks Agent classes so `isAgentClass` works across two copies of this package. */
  static readonly [AGENT_BRAND] = true;

  /** The agent's id, unique within its guild. */
  readonly id: string;
  /** The agent's display name. */
  readonly name: string;
  /** The guild the agent runs in. */
  readonly guildId: string;
  /** The spec's `properties`: the agent's configuration. */
  readonly properties: Props;

  /**
   * The agent's durable memory: loaded before `onStart` on every start (first start, restart,
   * re-placement), and committed with each handler that changed it, together with what the
   * handler sent. Mutate it in place or replace it with {@link setState}. It must be JSON, at most
   * the host's `maxStateBytes` (1 MiB by default). A handler that throws has its changes dropped:
   * the next message sees the state as last committed.
   */
  state: State;

  constructor(init: AgentInit<Props>) {
    this.id = init.id;
    this.name = init.name;
    this.guildId = init.guildId;
    this.properties = init.properties;
    // Replaced before onStart by the stored state, or initialState(), when either exists.
    this.state = null as State;
  }

  /**
   * The state of a new agent. Runs once in the agent's whole life, when nothing is stored yet;
   * every later start loads the committed state instead. Use `state` to tell a first start from
   * a later one.
   */
  initialState?(): State;

  /** Replaces the agent's state; committed when the running handler resolves. */
  setState(next: State): void {
    this.state = next;
  }

  /** Runs once before the agent receives messages; the agent is ready when it resolves. */
  onStart?(ctx: AgentContext): void | Promise<void>;
  /**
   * Handles one message. An agent handles one message at a time, across all its topics, in the
   * order each topic delivers them; a message that throws is logged and the next one follows.
   * Awaiting a reply to a message sent from here would wait forever: handle the reply in a later
   * call instead.
   */
  abstract onMessage(ctx: MessageContext): void | Promise<void>;
  /** Runs once when the agent is stopped gracefully; it may still publish (a goodbye, say). */
  onStop?(): void | Promise<void>;
}

/** A concrete Agent subclass, as exported by an agent module. */
export type AgentClass = new (init: AgentInit<never>) => Agent<never, JsonValue>;

/** Whether `value` is a class that extends `Agent` (of any copy of `@guildhall/core`). */
export function isAgentClass(value: unknown): value is AgentClass {
  // The base class of any copy owns the brand; its subclasses inherit it.
  return typeof value === "function" && AGENT_BRAND in value && !Object.hasOwn(value, AGENT_BRAND);
}
