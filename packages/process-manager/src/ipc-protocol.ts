// The wire between the host (AgentProcessManager) and one agent runner process: JSON over the
// child_process IPC channel. Both ends validate every message on receipt, because either side may
// be a different build (a stale runner on disk) or, on the runner side, share its process with
// arbitrary agent code that can call `process.send` itself.
//
// The host validates with these schemas; the runner validates with code the build compiles from
// them (agent-process/runner-messages.ts), so that an agent process never loads zod.
import { AgentSpec, ERROR_CODES, Message } from "@guildhall/core";
import { z } from "zod";

/** An error code as carried over IPC. */
export const IpcErrorCode = z.enum(ERROR_CODES);

const requestId = z.number().int().nonnegative();
const topic = z.string().min(1).max(256);
const text = z.string().max(65_536);

/** Any JSON value: what a payload may be. */
export const JsonPayload = z.json();

/** An agent's durable state, wrapped so that a stored `null` differs from nothing stored. */
export const DurableState = z.strictObject({ value: JsonPayload });

/**
 * Which handler a request (a send, a timer) was made from: `"start"` (onStart) or the delivery
 * being handled.
 */
export const HandlerTag = z.union([z.literal("start"), requestId]);

/** A durable timer's id, as the host's `onSchedule` gives it and `cancelSchedule` names it. */
export const TimerId = z.string().min(1).max(64);

// ---- host → runner ---------------------------------------------------------------------------

/** Load, construct and start the agent. Sent once, after `hello`. */
export const StartCommand = z.strictObject({
  type: z.literal("start"),
  guild: z.strictObject({
    id: z.string().min(1).max(128),
    name: z.string().min(1).max(256),
    defaultTopic: topic,
  }),
  agent: AgentSpec,
  /** The host's module allowlist; the runner re-checks it where the import happens. */
  agentModules: z.array(z.string().min(1).max(4096)).max(10_000),
  /** How long the runner may take to stop by itself when the host has gone away. */
  stopTimeoutMs: z.number().int().nonnegative(),
  /** The committed state, loaded before onStart; absent when nothing is stored yet. */
  state: DurableState.optional(),
  /** The largest state a handler may leave, in bytes of its JSON. */
  maxStateBytes: z.number().int().positive(),
  /** The largest message the agent may send, in bytes of its JSON: the bus's limit. */
  maxMessageBytes: z.number().int().positive(),
});

/** One message for the agent; `deliveryId` correlates the `delivered` answer. */
export const DeliverCommand = z.strictObject({
  type: z.literal("deliver"),
  deliveryId: requestId,
  message: Message,
});

/** The host published what the agent asked for; `message` is what went on the bus. */
export const PublishedReply = z.strictObject({
  type: z.literal("published"),
  requestId,
  message: Message,
});

/** The host set the timer a `schedule` request asked for; `id` is what `schedule` resolves with. */
export const ScheduledReply = z.strictObject({
  type: z.literal("scheduled"),
  requestId,
  id: TimerId,
});

/** The host cancelled the timer a `cancel-schedule` request named (or it was gone already). */
export const ScheduleCancelledReply = z.strictObject({
  type: z.literal("schedule-cancelled"),
  requestId,
});

/**
 * The host refused or failed a request of the agent (`publish`, `schedule`, `cancel-schedule`):
 * the agent's call rejects with a GuildhallError of this code and message. One failure reply for
 * every request, so that a new request needs no new way to fail.
 */
export const RequestFailedReply = z.strictObject({
  type: z.literal("request-failed"),
  requestId,
  code: IpcErrorCode,
  message: text,
});

/** Stop gracefully: `onStop`, then exit 0 (same as SIGTERM). */
export const StopCommand = z.strictObject({ type: z.literal("stop") });

/** Asks for the process's memory use (used where /proc is not available). */
export const StatsRequest = z.strictObject({ type: z.literal("stats-request"), requestId });

/** Everything the host sends to a runner. */
export const HostToRunner = z.discriminatedUnion("type", [
  StartCommand,
  DeliverCommand,
  PublishedReply,
  ScheduledReply,
  ScheduleCancelledReply,
  RequestFailedReply,
  StopCommand,
  StatsRequest,
]);
/** Everything the host sends to a runner. */
export type HostToRunner = z.infer<typeof HostToRunner>;
/** The `start` command. */
export type StartCommand = z.infer<typeof StartCommand>;

// ---- runner → host ---------------------------------------------------------------------------

/** What an agent says of a message it sends; never its sender, which the host stamps. */
const outgoing = {
  topic,
  payload: JsonPayload,
  format: z.string().min(1).max(256),
  threadId: z.string().min(1).max(64).optional(),
  inResponseTo: z.string().min(1).max(64).optional(),
  /** The trace context the agent's context carries (a handler's: its message's), if any. */
  traceparent: z.string().min(1).max(256).optional(),
};

