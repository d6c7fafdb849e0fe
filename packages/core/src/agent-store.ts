// What makes an agent durable (DESIGN section 12): where its state, its read positions and its
// placement fence live, and the one atomic step that commits a handled message. MemoryBus and
// RedisBus implement it next to their streams, because the commit must release the handler's
// sends in the same step as it stores the state: a bus is the only place that can do both.
import type { Message } from "./message.js";
import type { MessageBus } from "./message-bus.js";
import type { AgentTimer, FireTimerResult, TimerChanges } from "./timers.js";

/**
 * A position in a topic: the id of one of its entries, `"<ms>-<seq>"` as Redis Streams writes
 * them, compared with {@link comparePositions}. A subscription started `after` a position receives
 * every entry after it.
 */
export type TopicPosition = string;

/** The position before every entry of a topic. */
export const START_POSITION: TopicPosition = "0-0";

const POSITION_PATTERN = /^(\d{1,20})-(\d{1,20})$/;

/** Whether `value` is a well-formed {@link TopicPosition}. */
export function isTopicPosition(value: unknown): value is TopicPosition {
  return typeof value === "string" && POSITION_PATTERN.test(value);
}

/** Orders two positions: negative when `a` comes first, 0 when equal, positive otherwise. */
export function comparePositions(a: TopicPosition, b: TopicPosition): number {
  const [aMs, aSeq] = split(a);
  const [bMs, bSeq] = split(b);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

function split(position: TopicPosition): [bigint, bigint] {
  const dash = position.indexOf("-");
  return [BigInt(position.slice(0, dash)), BigInt(position.slice(dash + 1))];
}

/** What an agent resumes from: loaded by {@link AgentStore.claimAgent}. */
export interface AgentCheckpoint {
  /** The committed state as JSON text; `undefined` until a commit first stored one. */
  readonly state: string | undefined;
  /**
   * Per topic, the position of the last message whose handling was committed, or the topic's end
   * when the agent was first declared (so it receives what is published from then on).
   */
  readonly positions: Readonly<Record<string, TopicPosition>>;
  /** Commits made in the agent's whole life; the next commit carries this plus one. */
  readonly commits: number;
  /** The timers committed and not fired or cancelled yet, soonest first. */
  readonly timers: readonly AgentTimer[];
}

/** One atomic step of an agent: what one handler (or a send outside handlers) did. */
export interface AgentCommit {
  /** The placement epoch the agent was claimed with; any other is refused (`fenced`). */
  readonly epoch: number;
  /**
   * The commit's number in the agent's life: the checkpoint's `commits` plus one, then one more
   * per commit. A commit whose number is already stored was applied before (a retry after a lost
   * answer) and is not applied again: this is what keeps a retried commit's sends single.
   */
  readonly sequence: number;
  /** The new state as JSON text, when the handler changed it. */
  readonly state?: string;
  /** The position of the handled message in its topic; absent for commits of no message. */
  readonly position?: { readonly topic: string; readonly position: TopicPosition };
  /** The messages the handler sent, released by this commit in this order. */
  readonly messages: readonly Message[];
  /** Timers the handler set or cancelled; cancellations apply first. */
  readonly timers?: TimerChanges;
}

/** What {@link AgentStore.fireTimer} releases. */
export interface FireTimer {
  /** The placement epoch of the copy that fires; any other is refused (`fenced`). */
  readonly epoch: number;
  /** The timer's message (see `timerMessage`): its id is the timer's, its topic the agent's inbox. */
  readonly message: Message;
}

/**
 * `committed`; `duplicate`: the sequence was committed before, nothing changed; `fenced`: the
 * epoch is not the agent's current one (a newer placement claimed it, or it was deleted), nothing
 * changed and the copy that tried must stop; `unknown`: the store has no record of the agent at
 * all (it lost its data, as a Redis restarted without persistence does), nothing changed, and
 * the copy may claim it again.
 */
export type CommitResult = "committed" | "duplicate" | "fenced" | "unknown";

/** Options of {@link AgentStore.claimAgent}. */
export interface ClaimAgentOptions {
  /** The placement epoch of the copy that starts; an older one than the agent's is refused. */
  readonly epoch: number;
  /** The topics the agent receives; a topic with no position yet starts at the topic's end. */
  readonly topics: readonly string[];
}

/**
 * Durable agent records next to a bus's streams. Every method is one atomic step on the store.
 */
export interface AgentStore {
  /**
   * The largest message the store releases, in bytes of its JSON: what a runtime checks each send
   * against while the handler can still catch the error, before the send waits for its commit.
   */
  readonly maxMessageBytes: number;
  /**
   * Makes `epoch` the agent's current placement and returns its checkpoint. From then on a commit
   * of any other epoch is refused, so a copy left on another host can no longer change the state
   * this checkpoint returned.
   *
   * @throws GuildhallError `aborted` when a newer epoch claimed the agent already (or, with the
   *   same epoch, after it was deleted); `unavailable` when the store cannot be reached.
   */
  claimAgent(
    guildId: string,
    agentId: string,
    options: ClaimAgentOptions,
  ): Promise<AgentCheckpoint>;
  /**
   * Stores the state, position and timer changes and releases the messages, all at once or not
   * at all.
   *
   * @throws GuildhallError `invalid-argument` for a malformed commit (nothing is stored);
   *   `unavailable` when the store cannot be reached (the commit may have been applied: retry
   *   it with the same sequence).
   */
  commitAgent(guildId: string, agentId: string, commit: AgentCommit): Promise<CommitResult>;
  /**
   * Deletes the agent's state, positions and timers and fences every epoch claimed so far, so no
   * copy still running anywhere can commit or fire again. A later claim with a newer epoch starts afresh.
   * Idempotent.
   */
  deleteAgent(guildId: string, agentId: string): Promise<void>;
  /**
   * Fires a due timer, atomically: puts its message on the agent's inbox and forgets the timer.
   * `gone` when the store holds no such timer (it fired, or was cancelled, or its commit never
   * landed): nothing is released, so each committed timer is released once.
   *
   * @throws GuildhallError `unavailable` when the store cannot be reached (it may have fired:
   *   retry, and a `gone` answer then means it did).
   */
  fireTimer(guildId: string, agentId: string, fire: FireTimer): Promise<FireTimerResult>;
  /** The agent's checkpoint as stored now, without claiming it; `undefined` for none. */
  readAgent(guildId: string, agentId: string): Promise<AgentCheckpoint | undefined>;
}

/** A bus whose topics are retained and whose agents are durable: MemoryBus and RedisBus. */
export interface DurableMessageBus extends MessageBus, AgentStore {}

/** Whether `bus` also keeps durable agents (see {@link AgentStore}). */
export function isDurableBus(bus: MessageBus): bus is DurableMessageBus {
  const candidate = bus as Partial<DurableMessageBus>;
  return (
    typeof candidate.claimAgent === "function" &&
    typeof candidate.commitAgent === "function" &&
    typeof candidate.deleteAgent === "function" &&
    typeof candidate.fireTimer === "function"
  );
}
