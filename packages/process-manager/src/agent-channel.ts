// The host's side of one process of an agent: the start handshake, the deliveries and memory
// requests in flight, the answers to its requests (publish, schedule, cancel-schedule), and its
// output into the agent's log.
// Each start of an agent gets a new channel; what was in flight with a process fails when it exits.
import { GuildhallError, Message, type AgentSpec } from "@guildhall/core";
import { asGuildhallError } from "./as-guildhall-error.js";
import {
  describeIssues,
  REQUEST_TYPES,
  TimerId,
  type AgentSendMessage,
  type CancelScheduleRequestMessage,
  type HostToRunner,
  type PublishRequestMessage,
  type RunnerToHost,
  type ScheduleRequestMessage,
} from "./ipc-protocol.js";
import type { LogBuffer } from "./log-buffer.js";
import type {
  AgentRef,
  CancelScheduleRequest,
  DurableState,
  PublishHandler,
  PublishRequest,
  ResolvedAgentProcessManagerOptions,
  ScheduleRequest,
} from "./manager-options.js";
import { readRssBytes } from "./process-memory.js";
import type { ProcessExit } from "./restart-policy.js";
import { describeExit, type RunnerProcess } from "./runner-process.js";
import type { GuildContext } from "./spawn-request.js";

const STATS_TIMEOUT_MS = 1_000;

/**
 * What became of one delivery: handled, skipped (the agent's own message), or failed (its handler
 * threw, or left a state that is not JSON or over `maxStateBytes`; its state changes were dropped).
 * `deliveryId` is the `handler` of the publish requests the agent made while handling it.
 */
export type DeliveryResult =
  | {
      readonly status: "handled";
      readonly deliveryId: number;
      /** The state the handler left, when it changed it; the host commits it with the handler. */
      readonly state?: DurableState;
    }
  | { readonly status: "skipped"; readonly deliveryId: number }
  | { readonly status: "failed"; readonly deliveryId: number; readonly error: string };

/** Options of `AgentProcessManager.deliver`. */
export interface DeliverOptions {
  /**
   * Called at once, before the message is sent, with the delivery's id: the `handler` of the
   * requests the agent makes while it handles this message, and the `deliveryId` of its result. A
   * host that hands an agent several messages ahead tells their requests apart by it.
   */
  readonly onDeliveryId?: (deliveryId: number) => void;
}

/** The agent a channel belongs to, as far as the channel needs it. */
export interface AgentChannelOwner {
  readonly guild: Required<GuildContext>;
  readonly spec: AgentSpec;
  /** The agent's output, across its processes. */
  readonly logs: LogBuffer;
  readonly options: ResolvedAgentProcessManagerOptions;
  /** An id for a delivery or memory request, unique in the manager. */
  nextId(): number;
  /** Keeps `message` as the agent's last error. */
  recordError(message: string): void;
}

interface PendingStart {
  readonly resolve: (state: DurableState | undefined) => void;
  readonly reject: (error: GuildhallError) => void;
  readonly timer: NodeJS.Timeout;
  /** Why the start failed, once known; the start rejects with it when the process is gone. */
  failure: GuildhallError | undefined;
}

interface PendingDelivery {
  readonly messageId: string;
  readonly resolve: (result: DeliveryResult) => void;
  readonly reject: (error: GuildhallError) => void;
}

/** One agent process as its supervisor talks to it. */
export class AgentChannel {
  /** The process. */
  readonly runner: RunnerProcess;
  /**
   * Whether stopping the process has work for it to do (see `ReadyEvent`): true until it reported
   * ready, since an agent still starting may yet run `onStop`.
   */
  gracefulStop = true;
  readonly #owner: AgentChannelOwner;
  readonly #deliveries = new Map<number, PendingDelivery>();
  readonly #statsRequests = new Map<number, (rssBytes: number | undefined) => void>();
  #start: PendingStart | undefined;
  /** The process's `fatal` report, kept as the reason of its exit. */
  #fatal: string | undefined;

  /** Takes over `runner`'s messages and output. */
  constructor(runner: RunnerProcess, owner: AgentChannelOwner) {
    this.runner = runner;
    this.#owner = owner;
    runner.attach({
      message: (message) => this.#onMessage(message),
      invalid: (description, raw) => this.#onInvalid(description, raw),
      line: (stream, text) => owner.logs.append(stream, runner.pid, text),
    });
  }

