// Runs one durable agent on a bus: claims it, loads its state, runs onStart, delivers messages
// through a DurableInbox (each handler's state, position and sends committed in one step), stops
// it. The in-process engine uses it directly; hosts follow the same steps across a process
// boundary, so agent semantics are the same wherever an agent runs.
import type {
  Agent,
  AgentClass,
  AgentContext,
  AgentInit,
  AgentLogger,
  MessageContext,
  SendOptions,
} from "./agent.js";
import type { DurableMessageBus } from "./agent-store.js";
import { DEFAULT_MAX_STATE_BYTES, decodeAgentState, encodeAgentState } from "./agent-state.js";
import { AgentTimers } from "./agent-timers.js";
import { DurableInbox, type CommitRecord, type HandlerOutcome } from "./durable-inbox.js";
import { GuildhallError, errorMessage } from "./errors.js";
import type { MessageIdGenerator } from "./ids.js";
import { createJsonLogger, withLogFields } from "./logger.js";
import { createMessage, inboxTopic } from "./message.js";
import { validateMessage } from "./validation.js";
import type { JsonValue, Message } from "./message.js";
import { replyTarget } from "./reply.js";
import { DEFAULT_TOPIC } from "./spec.js";
import type { AgentSpec } from "./spec.js";
import {
  checkTimerCount,
  hasTimerChanges,
  newTimer,
  timerMessage,
  type AgentTimer,
  type TimerChanges,
} from "./timers.js";

/** Options of {@link startAgent}. */
export interface StartAgentOptions {
  /** The bus the agent talks on; its state and read positions are kept there too. */
  bus: DurableMessageBus;
  /**
   * The placement epoch this start claims the agent with: any older copy is refused at its next
   * commit. Default: the current time in milliseconds, above any earlier start of this process.
   */
  epoch?: number;
  /** The largest state the agent may keep, in bytes of its JSON. Default 1 MiB. */
  maxStateBytes?: number;
  /** Called with every commit, for metrics. Default: none. */
  onCommit?: (record: CommitRecord) => void;
  /** The agent's guild: its id, and its default topic (default `"default_topic"`). */
  guild: { id: string; defaultTopic?: string | undefined };
  /** The agent's spec, already validated (see `validateAgentSpec`). */
  spec: AgentSpec;
  /** The class to instantiate (see `loadAgentClass`). */
  agentClass: AgentClass;
  /** Where the agent's logs go; entries get `guildId` and `agentId`. Default: JSON lines on stderr. */
  log?: AgentLogger;
  /** Where the ids of the agent's messages come from. Default: this process's generator. */
  ids?: MessageIdGenerator;
  /**
   * Aborts the start: `startAgent` rejects (`deadline-exceeded` when the reason is a
   * `TimeoutError`, as from `AbortSignal.timeout`, `aborted` otherwise) and unsubscribes. If
   * `onStart` completes later, `onStop` runs then. Default: none.
   */
  signal?: AbortSignal;
}

/** Options of {@link RunningAgent.stop}. */
export interface StopAgentOptions {
  /**
   * How long to wait for the message being handled, and then for `onStop`, in milliseconds each,
   * before giving up on them. Default 10,000.
   */
  timeoutMs?: number;
}

/** An agent started by {@link startAgent}. */
export interface RunningAgent {
  /** The agent instance. */
  readonly agent: Agent<never>;
  /** The topics it receives: default topic, additional topics, inbox (without duplicates). */
  readonly topics: readonly string[];
  /** The placement epoch it was claimed with. */
  readonly epoch: number;
  /**
   * Stops delivery, waits for the message being handled, runs `onStop`, and resolves; after that
   * the agent can no longer publish. Idempotent. Errors of `onStop` are logged, not thrown.
   */
  stop(options?: StopAgentOptions): Promise<void>;
  /**
   * Ends the agent as a crash would: nothing more is handled or committed, the handler in
   * progress included, and `onStop` does not run. Its state stays as last committed, for the
   * next start to resume from.
   */
  abandon(): Promise<void>;
}

type Phase = "starting" | "running" | "stopping" | "stopped";

/**
 * Where a context's sends and timer changes go: held for its handler's commit while `open`,
 * committed alone after.
 */
interface SendScope {
  open: boolean;
  readonly outbox: Message[];
  /** Timers set while open; a cancel of one of them just drops it. */
  readonly schedule: AgentTimer[];
  readonly cancel: string[];
  /** How many of `cancel` were pending when cancelled: what the timer cap no longer counts. */
  cancelledPending: number;
}

