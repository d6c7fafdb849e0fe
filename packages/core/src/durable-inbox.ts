// The delivery loop of one durable agent, wherever its code runs (in this process, or in an agent
// process behind a host): it reads the agent's topics after their committed positions, hands the
// agent its messages in order (one at a time, or `prefetch` ahead to an agent that queues them),
// and commits what each handler did (state, position, sends) as one step, in order. The next
// message is handled while a commit is on its way, and handlers that finish while one is on its
// way are committed together in the next: see `#takeGroup`. Everything it does is bound to one
// placement epoch, so a copy that lost its placement is refused at its next commit and stops.
import { setTimeout as delay } from "node:timers/promises";
import type { AgentLogger } from "./agent.js";
import type {
  AgentCheckpoint,
  AgentCommit,
  CommitResult,
  DurableMessageBus,
  TopicPosition,
} from "./agent-store.js";
import { GuildhallError, errorMessage } from "./errors.js";
import type { Message } from "./message.js";
import type { Subscription } from "./message-bus.js";
import { hasTimerChanges, type TimerChanges } from "./timers.js";

/** What one handler did: committed by the inbox in one step. */
export interface HandlerOutcome {
  /** The new state as JSON text, when the handler changed it. */
  readonly state?: string;
  /** What the handler sent, in order; none for a handler that threw (its sends are dropped). */
  readonly messages: readonly Message[];
  /** Timers it set or cancelled; none for a handler that threw. */
  readonly timers?: TimerChanges;
}

/** What a commit did, for metrics. */
export interface CommitRecord {
  readonly result: CommitResult;
  /** From the first attempt to the answer, retries included. */
  readonly durationMs: number;
  /** Bytes of the state stored by it; 0 when the state did not change. */
  readonly stateBytes: number;
  readonly messages: number;
  /** Attempts that failed before it went through. */
  readonly retries: number;
  /**
   * The timer changes it stored, for whoever fires the agent's timers: set on `committed`, and on
   * a `duplicate` answer to a retry (the attempt whose answer was lost had stored them).
   */
  readonly timers?: TimerChanges;
}

/** Options of {@link DurableInbox}. */
export interface DurableInboxOptions {
  readonly bus: DurableMessageBus;
  readonly guildId: string;
  readonly agentId: string;
  /** The placement epoch the agent was claimed with. */
  readonly epoch: number;
  /** The topics the agent receives. */
  readonly topics: readonly string[];
  /** What `claimAgent` returned for this epoch. */
  readonly checkpoint: AgentCheckpoint;
  /**
   * Handles one message and resolves with what to commit. A handler error is an outcome (no
   * state, no sends), not a rejection: reject only when the agent can no longer handle anything
   * (its process died). Then the message is not committed, nor anything handed over after it, and
   * delivery stops.
   */
  readonly handle: (message: Message, position: TopicPosition) => Promise<HandlerOutcome>;
  /**
   * How many messages `handle` may have been given whose outcome is not queued for commit yet.
   * Default 1: one at a time. More suits a `handle` that queues messages and handles them in order
   * itself, as an agent process does: it sees the next message while it handles this one, instead
   * of a round trip later. Outcomes are committed in the order the messages came, whatever the
   * order they finish. A function is asked again each time a message is to be handed over.
   */
  readonly prefetch?: number | (() => number);
  /** A commit was refused: another placement owns the agent now. Delivery has stopped. */
  readonly onFenced?: () => void;
  /** Delivery stopped because `handle` rejected. */
  readonly onHandleFailed?: (error: unknown, message: Message) => void;
  /**
   * Delivery stopped because the store refused a handled message's commit as malformed, or as
   * out of sequence (the store lost commits it had acknowledged: a Redis restarted from an older
   * file). The agent's memory is ahead of what is stored: restart it from the stored checkpoint.
   */
  readonly onCommitFailed?: (error: unknown, message: Message) => void;
  /** Every commit that got an answer. */
  readonly onCommit?: (record: CommitRecord) => void;
  /** Called when the agent resumed after a position its topic no longer holds. */
  readonly onTrimmed?: (topic: string, after: TopicPosition, lastTrimmed: TopicPosition) => void;
  readonly log: AgentLogger;
  /** First pause before retrying a commit the store did not answer. Default 50 ms, doubling to 2 s. */
  readonly retryDelayMs?: number;
  /**
   * How long the position past a message whose handler changed nothing, sent nothing and set or
   * cancelled no timer may wait before it is committed on its own, in ms. Such positions ride
   * along with the next commit that does something, or go in one commit after this long (or after
   * 64 of them). Default 50.
   */
  readonly positionFlushMs?: number;
}

