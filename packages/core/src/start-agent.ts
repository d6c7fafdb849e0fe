// Runs one agent on a bus: builds its contexts, subscribes it, runs onStart, delivers messages,
// stops it. The in-process engine uses it directly; an agent process can use it with a bus that
// reaches its host, so agent semantics are the same wherever an agent runs.
import type {
  Agent,
  AgentClass,
  AgentContext,
  AgentInit,
  AgentLogger,
  MessageContext,
  SendOptions,
} from "./agent.js";
import { GuildhallError } from "./errors.js";
import type { MessageIdGenerator } from "./ids.js";
import { createJsonLogger, withLogFields } from "./logger.js";
import { createMessage, inboxTopic } from "./message.js";
import type { JsonValue, Message } from "./message.js";
import type { MessageBus, Subscription } from "./message-bus.js";
import { replyTarget } from "./reply.js";
import { DEFAULT_TOPIC } from "./spec.js";
import type { AgentSpec } from "./spec.js";

/** Options of {@link startAgent}. */
export interface StartAgentOptions {
  /** The bus the agent talks on. */
  bus: MessageBus;
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
  /**
   * Stops delivery, waits for the message being handled, runs `onStop`, and resolves; after that
   * the agent can no longer publish. Idempotent. Errors of `onStop` are logged, not thrown.
   */
  stop(options?: StopAgentOptions): Promise<void>;
}

type State = "starting" | "running" | "stopping" | "stopped";

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

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
 * Starts one agent of a guild on a bus and resolves once it is ready.
 *
 * The agent is subscribed to its guild's default topic (unless `listenToDefaultTopic` is false),
 * its `additionalTopics` and its inbox `inbox:<id>` **before** `onStart` runs, so replies to what
 * `onStart` sends are not lost; messages that arrive meanwhile are delivered once `onStart`
 * resolved. Messages are then handled one at a time, across all its topics, and never its own.
 *
 * @throws GuildhallError `failed-precondition` if the constructor or `onStart` throws (the code
 *   of a GuildhallError thrown by `onStart` is kept), and nothing is left subscribed;
 *   `deadline-exceeded` / `aborted` when `signal` aborts; the bus's errors.
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
  let state: State = "starting";

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
      `agent "${agentId}" failed to start: the constructor of ${spec.className} threw: ${reasonOf(error)}`,
      { cause: error },
    );
  }

  async function publishAs(
    topic: string,
    payload: JsonValue,
    fields: Omit<SendOptions, "topic"> & { traceparent?: string | undefined },
  ): Promise<Message> {
    if (state === "stopped") {
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
    await bus.publish(guildId, message);
    return message;
  }

  function contextFor(traceparent: string | undefined): AgentContext {
    return {
      agentId,
      guildId,
      log,
      send: (payload, opts = {}) =>
        publishAs(opts.topic ?? defaultTopic, payload, { ...opts, traceparent }),
      publish: (topic, payload, opts = {}) => publishAs(topic, payload, { ...opts, traceparent }),
    };
  }

  function messageContext(message: Message): MessageContext {
    const base = contextFor(message.traceparent);
    return {
      ...base,
      message,
      payload: message.payload,
      reply: (payload, opts = {}) => {
        const { topic, threadId, inResponseTo } = replyTarget(message, agentId, opts);
        return publishAs(topic, payload, {
          ...opts,
          threadId,
          inResponseTo,
          traceparent: message.traceparent,
        });
      },
    };
  }

  let resolveStarted!: (ok: boolean) => void;
  const started = new Promise<boolean>((resolve) => (resolveStarted = resolve));

  async function deliver(message: Message): Promise<void> {
    if (!(await started) || state !== "running" || message.sender.id === agentId) return;
    try {
      await agent.onMessage(messageContext(message));
    } catch (error) {
      log.error("onMessage threw; the agent goes on with the next message", {
        messageId: message.id,
        topic: message.topic,
        error: reasonOf(error),
      });
    }
  }

  // One chain for all topics: an agent handles one message at a time, whatever the topic.
  let tail: Promise<void> = Promise.resolve();
  const handle = (message: Message): Promise<void> => {
    tail = tail.then(() => deliver(message));
    return tail;
  };

  const topics = [
    ...new Set([
      ...(spec.listenToDefaultTopic === false ? [] : [defaultTopic]),
      ...(spec.additionalTopics ?? []),
      inbox,
    ]),
  ];
  const subscriptions: Subscription[] = [];

  async function unsubscribeAll(): Promise<void> {
    const all = subscriptions.splice(0);
    await Promise.all(all.map((s) => s.unsubscribe().catch(() => undefined)));
  }

  try {
    for (const topic of topics) {
      subscriptions.push(
        await bus.subscribe(guildId, topic, handle, {
          excludeSender: agentId,
          onError: (error, message) =>
            log.error("delivery failed", { messageId: message.id, error: reasonOf(error) }),
        }),
      );
    }
    if (signal?.aborted) throw abortError(signal, agentId);
    const onStart = Promise.resolve()
      .then(() => agent.onStart?.(contextFor(undefined)))
      .catch((error: unknown) => {
        throw new GuildhallError(
          error instanceof GuildhallError ? error.code : "failed-precondition",
          `agent "${agentId}" failed to start: onStart of ${spec.className} threw: ${reasonOf(error)}`,
          { cause: error },
        );
      });
    if (signal === undefined) {
      await onStart;
    } else {
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError(signal, agentId));
        signal.addEventListener("abort", onAbort, { once: true });
      });
      try {
        await Promise.race([onStart, aborted]);
      } catch (error) {
        if (signal.aborted) {
          // onStart may still finish: let the agent release what it set up.
          onStart
            .then(
              () => agent.onStop?.(),
              () => undefined,
            )
            .catch((e: unknown) =>
              log.error("onStop threw after an aborted start", { error: reasonOf(e) }),
            );
        }
        throw error;
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    }
  } catch (error) {
    state = "stopped";
    resolveStarted(false);
    await unsubscribeAll();
    if (error instanceof GuildhallError) throw error;
    throw new GuildhallError("internal", `agent "${agentId}" failed to start: ${reasonOf(error)}`, {
      cause: error,
    });
  }
  state = "running";
  resolveStarted(true);

  let stopping: Promise<void> | undefined;
  return {
    agent,
    topics,
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        const timeoutMs = stopOptions.timeoutMs ?? 10_000;
        state = "stopping";
        await unsubscribeAll();
        if ((await within(tail, timeoutMs)) === TIMED_OUT) {
          log.warn("the message being handled did not finish before the stop timeout", {
            timeoutMs,
          });
        }
        try {
          const result = await within(
            Promise.resolve().then(() => agent.onStop?.()),
            timeoutMs,
          );
          if (result === TIMED_OUT)
            log.warn("onStop did not finish before the stop timeout", { timeoutMs });
        } catch (error) {
          log.error("onStop threw", { error: reasonOf(error) });
        }
        state = "stopped";
      })();
      return stopping;
    },
  };
}