/**
 * A message an agent sent from a handler, as its runner built it: everything of the message but
 * the sender, which the host stamps. It reaches the host with the handler's outcome (`ready`,
 * `delivered`), since it is released by that handler's commit anyway: the agent's send resolves
 * at once instead of waiting for a host round trip per message.
 */
export const AgentSend = z.strictObject({
  id: z.string().min(1).max(64),
  timestamp: z.number().int().nonnegative(),
  ...outgoing,
});

/** What one handler sent, in order. */
const AgentSends = z.array(AgentSend).max(100_000);

/** The runner is up, @guildhall/core is loaded, and it waits for `start`. */
export const HelloEvent = z.strictObject({
  type: z.literal("hello"),
  protocol: z.number().int(),
  pid: z.number().int().positive(),
});

/**
 * `onStart` has resolved; the agent handles deliveries from now on. `state` is the state onStart
 * left, when it differs from the one the start command gave (or nothing was stored).
 * `gracefulStop` says whether its process has work to do when stopped: an `onStop` to run, or
 * output the platform may still buffer. Without it, the process can be ended with SIGKILL once
 * the host knows it handles nothing, which is what its own exit would amount to.
 */
export const ReadyEvent = z.strictObject({
  type: z.literal("ready"),
  state: DurableState.optional(),
  /** What onStart sent, in order. */
  messages: AgentSends.optional(),
  gracefulStop: z.boolean(),
});

/** Starting failed; the runner exits right after sending this. */
export const FailedEvent = z.strictObject({
  type: z.literal("failed"),
  code: IpcErrorCode,
  message: text,
});

/**
 * The agent asks the host to publish at once: a send outside any handler (from a timer, a promise
 * left running), which is committed on its own. The host stamps the sender; the runner never sets
 * it.
 */
export const PublishRequest = z.strictObject({
  type: z.literal("publish"),
  requestId,
  ...outgoing,
});

/**
 * The agent asks the host for a durable timer. `delayMs` is any finite number: the host checks it
 * (and the payload's size, and the agent's timer cap) and answers with a failure naming the rule.
 */
export const ScheduleRequest = z.strictObject({
  type: z.literal("schedule"),
  requestId,
  delayMs: z.number(),
  payload: JsonPayload,
  /** The handler running when the agent asked; absent outside any running handler. */
  handler: HandlerTag.optional(),
});

/** The agent asks the host to cancel one of its timers. */
export const CancelScheduleRequest = z.strictObject({
  type: z.literal("cancel-schedule"),
  requestId,
  id: TimerId,
  /** The handler running when the agent asked; absent outside any running handler. */
  handler: HandlerTag.optional(),
});

/**
 * A delivery was handled (`handled`), skipped as the agent's own (`skipped`), or threw or left a
 * state it cannot keep (`failed`). `state` is the state a `handled` delivery left, when changed;
 * `messages` what it sent.
 */
export const DeliveredEvent = z.strictObject({
  type: z.literal("delivered"),
  deliveryId: requestId,
  status: z.enum(["handled", "skipped", "failed"]),
  error: text.optional(),
  state: DurableState.optional(),
  messages: AgentSends.optional(),
});

/** Agent code threw outside any handler; the runner exits 1 right after sending this. */
export const FatalEvent = z.strictObject({ type: z.literal("fatal"), message: text });

/** Answer to `stats-request`. */
export const StatsEvent = z.strictObject({
  type: z.literal("stats"),
  requestId,
  rssBytes: z.number().int().nonnegative(),
});

/** Everything a runner sends to the host. */
export const RunnerToHost = z.discriminatedUnion("type", [
  HelloEvent,
  ReadyEvent,
  FailedEvent,
  PublishRequest,
  ScheduleRequest,
  CancelScheduleRequest,
  DeliveredEvent,
  FatalEvent,
  StatsEvent,
]);
/** Everything a runner sends to the host. */
export type RunnerToHost = z.infer<typeof RunnerToHost>;
/** A publish request as it arrives at the host. */
export type PublishRequestMessage = z.infer<typeof PublishRequest>;
/** A handler's send as it arrives at the host. */
export type AgentSendMessage = z.infer<typeof AgentSend>;
/** A schedule request as it arrives at the host. */
export type ScheduleRequestMessage = z.infer<typeof ScheduleRequest>;
/** A cancel-schedule request as it arrives at the host. */
export type CancelScheduleRequestMessage = z.infer<typeof CancelScheduleRequest>;
/** The types of the runner's requests the host answers (with a reply or `request-failed`). */
export const REQUEST_TYPES = ["publish", "schedule", "cancel-schedule"] as const;

/** A short, readable account of why a message failed validation. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map(
      (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(message)"}: ${issue.message}`,
    )
    .join("; ");
}