function newScope(): SendScope {
  return { open: true, outbox: [], schedule: [], cancel: [], cancelledPending: 0 };
}

/** The timer changes of a closed scope, when it made any. */
function scopeTimers(scope: SendScope): { timers?: TimerChanges } {
  const timers = { schedule: scope.schedule, cancel: scope.cancel };
  return hasTimerChanges(timers) ? { timers } : {};
}

let lastEpoch = 0;

/** Start times, strictly increasing within this process: the default epochs of startAgent. */
function nextEpoch(): number {
  lastEpoch = Math.max(lastEpoch + 1, Date.now());
  return lastEpoch;
}

const TIMED_OUT = Symbol("timed out");

async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function abortError(signal: AbortSignal, agentId: string): GuildhallError {
  const reason: unknown = signal.reason;
  const timedOut = reason instanceof Error && reason.name === "TimeoutError";
  return timedOut
    ? new GuildhallError(
        "deadline-exceeded",
        `agent "${agentId}" did not become ready in time: its onStart is still running; make onStart finish sooner or raise the timeout`,
        { cause: reason },
      )
    : new GuildhallError("aborted", `starting agent "${agentId}" was aborted`, { cause: reason });
}

/**
 * Starts one durable agent of a guild on a bus and resolves once it is ready.
 *
 * The agent is claimed under a new placement epoch, which loads its committed state and read
 * positions (a new agent starts at its topics' ends, so it receives what is published from now
 * on). Its state is set before `onStart` runs (the stored one, else `initialState()`), and what
 * `onStart` did is committed before the agent is subscribed. Messages are then handled one at a
 * time, across all its topics, and never its own; after each handler its state, its position and
 * what it sent are committed in one step (sends are held until then). A handler that throws has
 * its state change and sends dropped, and the agent goes on with the next message.
 *
 * @throws GuildhallError `failed-precondition` if the constructor or `onStart` throws (the code
 *   of a GuildhallError thrown by `onStart` is kept), or the stored state is corrupt, and nothing
 *   is left subscribed; `invalid-argument` for a state that is not JSON or too large;
 *   `aborted` when a newer placement holds the agent; `deadline-exceeded` / `aborted` when
 *   `signal` aborts; the bus's errors.
 */