/** Positions of handlers that did nothing that may wait, at most, before they are committed. */
const MAX_PENDING_POSITIONS = 64;

/**
 * Handled messages whose commits may wait behind the one on its way before handling pauses, and
 * the most one commit carries. Bounds what a copy has done but not stored (and so what a crash
 * makes it redo) when the store is slower than the agent.
 */
const MAX_UNCOMMITTED = 64;

type CommitAnswer = CommitResult | "abandoned";

/** A message handed to `handle`: its handling, or none when delivery had stopped. */
interface Handing {
  readonly handling: Promise<HandlerOutcome> | undefined;
}

/** A commit waiting its turn. */
interface QueuedCommit {
  readonly outcome: HandlerOutcome;
  readonly position: AgentCommit["position"];
  /** Whether it is a handled message's, which may share a commit with its neighbours. */
  readonly handled: boolean;
  readonly resolve: (answer: CommitAnswer) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Durable delivery and commits for one agent under one placement epoch.
 *
 * @example
 * ```ts
 * const checkpoint = await bus.claimAgent(guildId, agentId, { epoch, topics });
 * const inbox = new DurableInbox({ bus, guildId, agentId, epoch, topics, checkpoint, log,
 *   handle: async (message) => ({ messages: [] }) });
 * await inbox.commit({ messages: [] }); // what onStart did
 * await inbox.open();
 * await inbox.close();
 * ```
 */
export class DurableInbox {
  readonly #options: DurableInboxOptions;
  readonly #subscriptions: Subscription[] = [];
  #sequence: number;
  #tail: Promise<void> = Promise.resolve();
  /** Commits not started yet, in order; one runs at a time (`#committing`). */
  readonly #queue: QueuedCommit[] = [];
  #committing: Promise<void> | undefined;
  /** Set once the store refused a handled message's commit: nothing after it may be stored. */
  #refused = false;
  /** Rooms taken: messages handed over (or about to be) whose outcome is not queued for commit. */
  #inFlight = 0;
  /** Messages waiting for room under `prefetch`, in order. */
  readonly #waitingForRoom: (() => void)[] = [];
  /** Set once `handle` rejected: nothing handed over after that message may be committed. */
  #handleFailed = false;
  #closed = false;
  #fenced = false;
  /** Set once close gave up waiting: a commit still retrying must stop. */
  #abandoned = new AbortController();
  /** Per topic, the position past the last handled message not committed yet. */
  readonly #pending = new Map<string, TopicPosition>();
  #pendingCount = 0;
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(options: DurableInboxOptions) {
    this.#options = options;
    this.#sequence = options.checkpoint.commits;
  }

  /** Messages received on the agent's topics and waiting to be handled. */
  get queued(): number {
    let queued = 0;
    for (const subscription of this.#subscriptions) queued += subscription.queued;
    return queued;
  }

  /** Whether a commit was refused because another placement owns the agent. */
  get fenced(): boolean {
    return this.#fenced;
  }

  /**
   * Commits what was done outside message delivery (onStart, a send outside any handler), after
   * every commit before it. Resolves once committed.
   *
   * @throws GuildhallError `aborted` when the agent was fenced (nothing was committed);
   *   `unavailable` once the inbox closed before the commit could be made.
   */
  async commit(outcome: HandlerOutcome): Promise<void> {
    const result = await this.#enqueueCommit(outcome, undefined);
    if (result === "fenced") {
      throw new GuildhallError(
        "aborted",
        `agent "${this.#options.agentId}" of guild "${this.#options.guildId}" is placed elsewhere now (epoch ${this.#options.epoch} is stale): nothing it sent was released`,
      );
    }
    if (result === "abandoned") {
      throw new GuildhallError(
        "unavailable",
        `agent "${this.#options.agentId}" of guild "${this.#options.guildId}" has stopped: nothing it sent was released`,
      );
    }
  }

  /**
   * Ends this copy as a crash would: no message is handed over or committed from now on, the
   * handler in progress included (its message is handled again by the next copy).
   */
  async abort(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    this.#pending.clear();
    this.#abandoned.abort();
    await this.#unsubscribe();
  }

  /** Subscribes every topic after its committed position; messages are handed over from now on. */
  async open(): Promise<void> {
    const { bus, guildId, agentId, topics, checkpoint, log } = this.#options;
    try {
      for (const topic of topics) {
        const after = checkpoint.positions[topic];
        this.#subscriptions.push(
          await bus.subscribe(
            guildId,
            topic,
            (message, position) => this.#enqueue(message, position),
            {
              excludeSender: agentId,
              ...(after !== undefined && { after }),
              onError: (error, message) =>
                log.error("delivery failed", { messageId: message.id, error: errorMessage(error) }),
              onTrimmed: ({ after: from, lastTrimmed }) => {
                log.warn(
                  "messages of this topic were trimmed before the agent read them; they are lost to it. Raise the bus's maxLenPerTopic, or find why the agent fell this far behind",
                  { topic, after: from, lastTrimmed },
                );
                this.#options.onTrimmed?.(topic, from, lastTrimmed);
              },
            },
          ),
        );
      }
    } catch (error) {
      await this.#unsubscribe();
      throw error;
    }
  }

