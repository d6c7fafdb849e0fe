// One run of one agent process, made durable: from the claim that loads its state (before the
// process gets its start command) to the close that lets its last commit land. The process does
// the handling; the session holds what each handler sends and commits it, with the state and the
// read position, through a DurableInbox. A local restart is a new session under the same epoch.
import {
  DurableInbox,
  GuildhallError,
  comparePositions,
  createMessage,
  decodeAgentState,
  encodeAgentState,
  endSpan,
  checkTimerCount,
  errorMessage,
  hasTimerChanges,
  newTimer,
  startProcessSpan,
  tracedPublish,
  validateParsedMessage,
  type AgentCheckpoint,
  type DurableMessageBus,
  type AgentTimer,
  type HandlerOutcome,
  type JsonValue,
  type Message,
  type TimerChanges,
  type TopicPosition,
} from "@guildhall/core";
import type {
  AgentProcessManager,
  CancelScheduleRequest,
  PublishRequest,
  ScheduleRequest,
} from "@guildhall/process-manager";
import type { Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { asAgentLogger } from "./logger.js";
import type { HostMetrics } from "./metrics.js";

/** What a session works with. */
export interface AgentSessionDependencies {
  readonly bus: DurableMessageBus;
  readonly manager: AgentProcessManager;
  readonly metrics: HostMetrics;
  readonly logger: Logger;
  readonly guildId: string;
  readonly agentId: string;
  /** The agent's display name, the sender name of what it publishes. */
  readonly agentName: string;
  readonly epoch: number;
  readonly topics: readonly string[];
  readonly maxStateBytes: number;
  /** Per topic, the furthest position handed to an earlier session of this agent on this host. */
  readonly handedOut: Map<string, TopicPosition>;
  /**
   * Messages (by topic and position) whose handling ended the agent's process before it
   * answered, and how often; kept across the sessions of the agent on this host.
   */
  readonly crashes: Map<string, number>;
  /** A commit was refused: a newer placement owns the agent. */
  readonly onFenced: () => void;
  /** The store refused a commit (it lost acknowledged commits): the process must start again. */
  readonly onCommitFailed: () => void;
  /** Whether the host may deliver now (its registry lease is current); checked per message. */
  readonly mayDeliver: () => boolean;
  /** How many committed timers the agent has pending now: what its timer cap counts from. */
  readonly pendingTimers: () => number;
  /** Timer changes that a commit stored: the host fires them from now on. */
  readonly onTimersCommitted: (changes: TimerChanges) => void;
  /** The agent finished handling a message. */
  readonly onActivity: () => void;
}

/** Timer changes collected for one commit. */
interface TimerChangeList {
  schedule: AgentTimer[];
  cancel: string[];
}

/** What one delivery's handler did so far, committed with it. */
interface Delivery {
  readonly outbox: Message[];
  readonly timers: TimerChangeList;
  /** The consumer span of the handler: the parent of what it publishes. */
  readonly span: Span;
}

/**
 * Messages handed to an agent process ahead of the one it handles, at most: it sees the next at
 * once instead of a round trip later, and handles them one at a time, in order.
 */
const MAX_PREFETCH = 32;

/**
 * About how much of its work, by its recent handlers' pace, an agent process is handed ahead. A
 * stop, move or sleep waits for what was handed over, so a slow agent gets one message at a time
 * and a fast one up to {@link MAX_PREFETCH}.
 */
const PREFETCH_BUDGET_MS = 50;

function noTimerChanges(): TimerChangeList {
  return { schedule: [], cancel: [] };
}

/** How often a host whose lease lapsed checks whether it may deliver again. */
const LEASE_RECHECK_MS = 100;

/**
 * How many times a message may end the agent's process before the host skips it. Without a bound,
 * one message that crashes its handler would be redelivered after every restart and hold up the
 * agent forever; with it, the message is skipped loudly (logged at error, counted as a delivery
 * failure), as a handler that throws is.
 */
export const MAX_CRASHES_PER_MESSAGE = 3;

/** The durable side of one agent process. */
export class AgentSession {
  readonly #deps: AgentSessionDependencies;
  readonly #inbox: DurableInbox;
  readonly #startOutbox: Message[] = [];
  readonly #startTimers = noTimerChanges();
  /** The deliveries handed to the process and not answered yet, by delivery id. */
  readonly #deliveries = new Map<number, Delivery>();
  /** Whether a delivery of this process was charged with its exit already (see `#handle`). */
  #crashCharged = false;
  /** How long the agent's handlers took of late (a moving average), in ms: its pace. */
  #handlingMs = PREFETCH_BUDGET_MS;
  /** When the last delivery was answered: the next one queued behind it started then. */
  #lastAnsweredAt = 0;
  #started = false;
  #closing = false;

  private constructor(deps: AgentSessionDependencies, checkpoint: AgentCheckpoint) {
    this.#deps = deps;
    this.startState =
      checkpoint.state === undefined
        ? undefined
        : { value: decodeAgentState(deps.guildId, deps.agentId, checkpoint.state) };
    this.committedTimers = checkpoint.timers;
    const { bus, guildId, agentId, epoch, topics, metrics } = deps;
    const log = deps.logger;
    this.#inbox = new DurableInbox({
      bus,
      guildId,
      agentId,
      epoch,
      topics,
      checkpoint,
      log: asAgentLogger(log),
      handle: (message, position) => this.#handle(message, position),
      prefetch: () =>
        Math.max(1, Math.min(MAX_PREFETCH, Math.floor(PREFETCH_BUDGET_MS / this.#handlingMs))),
      onFenced: () => deps.onFenced(),
      onCommitFailed: () => deps.onCommitFailed(),
      onHandleFailed: (error, message) => {
        if (this.#closing) {
          log.info(
            { message_id: message.id, err: errorMessage(error) },
            "agent stopped before it handled the message; its next copy handles it",
          );
          return;
        }
        log.warn(
          { message_id: message.id, err: errorMessage(error) },
          "agent process could not handle a message; it is handled again after the restart",
        );
      },
      onCommit: (record) => {
        metrics.agentCommits.inc({ guild_id: guildId, result: record.result });
        metrics.agentCommitDuration.observe(record.durationMs / 1000);
        if (record.stateBytes > 0) metrics.agentStateBytes.observe(record.stateBytes);
        if (record.timers !== undefined) deps.onTimersCommitted(record.timers);
      },
      onTrimmed: () => metrics.trimmedUnread.inc({ guild_id: guildId }),
    });
  }

  /**
   * Claims the agent under `deps.epoch` and loads its checkpoint: from here on no older copy can
   * commit.
   *
   * @throws GuildhallError `aborted` when a newer placement holds the agent; `failed-precondition`
   *   when its stored state is not JSON (the bytes are kept); `unavailable` when the bus fails.
   */
  static async claim(deps: AgentSessionDependencies): Promise<AgentSession> {
    try {
      const checkpoint = await deps.bus.claimAgent(deps.guildId, deps.agentId, {
        epoch: deps.epoch,
        topics: deps.topics,
      });
      return new AgentSession(deps, checkpoint);
    } catch (error) {
      throw durableStoreFailure(error, deps.agentId);
    }
  }

  /** The committed state for the start command; `undefined` when nothing is stored yet. */
  readonly startState: { value: JsonValue } | undefined;

  /** The timers the claim loaded: the host fires them from now on. */
  readonly committedTimers: readonly AgentTimer[];

  /** Whether a commit was refused because another placement owns the agent. */
  get fenced(): boolean {
    return this.#inbox.fenced;
  }

  /**
   * Publishes what the agent sent. The sender, id and timestamp are the host's: an agent cannot
   * publish as another. The message is checked now, so the agent's send fails while it can still
   * catch the error; it is held for its handler's commit, or committed now when it was sent outside
   * any handler.
   *
   * @throws GuildhallError `invalid-argument` when the message is invalid or over the bus limit
   */
  async publish(request: PublishRequest): Promise<Message> {
    const { guildId, agentId } = this.#deps;
    // The agent process has no tracer: its host traces the publish, as a child of the handling
    // that sent it (or of the trace context the agent gave).
    const parent =
      (typeof request.handler === "number"
        ? this.#deliveries.get(request.handler)?.span
        : undefined) ??
      request.traceparent ??
      null;
    return tracedPublish(
      request.topic,
      { guildId, agentId, parent, fallback: request.traceparent },
      (traceparent) => this.#publish(request, traceparent),
    );
  }

  async #publish(request: PublishRequest, traceparent: string | undefined): Promise<Message> {
    const { bus, metrics, guildId, agentId, agentName } = this.#deps;
    // The process manager parsed the request from its agent's frame; the sender is the host's own.
    // Checked here, the commit that writes it takes it as valid, and a bad field fails this send.
    const message = validateParsedMessage(
      createMessage({
        topic: request.topic,
        sender: { id: agentId, name: agentName },
        payload: request.payload,
        format: request.format,
        ...(request.threadId !== undefined && { threadId: request.threadId }),
        ...(request.inResponseTo !== undefined && { inResponseTo: request.inResponseTo }),
        ...(traceparent !== undefined && { traceparent }),
        // A send from a handler resolved in the agent with the id and time its process gave it.
        ...(request.id !== undefined && { id: request.id }),
        ...(request.timestamp !== undefined && { timestamp: request.timestamp }),
      }),
    );
    const bytes = Buffer.byteLength(JSON.stringify(message));
    const limit = bus.maxMessageBytes;
    if (bytes > limit) {
      throw new GuildhallError(
        "invalid-argument",
        `message ${message.id} on topic "${message.topic}" is ${bytes} bytes of JSON, over the bus limit of ${limit} bytes; send a reference to large data (a URL, an object-store key) instead of the data itself`,
      );
    }
    if (request.handler === "start" && !this.#started) {
      this.#startOutbox.push(message);
    } else if (typeof request.handler === "number" && this.#deliveries.has(request.handler)) {
      this.#deliveries.get(request.handler)?.outbox.push(message);
    } else {
      await this.#inbox.commit({ messages: [message] });
    }
    metrics.messagesPublished.inc({ guild_id: guildId });
    return message;
  }

  /**
   * Sets a timer for the agent (its `ctx.schedule`): checked now, so the agent's call fails while
   * it can still catch the error, and committed with the handler that set it, or at once outside
   * any handler.
   *
   * @throws GuildhallError `invalid-argument` for a bad delay or payload; `resource-exhausted`
   *   past the timer cap
   */
  async schedule(request: ScheduleRequest): Promise<{ id: string }> {
    const { agentId, bus } = this.#deps;
    const timer = newTimer(agentId, request.delayMs, request.payload, {
      maxPayloadBytes: bus.maxMessageBytes,
    });
    const changes = this.#timerChangesFor(request.handler);
    checkTimerCount(
      agentId,
      this.#deps.pendingTimers() +
        this.#startTimers.schedule.length +
        this.#scheduledByDeliveries() +
        1,
    );
    if (changes === undefined) {
      await this.#inbox.commit({ messages: [], timers: { schedule: [timer], cancel: [] } });
    } else {
      changes.schedule.push(timer);
    }
    return { id: timer.id };
  }

  /** Cancels a timer (the agent's `ctx.cancelSchedule`), committed as {@link schedule} is. */
  async cancelSchedule(request: CancelScheduleRequest): Promise<void> {
    const changes = this.#timerChangesFor(request.handler);
    if (changes === undefined) {
      await this.#inbox.commit({ messages: [], timers: { schedule: [], cancel: [request.id] } });
      return;
    }
    // A commit cancels before it schedules, so a timer set earlier in the same handler is dropped
    // from the handler's list instead.
    const index = changes.schedule.findIndex((timer) => timer.id === request.id);
    if (index >= 0) changes.schedule.splice(index, 1);
    else changes.cancel.push(request.id);
  }

  /** The timer changes of the handler a request came from; `undefined` outside any handler. */
  #timerChangesFor(handler: ScheduleRequest["handler"]): TimerChangeList | undefined {
    if (handler === "start" && !this.#started) return this.#startTimers;
    if (typeof handler === "number") return this.#deliveries.get(handler)?.timers;
    return undefined;
  }

  /** Timers set by the handlers in progress, to be committed with them. */
  #scheduledByDeliveries(): number {
    let scheduled = 0;
    for (const delivery of this.#deliveries.values()) scheduled += delivery.timers.schedule.length;
    return scheduled;
  }

  /** Messages received for the agent and waiting to be handled. */
  get queued(): number {
    return this.#inbox.queued;
  }

  /** Whether a message is being handled. */
  get busy(): boolean {
    return this.#deliveries.size > 0;
  }

  /**
   * The process is ready: commits what onStart did, then starts delivering.
   *
   * @throws GuildhallError as the bus's commit does; `unavailable` when the bus fails
   */
  async started(state: { value: JsonValue } | undefined): Promise<void> {
    this.#started = true;
    try {
      const text =
        state === undefined
          ? undefined
          : encodeAgentState(this.#deps.agentId, state.value, this.#deps.maxStateBytes);
      const timers = {
        schedule: this.#startTimers.schedule.splice(0),
        cancel: this.#startTimers.cancel.splice(0),
      };
      await this.#inbox.commit({
        messages: this.#startOutbox.splice(0),
        ...(text !== undefined && { state: text }),
        ...(hasTimerChanges(timers) && { timers }),
      });
      await this.#inbox.open();
    } catch (error) {
      throw durableStoreFailure(error, this.#deps.agentId);
    }
  }

  /**
   * Stops taking messages and waits for the one in progress and its commit (at most `timeoutMs`).
   * Resolves false when it gave up waiting: the handler is stuck, and nothing it does now commits.
   */
  close(timeoutMs?: number): Promise<boolean> {
    this.#closing = true;
    return this.#inbox.close(timeoutMs);
  }

  /**
   * A delivery handed over at `handedAt` was answered: its handler ran from then, or from the
   * answer before it if it waited behind that one.
   */
  #answered(handedAt: number): void {
    const now = performance.now();
    const tookMs = now - Math.max(handedAt, this.#lastAnsweredAt);
    this.#lastAnsweredAt = now;
    this.#handlingMs += (tookMs - this.#handlingMs) / 4;
  }

  async #handle(message: Message, position: TopicPosition): Promise<HandlerOutcome> {
    const { manager, guildId, agentId, metrics } = this.#deps;
    // A host that could not renew its lease may have been replaced: it hands over nothing more
    // until it renews, so a copy elsewhere is the only one working.
    while (!this.#deps.mayDeliver()) {
      // A message still waiting here was never handed over: a close must not wait for the lease
      // (a lapsed host stops its relinquished copies only after its next beat), and the message
      // is left uncommitted for the next copy.
      if (this.#closing) {
        throw new GuildhallError(
          "unavailable",
          `agent "${agentId}" stopped while its host's lease was lapsed; message ${message.id} was not handed to it`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, LEASE_RECHECK_MS));
    }
    const handed = this.#deps.handedOut.get(message.topic);
    if (handed !== undefined && comparePositions(handed, position) >= 0) {
      metrics.redeliveries.inc({ guild_id: guildId });
    } else {
      this.#deps.handedOut.set(message.topic, position);
    }
    const crashKey = `${message.topic}\u0000${position}`;
    const crashes = this.#deps.crashes.get(crashKey) ?? 0;
    if (crashes >= MAX_CRASHES_PER_MESSAGE) {
      this.#deps.crashes.delete(crashKey);
      metrics.deliveryFailures.inc({ guild_id: guildId });
      this.#deps.logger.error(
        { message_id: message.id, topic: message.topic, position, crashes },
        "message ended the agent's process every time it was handled; skipped, as a handler that throws is",
      );
      return { messages: [] };
    }
    metrics.messagesDelivered.inc({ guild_id: guildId });
    metrics.agentLag.set(
      { guild_id: guildId, agent_id: agentId },
      (Date.now() - message.timestamp) / 1000,
    );
    const outbox: Message[] = [];
    const timers = noTimerChanges();
    // Ends when the handler's outcome is in; its commit follows in the inbox (see 0013-tracing.md).
    const span = startProcessSpan(message, { guildId, agentId });
    let deliveryId: number | undefined;
    let failure: unknown;
    const handedAt = performance.now();
    try {
      const result = await manager.deliver(guildId, agentId, message, {
        onDeliveryId: (id) => {
          deliveryId = id;
          this.#deliveries.set(id, { outbox, timers, span });
        },
      });
      this.#answered(handedAt);
      this.#deps.crashes.delete(crashKey);
      if (result.status === "failed") {
        failure = new Error(result.error);
        metrics.deliveryFailures.inc({ guild_id: guildId });
        this.#deps.logger.warn(
          { message_id: message.id, err: result.error },
          "agent's onMessage threw; its state change and sends are dropped",
        );
        return { messages: [] };
      }
      const handled = hasTimerChanges(timers) ? { messages: outbox, timers } : { messages: outbox };
      if (result.status === "skipped" || result.state === undefined) return handled;
      // The runner checked the state already; this guards the host against a runner that did not.
      const state = encodeAgentState(agentId, result.state.value, this.#deps.maxStateBytes);
      return { ...handled, state };
    } catch (error) {
      if (error instanceof GuildhallError && error.code === "invalid-argument") {
        failure = new GuildhallError(
          "internal",
          `agent "${agentId}" reported an invalid state: ${error.message}`,
        );
        throw failure;
      }
      // The process exited. Of the messages it held, the oldest is the one it was handling (it
      // handles them in order, and they fail in that order): only that one is charged with the
      // exit, or a message that crashes its handler would take those queued behind it along.
      if (!this.#crashCharged) {
        this.#crashCharged = true;
        this.#deps.crashes.set(crashKey, crashes + 1);
      }
      failure = error;
      throw error;
    } finally {
      if (deliveryId !== undefined) this.#deliveries.delete(deliveryId);
      endSpan(span, failure);
      this.#deps.onActivity();
    }
  }
}

/** A failure of the bus's agent store while claiming or committing, for the engine's operator. */
export function durableStoreFailure(error: unknown, agentId: string): GuildhallError {
  if (error instanceof GuildhallError) return error;
  return new GuildhallError(
    "unavailable",
    `cannot load or commit the durable state of agent "${agentId}": ${errorMessage(error)}; check that the bus (GUILDHALL_BUS_URL or the Redis URL) is reachable and retry`,
    { cause: error },
  );
}