  /**
   * Sends `start` once the runner has reported in and `prepared` has resolved, and resolves when
   * the agent is ready, with the state its onStart left when changed. Rejects only after the
   * process has exited ({@link close}): with the failure it reported, `prepared`'s rejection or the
   * missed `startTimeoutMs` (either kills it), or else what its exit says.
   */
  start(
    prepared: Promise<DurableState | undefined>,
    requestedAt: number,
  ): Promise<DurableState | undefined> {
    const { guild, spec, options } = this.#owner;
    return new Promise<DurableState | undefined>((resolve, reject) => {
      const pending: PendingStart = {
        resolve,
        reject,
        failure: undefined,
        timer: setTimeout(
          () =>
            this.#failStart(
              pending,
              new GuildhallError(
                "deadline-exceeded",
                `agent "${spec.id}" was not ready within startTimeoutMs=${options.startTimeoutMs} ms (slow module load or onStart); make onStart return sooner or raise startTimeoutMs`,
              ),
            ),
          options.startTimeoutMs - (Date.now() - requestedAt),
        ),
      };
      this.#start = pending;
      prepared.catch((error: unknown) => {
        if (this.#start === pending) this.#failStart(pending, asGuildhallError(error));
      });
      Promise.all([this.runner.hello, prepared]).then(
        ([, state]) => {
          if (this.#start !== pending) return;
          this.runner.send({
            type: "start",
            guild,
            agent: spec,
            agentModules: [...options.agentModules],
            stopTimeoutMs: options.stopTimeoutMs,
            ...(state !== undefined && { state }),
            maxStateBytes: options.maxStateBytes,
            maxMessageBytes: options.maxMessageBytes,
          });
        },
        // The exit rejects the start.
        () => undefined,
      );
    });
  }

  /**
   * Hands `message` (already validated) to the agent; resolves when it has been handled.
   *
   * @throws GuildhallError `unavailable` when the process exits first
   */
  deliver(message: Message, options: DeliverOptions = {}): Promise<DeliveryResult> {
    const { guild, spec } = this.#owner;
    const deliveryId = this.#owner.nextId();
    options.onDeliveryId?.(deliveryId);
    return new Promise<DeliveryResult>((resolve, reject) => {
      this.#deliveries.set(deliveryId, { messageId: message.id, resolve, reject });
      if (!this.runner.send({ type: "deliver", deliveryId, message })) {
        this.#deliveries.delete(deliveryId);
        reject(
          new GuildhallError(
            "unavailable",
            `agent "${spec.id}" of guild "${guild.id}" is exiting; deliver again once it is ready`,
          ),
        );
      }
    });
  }

  /**
   * The process's resident memory: read from /proc, else asked of the runner; undefined when
   * neither answers within a second.
   */
  rssBytes(): Promise<number | undefined> {
    const fromProc = readRssBytes(this.runner.pid);
    if (fromProc !== undefined) return Promise.resolve(fromProc);
    const requestId = this.#owner.nextId();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#statsRequests.delete(requestId);
        resolve(undefined);
      }, STATS_TIMEOUT_MS);
      this.#statsRequests.set(requestId, (rss) => {
        clearTimeout(timer);
        resolve(rss);
      });
      if (!this.runner.send({ type: "stats-request", requestId })) {
        clearTimeout(timer);
        this.#statsRequests.delete(requestId);
        resolve(undefined);
      }
    });
  }

  /** Why the process of a ready agent ended: its `fatal` report, else its exit and last stderr. */
  exitReason(exit: ProcessExit): string {
    return (
      this.#fatal ??
      `agent process ${this.runner.pid} exited unexpectedly (${describeExit(exit)})${this.#stderrTail()}`
    );
  }

  /** Ends what was in flight with the exited process: deliveries, memory requests, the start. */
  close(exit: ProcessExit): void {
    const spec = this.#owner.spec;
    for (const pending of this.#deliveries.values()) {
      pending.reject(
        new GuildhallError(
          "unavailable",
          `agent "${spec.id}" exited (${describeExit(exit)}) before it handled message ${pending.messageId}; deliver it again when the agent is ready`,
        ),
      );
    }
    this.#deliveries.clear();
    for (const resolve of this.#statsRequests.values()) resolve(undefined);
    this.#statsRequests.clear();
    const pending = this.#start;
    if (pending === undefined) return;
    this.#start = undefined;
    clearTimeout(pending.timer);
    pending.reject(
      pending.failure ??
        new GuildhallError(
          "internal",
          `agent process ${this.runner.pid} exited (${describeExit(exit)}) before agent "${spec.id}" was ready${this.#stderrTail()}`,
        ),
    );
  }

  #failStart(pending: PendingStart, failure: GuildhallError): void {
    pending.failure ??= failure;
    // The start rejects in close, once the process is gone.
    this.runner.kill("SIGKILL");
  }

  #onMessage(message: RunnerToHost): void {
    switch (message.type) {
      case "ready": {
        const pending = this.#start;
        if (pending === undefined) return;
        this.gracefulStop = message.gracefulStop;
        const { state } = message;
        this.#publishSends("start", message.messages).then(
          () => {
            if (this.#start !== pending) return;
            this.#start = undefined;
            clearTimeout(pending.timer);
            pending.resolve(state);
          },
          (error: unknown) => {
            if (this.#start !== pending) return;
            const refusal = asGuildhallError(error);
            this.#failStart(
              pending,
              new GuildhallError(
                refusal.code,
                `agent "${this.#owner.spec.id}" (${this.#owner.spec.className}) onStart sent a message the host refused: ${refusal.message}`,
              ),
            );
          },
        );
        return;
      }
      case "failed":
        if (this.#start !== undefined) {
          this.#start.failure = new GuildhallError(message.code, message.message);
        }
        return;
      case "fatal":
        this.#fatal = message.message;
        this.#owner.recordError(message.message);
        return;
      case "publish":
        void this.#answer(message.requestId, () => this.#publish(message));
        return;
      case "schedule":
        void this.#answer(message.requestId, () => this.#schedule(message));
        return;
      case "cancel-schedule":
        void this.#answer(message.requestId, () => this.#cancelSchedule(message));
        return;
      case "delivered": {
        const pending = this.#deliveries.get(message.deliveryId);
        if (pending === undefined) return;
        this.#deliveries.delete(message.deliveryId);
        const deliveryId = message.deliveryId;
        const failed = (error: string): void => {
          this.#owner.recordError(`onMessage failed on message ${pending.messageId}: ${error}`);
          pending.resolve({ status: "failed", deliveryId, error });
        };
        if (message.status === "failed") {
          failed(message.error ?? "unknown error");
        } else if (message.status === "handled") {
          const state = message.state;
          this.#publishSends(deliveryId, message.messages).then(
            () =>
              pending.resolve({
                status: "handled",
                deliveryId,
                ...(state !== undefined && { state }),
              }),
            (error: unknown) => failed(asGuildhallError(error).message),
          );
        } else {
          pending.resolve({ status: "skipped", deliveryId });
        }
        return;
      }
      case "stats": {
        const resolve = this.#statsRequests.get(message.requestId);
        this.#statsRequests.delete(message.requestId);
        resolve?.(message.rssBytes);
        return;
      }
      case "hello":
        return;
    }
  }

  #onInvalid(description: string, raw: unknown): void {
    this.#owner.recordError(
      `agent process ${this.runner.pid} sent an invalid IPC message: ${description}`,
    );
    // A request that fails validation still gets an answer, or the agent's call would hang.
    const candidate = raw as { type?: unknown; requestId?: unknown } | null;
    if (
      typeof candidate === "object" &&
      candidate !== null &&
      (REQUEST_TYPES as readonly unknown[]).includes(candidate.type) &&
      typeof candidate.requestId === "number" &&
      Number.isSafeInteger(candidate.requestId) &&
      candidate.requestId >= 0
    ) {
      this.runner.send({
        type: "request-failed",
        requestId: candidate.requestId,
        code: "invalid-argument",
        message: `invalid ${String(candidate.type)} request: ${description}`,
      });
    }
  }

  /**
   * Sends the reply `handle` resolves with, or a `request-failed` with the code of its rejection
   * (a GuildhallError's own; anything else is `internal`), so every request gets one answer.
   */
  async #answer(requestId: number, handle: () => Promise<HostToRunner>): Promise<void> {
    try {
      this.runner.send(await handle());
    } catch (error) {
      const failure = asGuildhallError(error);
      this.runner.send({
        type: "request-failed",
        requestId,
        code: failure.code,
        message: failure.message.slice(0, 65_536),
      });
    }
  }

  #agentRef(): AgentRef {
    const { guild, spec } = this.#owner;
    return { guildId: guild.id, agentId: spec.id, agentName: spec.name, pid: this.runner.pid };
  }

  async #publish(message: PublishRequestMessage): Promise<HostToRunner> {
    const request: PublishRequest = {
      topic: message.topic,
      payload: message.payload,
      format: message.format,
      ...(message.threadId !== undefined && { threadId: message.threadId }),
      ...(message.inResponseTo !== undefined && { inResponseTo: message.inResponseTo }),
      ...(message.traceparent !== undefined && { traceparent: message.traceparent }),
    };
    // The agent's send resolves with this message, so it is checked before it reaches the runner.
    const published = Message.safeParse(await this.#onPublish()(this.#agentRef(), request));
    if (!published.success) {
      throw new GuildhallError(
        "internal",
        `onPublish resolved with an invalid Message (${describeIssues(published.error)}); resolve with the message as published`,
      );
    }
    return { type: "published", requestId: message.requestId, message: published.data };
  }

  /**
   * Publishes, in order, what a handler sent (its process built and checked each message, and its
   * send has resolved); rejects with the first refusal, and publishes none after it.
   */
  async #publishSends(
    handler: NonNullable<PublishRequest["handler"]>,
    sends: readonly AgentSendMessage[] | undefined,
  ): Promise<void> {
    if (sends === undefined || sends.length === 0) return;
    const onPublish = this.#onPublish();
    const agent = this.#agentRef();
    for (const send of sends) await onPublish(agent, { ...send, handler } as PublishRequest);
  }

  #onPublish(): PublishHandler {
    const onPublish = this.#owner.options.onPublish;
    if (onPublish === undefined) {
      throw new GuildhallError(
        "unavailable",
        "this AgentProcessManager has no onPublish handler, so agents cannot publish; pass onPublish in its options",
      );
    }
    return onPublish;
  }

  async #schedule(message: ScheduleRequestMessage): Promise<HostToRunner> {
    const onSchedule = this.#owner.options.onSchedule;
    if (onSchedule === undefined) {
      throw new GuildhallError(
        "unavailable",
        "this AgentProcessManager has no onSchedule handler, so agents cannot set timers; pass onSchedule in its options",
      );
    }
    const request: ScheduleRequest = {
      delayMs: message.delayMs,
      payload: message.payload,
      ...(message.handler !== undefined && { handler: message.handler }),
    };
    // Typed, but a host written in JavaScript may resolve with anything; the runner would refuse
    // a bad id and leave the agent's call waiting.
    const scheduled: unknown = await onSchedule(this.#agentRef(), request);
    const id = (scheduled as { id?: unknown } | null | undefined)?.id;
    const parsed = TimerId.safeParse(id);
    if (!parsed.success) {
      const got = typeof id === "string" ? `a string of ${id.length} characters` : typeof id;
      throw new GuildhallError(
        "internal",
        `onSchedule resolved without a valid timer id (its id is ${got}); resolve with { id }, a string of 1 to 64 characters`,
      );
    }
    return { type: "scheduled", requestId: message.requestId, id: parsed.data };
  }

  async #cancelSchedule(message: CancelScheduleRequestMessage): Promise<HostToRunner> {
    const onCancelSchedule = this.#owner.options.onCancelSchedule;
    if (onCancelSchedule === undefined) {
      throw new GuildhallError(
        "unavailable",
        "this AgentProcessManager has no onCancelSchedule handler, so agents cannot cancel timers; pass onCancelSchedule in its options",
      );
    }
    const request: CancelScheduleRequest = {
      id: message.id,
      ...(message.handler !== undefined && { handler: message.handler }),
    };
    await onCancelSchedule(this.#agentRef(), request);
    return { type: "schedule-cancelled", requestId: message.requestId };
  }

  #stderrTail(): string {
    const lines = this.#owner.logs
      .lines(50)
      .filter((line) => line.pid === this.runner.pid && line.stream === "stderr")
      .slice(-5)
      .map((line) => line.text);
    return lines.length > 0 ? `; its last stderr lines: ${lines.join(" | ")}` : "";
  }
}
