// Durable timers (DESIGN section 13): what an agent schedules with `ctx.schedule`, how it is
// checked, and the message it becomes when it fires. A timer is committed with the handler that
// set it, kept by the bus's agent store, and fired by whoever runs the agent (its host, or the
// in-process engine) as one atomic step that puts this message on the agent's inbox and forgets
// the timer, so a timer fires once its commit landed, even after its host died.
import { jsonProblem } from "./agent-state.js";
import { GuildhallError } from "./errors.js";
import { defaultMessageIdGenerator, type MessageIdGenerator } from "./ids.js";
import { inboxTopic, type JsonValue, type Message } from "./message.js";

/** How many timers one agent may have pending at once. */
export const MAX_TIMERS_PER_AGENT = 1_000;

/** The longest delay a timer may have: 366 days, in milliseconds. */
export const MAX_TIMER_DELAY_MS = 366 * 24 * 60 * 60 * 1000;

/** The sender id of a fired timer's message: not an agent's, so an agent receives its own timers. */
export const TIMER_SENDER_ID = "guildhall.timer";

/** The format of a fired timer's message, for agents that route on it. */
export const TIMER_MESSAGE_FORMAT = "guildhall.timer";

/** One pending timer of an agent. */
export interface AgentTimer {
  /** Unique; also the id of the message the timer becomes, so a receiver can tell refires apart. */
  readonly id: string;
  /** When it is due, in milliseconds since the Unix epoch. */
  readonly dueAt: number;
  /** What the fired message carries. */
  readonly payload: JsonValue;
}

/** What one commit does to an agent's timers: cancellations apply before new timers. */
export interface TimerChanges {
  readonly schedule: readonly AgentTimer[];
  readonly cancel: readonly string[];
}

/** Whether `changes` does anything. */
export function hasTimerChanges(changes: TimerChanges | undefined): changes is TimerChanges {
  return changes !== undefined && (changes.schedule.length > 0 || changes.cancel.length > 0);
}

/** Options of {@link newTimer}. */
export interface NewTimerOptions {
  /** Default: `Date.now()`. */
  readonly now?: number;
  /** Where the timer's id comes from. Default: this process's message id generator. */
  readonly ids?: MessageIdGenerator;
  /** The largest payload, in bytes of its JSON: the bus's message limit. Default: no limit. */
  readonly maxPayloadBytes?: number;
}

/**
 * A new timer due `delayMs` from now.
 *
 * @throws GuildhallError `invalid-argument` when the delay is not a whole number of milliseconds
 *   from 0 to {@link MAX_TIMER_DELAY_MS}, or the payload is not JSON or too large
 */
export function newTimer(
  agentId: string,
  delayMs: unknown,
  payload: unknown,
  options: NewTimerOptions = {},
): AgentTimer {
  if (
    typeof delayMs !== "number" ||
    !Number.isSafeInteger(delayMs) ||
    delayMs < 0 ||
    delayMs > MAX_TIMER_DELAY_MS
  ) {
    throw new GuildhallError(
      "invalid-argument",
      `agent "${agentId}" scheduled a timer with delay ${String(delayMs)}: the delay must be a whole number of milliseconds from 0 to ${MAX_TIMER_DELAY_MS} (366 days)`,
    );
  }
  const problem = jsonProblem(payload, "payload");
  if (problem !== undefined) {
    throw new GuildhallError(
      "invalid-argument",
      `agent "${agentId}" scheduled a timer whose payload is not JSON: ${problem}`,
    );
  }
  const limit = options.maxPayloadBytes;
  if (limit !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(payload));
    if (bytes > limit) {
      throw new GuildhallError(
        "invalid-argument",
        `agent "${agentId}" scheduled a timer whose payload is ${bytes} bytes of JSON, over the bus limit of ${limit} bytes; keep a reference to large data in it instead`,
      );
    }
  }
  const id = (options.ids ?? defaultMessageIdGenerator()).next();
  return { id, dueAt: (options.now ?? Date.now()) + delayMs, payload: payload as JsonValue };
}

/**
 * Refuses a commit that would leave an agent more than {@link MAX_TIMERS_PER_AGENT} timers.
 *
 * @throws GuildhallError `resource-exhausted` naming the agent and the cap
 */
export function checkTimerCount(agentId: string, pending: number): void {
  if (pending <= MAX_TIMERS_PER_AGENT) return;
  throw new GuildhallError(
    "resource-exhausted",
    `agent "${agentId}" would have ${pending} pending timers, over the limit of ${MAX_TIMERS_PER_AGENT} per agent; cancel timers it no longer needs, or keep one timer that handles many due items`,
  );
}

/**
 * Checks the timer changes of a commit as a store receives them, and returns copies holding only
 * what a timer is (`id`, `dueAt`, `payload`): the store's guard against a runtime that did not use
 * {@link newTimer}.
 *
 * @throws GuildhallError `invalid-argument` naming what is malformed
 */
export function checkTimerChanges(changes: unknown): TimerChanges {
  const wrong = (what: string): GuildhallError =>
    new GuildhallError("invalid-argument", `commit timers: ${what}`);
  if (typeof changes !== "object" || changes === null) {
    throw wrong("must be { schedule, cancel }");
  }
  const { schedule, cancel } = changes as Partial<Record<keyof TimerChanges, unknown>>;
  if (!Array.isArray(cancel) || !cancel.every((id) => typeof id === "string" && id !== "")) {
    throw wrong("cancel must be an array of timer ids");
  }
  if (!Array.isArray(schedule)) throw wrong("schedule must be an array of timers");
  return {
    cancel: [...(cancel as string[])],
    schedule: schedule.map((item: unknown) => {
      const timer = item as Partial<AgentTimer> | null;
      if (
        typeof timer !== "object" ||
        timer === null ||
        typeof timer.id !== "string" ||
        timer.id === "" ||
        !Number.isSafeInteger(timer.dueAt)
      ) {
        throw wrong("each scheduled timer needs a non-empty string id and a whole-number dueAt");
      }
      const problem = jsonProblem(timer.payload, `timer ${timer.id} payload`);
      if (problem !== undefined) throw wrong(problem);
      return {
        id: timer.id,
        dueAt: timer.dueAt!,
        payload: JSON.parse(JSON.stringify(timer.payload)) as JsonValue,
      };
    }),
  };
}

/**
 * The message a timer becomes when it fires: on the agent's inbox, with the timer's id as its
 * id and the timer's payload. Its timestamp is the time it fired.
 */
export function timerMessage(agentId: string, timer: AgentTimer, firedAt = Date.now()): Message {
  return {
    id: timer.id,
    topic: inboxTopic(agentId),
    sender: { id: TIMER_SENDER_ID, name: "timer" },
    format: TIMER_MESSAGE_FORMAT,
    payload: timer.payload,
    timestamp: firedAt,
  };
}

/** The result of firing a timer: see `AgentStore.fireTimer`. */
export type FireTimerResult = "fired" | "gone" | "fenced" | "unknown";