export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const { bus, spec, signal } = options;
  const guildId = options.guild.id;
  const agentId = spec.id;
  const defaultTopic = options.guild.defaultTopic ?? DEFAULT_TOPIC;
  const inbox = inboxTopic(agentId);
  const sender = { id: agentId, name: spec.name };
  const log = withLogFields(options.log ?? createJsonLogger(), { guildId, agentId });
  const ids = options.ids === undefined ? {} : { ids: options.ids };
  const maxStateBytes = options.maxStateBytes ?? DEFAULT_MAX_STATE_BYTES;
  const epoch = options.epoch ?? nextEpoch();
  let phase: Phase = "starting";

  if (signal?.aborted) throw abortError(signal, agentId);

  let agent: Agent<never>;
  try {
    const init: AgentInit<Record<string, unknown>> = {
      id: agentId,
      name: spec.name,
      guildId,
      properties: spec.properties ?? {},
    };
    agent = new options.agentClass(init as AgentInit<never>);
  } catch (error) {
    throw new GuildhallError(
      "failed-precondition",
      `agent "${agentId}" failed to start: the constructor of ${spec.className} threw: ${errorMessage(error)}`,
      { cause: error },
    );
  }

  const topics = [
    ...new Set([
      ...(spec.listenToDefaultTopic === false ? [] : [defaultTopic]),
      ...(spec.additionalTopics ?? []),
      inbox,
    ]),
  ];
  const checkpoint = await bus.claimAgent(guildId, agentId, { epoch, topics });
  // Armed now: a timer due while onStart runs waits on the inbox, which is read after onStart.
  const timers = new AgentTimers({
    store: bus,
    guildId,
    agentId,
    epoch,
    timers: checkpoint.timers,
    log,
  });
  // The state as last committed: what a handler that throws goes back to.
  let committed = checkpoint.state;
  const writable = agent as { state: JsonValue; initialState?: () => JsonValue };
  if (committed !== undefined) {
    writable.state = decodeAgentState(guildId, agentId, committed);
  } else if (typeof writable.initialState === "function") {
    writable.state = writable.initialState();
  } else {
    writable.state ??= null;
  }

  function outboxMessage(
    topic: string,
    payload: JsonValue,
    fields: Omit<SendOptions, "topic"> & { traceparent?: string | undefined },
  ): Message {
    if (phase === "stopped") {
      throw new GuildhallError(
        "failed-precondition",
        `agent "${agentId}" of guild "${guildId}" is stopped and can no longer publish; clear its timers in onStop`,
      );
    }
    const message = createMessage({ topic, sender, payload }, ids);
    if (fields.format !== undefined) message.format = fields.format;
    if (fields.threadId !== undefined) message.threadId = fields.threadId;
    if (fields.inResponseTo !== undefined) message.inResponseTo = fields.inResponseTo;
    if (fields.traceparent !== undefined) message.traceparent = fields.traceparent;
    // Refused now, where the agent can catch it, rather than at the commit.
    validateMessage(message);
    const bytes = Buffer.byteLength(JSON.stringify(message));
    if (bytes > bus.maxMessageBytes) {
      throw new GuildhallError(
        "invalid-argument",
        `message ${message.id} on topic "${topic}" is ${bytes} bytes, over the bus limit of ${bus.maxMessageBytes}; send a reference to large data instead`,
      );
    }
    return message;
  }

  async function publishAs(
    scope: SendScope,
    topic: string,
    payload: JsonValue,
    fields: Omit<SendOptions, "topic"> & { traceparent?: string | undefined },
  ): Promise<Message> {
    const message = outboxMessage(topic, payload, fields);
    if (scope.open) {
      scope.outbox.push(message);
    } else {
      await durable.commit({ messages: [message] });
    }
    return message;
  }

  function checkNotStopped(what: string): void {
    if (phase === "stopped") {
      throw new GuildhallError(
        "failed-precondition",
        `agent "${agentId}" of guild "${guildId}" is stopped and can no longer ${what}`,
      );
    }
  }

  async function scheduleAs(
    scope: SendScope,
    delayMs: unknown,
    payload: unknown,
  ): Promise<{ id: string }> {
    checkNotStopped("schedule timers");
    const limit = bus.maxMessageBytes;
    const timer = newTimer(agentId, delayMs, payload, { ...ids, maxPayloadBytes: limit });
    // The payload fits, but the message it becomes must too, or the timer could never fire.
    const bytes = Buffer.byteLength(JSON.stringify(timerMessage(agentId, timer, timer.dueAt)));
    if (bytes > limit) {
      throw new GuildhallError(
        "invalid-argument",
        `agent "${agentId}" scheduled a timer whose message would be ${bytes} bytes of JSON, over the bus limit of ${limit} bytes; keep a reference to large data in its payload instead`,
      );
    }
    checkTimerCount(agentId, timers.size - scope.cancelledPending + scope.schedule.length + 1);
    if (scope.open) {
      scope.schedule.push(timer);
    } else {
      await durable.commit({ messages: [], timers: { schedule: [timer], cancel: [] } });
    }
    return { id: timer.id };
  }

  async function cancelAs(scope: SendScope, id: unknown): Promise<void> {
    checkNotStopped("cancel timers");
    if (typeof id !== "string" || id.length === 0) {
      throw new GuildhallError(
        "invalid-argument",
        `agent "${agentId}" cancelled timer ${JSON.stringify(id) ?? String(id)}: a timer id is the non-empty string schedule resolved with`,
      );
    }
    if (!scope.open) {
      await durable.commit({ messages: [], timers: { schedule: [], cancel: [id] } });
      return;
    }
    const at = scope.schedule.findIndex((timer) => timer.id === id);
    if (at >= 0) {
      scope.schedule.splice(at, 1);
    } else if (!scope.cancel.includes(id)) {
      scope.cancel.push(id);
      if (timers.has(id)) scope.cancelledPending += 1;
    }
  }

  function contextFor(scope: SendScope, traceparent: string | undefined): AgentContext {
    return {
      agentId,
      guildId,
      log,
      send: (payload, opts = {}) =>
        publishAs(scope, opts.topic ?? defaultTopic, payload, { ...opts, traceparent }),
      publish: (topic, payload, opts = {}) =>
        publishAs(scope, topic, payload, { ...opts, traceparent }),
      schedule: (delayMs, payload) => scheduleAs(scope, delayMs, payload),
      cancelSchedule: (id) => cancelAs(scope, id),
    };
  }

  function messageContext(scope: SendScope, message: Message): MessageContext {
    const base = contextFor(scope, message.traceparent);
    return {
      ...base,
      message,
      payload: message.payload,
      reply: (payload, opts = {}) => {
        const { topic, threadId, inResponseTo } = replyTarget(message, agentId, opts);
        return publishAs(scope, topic, payload, {
          ...opts,
          threadId,
          inResponseTo,
          traceparent: message.traceparent,
        });
      },
    };
  }

  /** The state to commit after a handler: its JSON when it changed. */
  function changedState(): string | undefined {
    const text = encodeAgentState(agentId, writable.state, maxStateBytes);
    return text === committed ? undefined : text;
  }

  async function deliver(message: Message): Promise<HandlerOutcome> {
    const scope = newScope();
    try {
      await agent.onMessage(messageContext(scope, message));
      const state = changedState();
      if (state !== undefined) committed = state;
      return {
        messages: scope.outbox,
        ...(state !== undefined && { state }),
        ...scopeTimers(scope),
      };
    } catch (error) {
      log.error(
        "onMessage threw; its state change and sends are dropped, and the agent goes on with the next message",
        {
          messageId: message.id,
          topic: message.topic,
          error: errorMessage(error),
        },
      );
      writable.state = committed === undefined ? null : (JSON.parse(committed) as JsonValue);
      return { messages: [] };
    } finally {
      scope.open = false;
    }
  }

  const durable: DurableInbox = new DurableInbox({
    bus,
    guildId,
    agentId,
    epoch,
    topics,
    checkpoint,
    log,
    handle: deliver,
    onFenced: () => {
      phase = "stopped";
      timers.close();
    },
    onCommit: (record) => {
      // Only a stored commit's timers may fire: one that failed or was fenced set none.
      if (record.timers !== undefined) timers.apply(record.timers);
      options.onCommit?.(record);
    },
  });

  try {
    const startScope = newScope();
    const onStart = Promise.resolve()
      .then(() => agent.onStart?.(contextFor(startScope, undefined)))
      .then(() => {
        startScope.open = false;
        return changedState();
      })
      .catch((error: unknown) => {
        startScope.open = false;
        if (error instanceof GuildhallError && error.code === "invalid-argument") throw error;
        throw new GuildhallError(
          error instanceof GuildhallError ? error.code : "failed-precondition",
          `agent "${agentId}" failed to start: onStart of ${spec.className} threw: ${errorMessage(error)}`,
          { cause: error },
        );
      });
    let state: string | undefined;
    if (signal === undefined) {
      state = await onStart;
    } else {
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError(signal, agentId));
        signal.addEventListener("abort", onAbort, { once: true });
      });
      try {
        state = await Promise.race([onStart, aborted]);
      } catch (error) {
        if (signal.aborted) {
          // onStart may still finish: let the agent release what it set up.
          onStart
            .then(
              () => agent.onStop?.(),
              () => undefined,
            )
            .catch((e: unknown) =>
              log.error("onStop threw after an aborted start", { error: errorMessage(e) }),
            );
        }
        throw error;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    }
    await durable.commit({
      messages: startScope.outbox,
      ...(state !== undefined && { state }),
      ...scopeTimers(startScope),
    });
    if (state !== undefined) committed = state;
    if (signal?.aborted) throw abortError(signal, agentId);
    await durable.open();
  } catch (error) {
    phase = "stopped";
    timers.close();
    await durable.close(0);
    if (error instanceof GuildhallError) throw error;
    throw new GuildhallError(
      "internal",
      `agent "${agentId}" failed to start: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  phase = "running";

  let stopping: Promise<void> | undefined;
  return {
    agent,
    topics,
    epoch,
    async abandon() {
      phase = "stopped";
      timers.close();
      await durable.abort();
    },
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        const timeoutMs = stopOptions.timeoutMs ?? 10_000;
        if (phase !== "stopped") phase = "stopping";
        await durable.close(timeoutMs);
        // After the last commit: what it set is the next start's to fire.
        timers.close();
        if (durable.fenced) {
          phase = "stopped";
          return;
        }
        try {
          const result = await within(
            Promise.resolve().then(() => agent.onStop?.()),
            timeoutMs,
          );
          if (result === TIMED_OUT)
            log.warn("onStop did not finish before the stop timeout", { timeoutMs });
        } catch (error) {
          log.error("onStop threw", { error: errorMessage(error) });
        }
        phase = "stopped";
      })();
      return stopping;
    },
  };
}