  /**
   * Stops taking messages, then waits for the message being handled and its commit, at most
   * `timeoutMs` (default: no bound). Past it, a commit still retrying is abandoned: its message
   * is handled again by the agent's next copy. Idempotent.
   *
   * @returns true when the handler in progress and every commit settled; false when it gave up
   *   at `timeoutMs`, so a handler may still run: its owner should end the copy rather than wait
   *   for it again, since nothing it does now can be committed.
   */
  async close(timeoutMs?: number): Promise<boolean> {
    this.#closed = true;
    await this.#unsubscribe();
    const settled = this.#tail
      .then(() => {
        if (!this.#fenced) this.#flushPositions();
      })
      .then(() => this.#committing);
    if (timeoutMs === undefined) {
      await settled;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timed out">(
      (resolve) => (timer = setTimeout(() => resolve("timed out"), timeoutMs)),
    );
    const outcome = await Promise.race([settled.then(() => "settled" as const), timedOut]);
    clearTimeout(timer);
    if (outcome === "settled") return true;
    this.#abandoned.abort();
    return false;
  }

  async #unsubscribe(): Promise<void> {
    const all = this.#subscriptions.splice(0);
    await Promise.all(all.map((s) => s.unsubscribe().catch(() => undefined)));
  }

  // One chain for all topics: messages are handed over, and what their handlers did committed, in
  // the order they came, whatever the topic. The subscription waits until its message is handed
  // over (with `prefetch` 1, until it is handled and its commit queued), so a busy agent reads no
  // further ahead than the bus queues.
  #enqueue(message: Message, position: TopicPosition): Promise<void> {
    const handing = this.#takeRoom().then(() => this.#handOver(message, position));
    this.#tail = this.#tail.then(() => this.#process(message, position, handing));
    return handing.then(() => undefined);
  }

  #prefetch(): number {
    const { prefetch } = this.#options;
    return typeof prefetch === "function" ? prefetch() : (prefetch ?? 1);
  }

  /**
   * Resolves once a message may be handed over; the caller then holds one of `prefetch` rooms
   * until what its handler did is queued for commit. Rooms go in the order asked for, so no
   * message overtakes another.
   */
  #takeRoom(): Promise<void> {
    if (this.#waitingForRoom.length === 0 && this.#inFlight < this.#prefetch()) {
      this.#inFlight += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waitingForRoom.push(resolve));
  }

  #giveBackRoom(): void {
    this.#inFlight -= 1;
    while (this.#inFlight < this.#prefetch()) {
      const next = this.#waitingForRoom.shift();
      if (next === undefined) return;
      this.#inFlight += 1;
      next();
    }
  }

  /** Calls `handle`, unless delivery has stopped. Wrapped, so that handing over resolves first. */
  #handOver(message: Message, position: TopicPosition): Handing {
    if (this.#closed || this.#fenced) {
      this.#giveBackRoom();
      return { handling: undefined };
    }
    return { handling: this.#options.handle(message, position) };
  }

  async #process(
    message: Message,
    position: TopicPosition,
    handing: Promise<Handing>,
  ): Promise<void> {
    const { handling } = await handing;
    if (handling === undefined) return;
    try {
      await this.#finish(message, position, handling);
    } finally {
      this.#giveBackRoom();
    }
  }

  async #finish(
    message: Message,
    position: TopicPosition,
    handling: Promise<HandlerOutcome>,
  ): Promise<void> {
    let outcome: HandlerOutcome;
    try {
      outcome = await handling;
    } catch (error) {
      if (this.#handleFailed) return;
      this.#handleFailed = true;
      this.#closed = true;
      void this.#unsubscribe();
      this.#options.onHandleFailed?.(error, message);
      return;
    }
    // What followed a message that was not handled must not be stored before it is.
    if (this.#handleFailed || this.#abandoned.signal.aborted) return;
    const handled = { topic: message.topic, position };
    if (
      outcome.state === undefined &&
      outcome.messages.length === 0 &&
      !hasTimerChanges(outcome.timers)
    ) {
      this.#deferPosition(handled);
      return;
    }
    // Positions of other topics first: the commit that does something must never store a state
    // that came after messages whose positions are not stored (they would be handled again on a
    // state that already saw them).
    this.#pending.delete(message.topic);
    this.#flushPositions();
    this.#enqueueCommit(outcome, handled, true).catch((error: unknown) => {
      // The store refused the commit itself: the agent's memory is now ahead of what is stored,
      // so it must not go on; its next copy handles the message again.
      this.#closed = true;
      void this.#unsubscribe();
      this.#options.log.error("commit refused; the agent stops taking messages until it restarts", {
        messageId: message.id,
        error: errorMessage(error),
      });
      this.#options.onCommitFailed?.(error, message);
    });
    // The agent may run ahead of the store by a bounded amount only.
    if (this.#queue.length >= MAX_UNCOMMITTED) await this.#committing;
  }

  /**
   * A handler that changed nothing and sent nothing needs only its position stored, and a crash
   * before it is would only hand the same message to the same state again: it waits for company.
   * This is what keeps a busy topic that most agents ignore from costing a commit per message.
   */
  #deferPosition(handled: { topic: string; position: TopicPosition }): void {
    this.#pending.set(handled.topic, handled.position);
    this.#pendingCount += 1;
    if (this.#pendingCount >= MAX_PENDING_POSITIONS) {
      this.#flushPositions();
      return;
    }
    this.#flushTimer ??= setTimeout(
      () => this.#flushPositions(),
      this.#options.positionFlushMs ?? 50,
    );
  }

  #flushPositions(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#pendingCount = 0;
    if (this.#fenced || this.#abandoned.signal.aborted) {
      this.#pending.clear();
      return;
    }
    for (const [topic, position] of this.#pending) {
      this.#enqueueCommit({ messages: [] }, { topic, position }).catch(() => undefined);
    }
    this.#pending.clear();
  }

  #enqueueCommit(
    outcome: HandlerOutcome,
    position: AgentCommit["position"],
    handled = false,
  ): Promise<CommitAnswer> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ outcome, position, handled, resolve, reject });
      this.#committing ??= this.#runCommits();
    });
  }

  async #runCommits(): Promise<void> {
    for (let group = this.#takeGroup(); group.length > 0; group = this.#takeGroup()) {
      const [first] = group;
      const last = group[group.length - 1];
      if (first === undefined || last === undefined) break;
      try {
        const answer = this.#refused
          ? "abandoned"
          : await this.#commitWithRetries(mergeOutcomes(group), last.position);
        for (const each of group) each.resolve(answer);
      } catch (error) {
        // Set before the next group runs: the rejections below reach their handlers only later.
        if (first.handled) this.#refused = true;
        for (const each of group) each.reject(error);
      }
    }
    this.#committing = undefined;
  }

  /**
   * The next commit's entries: the first queued one, and the handled messages after it while
   * they are of its topic (a commit stores one position), carry timer changes in one of them at
   * most (a commit cancels before it schedules, which two handlers' changes together may not
   * follow) and number {@link MAX_UNCOMMITTED} at most. Merged, they are what the handlers did,
   * in order, stored in one step: sends in order, the last state, the last position.
   */
  #takeGroup(): QueuedCommit[] {
    const first = this.#queue[0];
    if (first === undefined) return [];
    let end = 1;
    if (first.handled) {
      let timers = hasTimerChanges(first.outcome.timers);
      for (; end < this.#queue.length && end < MAX_UNCOMMITTED; end++) {
        const next = this.#queue[end];
        if (next === undefined || !next.handled) break;
        if (next.position?.topic !== first.position?.topic) break;
        const nextTimers = hasTimerChanges(next.outcome.timers);
        if (timers && nextTimers) break;
        timers ||= nextTimers;
      }
    }
    return this.#queue.splice(0, end);
  }

  // Commits run one after the other, so each takes its sequence number when it runs: a re-claim
  // after the store lost the agent's record renumbers what follows.
  async #commitWithRetries(
    outcome: HandlerOutcome,
    position: AgentCommit["position"],
  ): Promise<CommitAnswer> {
    const { bus, guildId, agentId, log } = this.#options;
    if (this.#fenced) return "fenced";
    const started = performance.now();
    let pauseMs = this.#options.retryDelayMs ?? 50;
    let commit = this.#numbered(outcome, position);
    for (let retries = 0; ; retries++) {
      if (this.#abandoned.signal.aborted) return "abandoned";
      try {
        let result = await bus.commitAgent(guildId, agentId, commit);
        if (result === "unknown") {
          commit = await this.#claimAgain(outcome, position);
          result = await bus.commitAgent(guildId, agentId, commit);
        }
        // A duplicate after a retry is this commit, stored by the attempt whose answer was lost.
        const stored = result === "committed" || (result === "duplicate" && retries > 0);
        this.#options.onCommit?.({
          result,
          durationMs: performance.now() - started,
          stateBytes: commit.state === undefined ? 0 : Buffer.byteLength(commit.state),
          messages: commit.messages.length,
          retries,
          ...(stored && commit.timers !== undefined && { timers: commit.timers }),
        });
        if (result === "fenced" || result === "unknown") this.#fence();
        return result;
      } catch (error) {
        // A malformed commit will not get better by waiting; anything else is the store's
        // trouble, and the commit is idempotent by its sequence, so it is retried.
        if (error instanceof GuildhallError && error.code === "invalid-argument") throw error;
        if (error instanceof GuildhallError && error.code === "aborted") {
          this.#fence();
          return "fenced";
        }
        if (retries === 0 || retries % 20 === 0) {
          log.warn("commit failed; retrying, the agent waits until it is stored", {
            sequence: commit.sequence,
            error: errorMessage(error),
          });
        }
        try {
          await delay(pauseMs, undefined, { signal: this.#abandoned.signal });
        } catch {
          return "abandoned";
        }
        pauseMs = Math.min(pauseMs * 2, 2_000);
      }
    }
  }

  #numbered(outcome: HandlerOutcome, position: AgentCommit["position"]): AgentCommit {
    return {
      epoch: this.#options.epoch,
      sequence: ++this.#sequence,
      messages: outcome.messages,
      ...(outcome.state !== undefined && { state: outcome.state }),
      ...(position !== undefined && { position }),
      ...(hasTimerChanges(outcome.timers) && { timers: outcome.timers }),
    };
  }

  /**
   * The store has no record of the agent: it lost its data (a Redis restarted without
   * persistence). The agent's own copy is all that is left, so it claims the agent again under its
   * epoch and goes on; its state is stored again with its next change.
   */
  async #claimAgain(
    outcome: HandlerOutcome,
    position: AgentCommit["position"],
  ): Promise<AgentCommit> {
    const { bus, guildId, agentId, epoch, topics, log } = this.#options;
    log.warn(
      "the bus has no record of this agent (its Redis lost its data?); claiming it again: state committed before is lost",
      { epoch },
    );
    const checkpoint = await bus.claimAgent(guildId, agentId, { epoch, topics });
    this.#sequence = checkpoint.commits;
    return this.#numbered(outcome, position);
  }

  #fence(): void {
    if (this.#fenced) return;
    this.#fenced = true;
    this.#closed = true;
    this.#options.log.warn(
      "a newer placement owns this agent: this copy stops, and nothing it did since is kept",
      { epoch: this.#options.epoch },
    );
    void this.#unsubscribe();
    this.#options.onFenced?.();
  }
}

/** One outcome of what several handlers did, in order (see `#takeGroup`). */
function mergeOutcomes(group: readonly { readonly outcome: HandlerOutcome }[]): HandlerOutcome {
  const [only] = group;
  if (group.length === 1 && only !== undefined) return only.outcome;
  let state: string | undefined;
  let timers: TimerChanges | undefined;
  const messages: Message[] = [];
  for (const { outcome } of group) {
    messages.push(...outcome.messages);
    if (outcome.state !== undefined) state = outcome.state;
    if (hasTimerChanges(outcome.timers)) timers = outcome.timers;
  }
  return {
    messages,
    ...(state !== undefined && { state }),
    ...(timers !== undefined && { timers }),
  };
}
