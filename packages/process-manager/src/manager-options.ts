// The options of AgentProcessManager, their defaults, and the one function that validates them.
import {
  DEFAULT_MAX_STATE_BYTES,
  GuildhallError,
  RestartPolicy,
  checkWholeNumber,
  type JsonValue,
  type Message,
} from "@guildhall/core";
import {
  DEFAULT_RESTART_POLICY,
  resolveRestartPolicy,
  type ResolvedRestartPolicy,
} from "./restart-policy.js";

/**
 * The agent a publish, schedule or cancel-schedule request comes from; the host stamps it as a
 * message's sender, and keeps a timer with that agent.
 */
export interface AgentRef {
  readonly guildId: string;
  readonly agentId: string;
  readonly agentName: string;
  /** The agent's process. */
  readonly pid: number;
}

/**
 * What an agent asked to publish. It never names a sender: the host stamps it from
 * {@link AgentRef}. `topic` is already resolved (`send` without a topic means the guild's
 * default topic).
 */
export interface PublishRequest {
  readonly topic: string;
  readonly payload: JsonValue;
  /** Default `"json"`. */
  readonly format: string;
  readonly threadId?: string;
  readonly inResponseTo?: string;
  /** W3C trace context: the handled message's, when the agent sent from its handler. */
  readonly traceparent?: string;
  /**
   * The handler the agent sent from, while it ran: `"start"` for `onStart`, or the `deliveryId`
   * of the delivery being handled (as in its {@link DeliveryResult}). Absent for sends made outside
   * any running handler: from `onStop`, a timer the agent set itself, or a context used after its
   * handler returned. A host that commits handlers holds tagged sends until the handler's commit
   * and drops them when it failed (or its process exited before `deliver` resolved).
   */
  readonly handler?: "start" | number;
  /**
   * The id and creation time the agent process gave a message sent from a running handler: its
   * send resolved with them already, so the host keeps them. Absent for sends outside handlers,
   * which the host numbers.
   */
  readonly id?: string;
  /** See {@link PublishRequest.id}. */
  readonly timestamp?: number;
}

/**
 * What an agent asked with `ctx.schedule(delayMs, payload)`: a durable timer. The manager checks
 * neither the delay (any finite number arrives here) nor the payload's size: the host checks them
 * (core's `newTimer`) and the agent's timer cap, and rejects with `invalid-argument` or
 * `resource-exhausted`.
 */
export interface ScheduleRequest {
  readonly delayMs: number;
  /** What the fired timer's message carries; JSON already (the agent process checked it). */
  readonly payload: JsonValue;
  /**
   * The handler that asked, while it ran, as in {@link PublishRequest.handler}: a host that
   * commits handlers puts the timer into that handler's commit, and drops it when the handler
   * failed. Absent for requests outside any running handler.
   */
  readonly handler?: "start" | number;
}

/** What an agent asked with `ctx.cancelSchedule(id)`. */
export interface CancelScheduleRequest {
  /** The timer's id, as `onSchedule` resolved with it: 1 to 64 characters. */
  readonly id: string;
  /** The handler that asked, while it ran, as in {@link ScheduleRequest.handler}. */
  readonly handler?: "start" | number;
}

/**
 * An agent's durable state as its host stores it. `value` is any JSON, `null` included, so that a
 * stored `null` differs from nothing stored.
 */
export interface DurableState {
  readonly value: JsonValue;
}

/** The agent a start is prepared for. */
export interface StartingAgent {
  readonly guildId: string;
  readonly agentId: string;
  readonly agentName: string;
}

/** What an agent starts with; `state` absent means nothing is stored yet. */
export interface PreparedStart {
  readonly state?: DurableState;
}

/**
 * Called before each start of an agent (its spawn and every restart by the restart policy) for the
 * state it starts with. Rejecting fails that start: a spawn rejects with the error (its
 * GuildhallError code kept), a restart counts as a failed restart.
 */
export type PrepareStartHandler = (agent: StartingAgent) => Promise<PreparedStart>;

/**
 * Publishes for an agent and resolves with the message as sent (with its id, sender and
 * timestamp). Reject with a GuildhallError to refuse.
 *
 * A send from outside any handler waits for this: the agent's `send` resolves with the message,
 * or rejects with the refusal's code and message. A send from a running handler (`handler` set)
 * does not: the agent process checks and builds the message itself (a send over
 * `maxMessageBytes` fails there), its `send` resolves at once, and the handler's sends reach
 * this in order when the handler has ended, before its delivery (or start) resolves. Refusing one
 * of them fails that handler as a throw would: its delivery resolves `failed` with the refusal's
 * message.
 */
export type PublishHandler = (agent: AgentRef, request: PublishRequest) => Promise<Message>;

/**
 * Sets a durable timer for an agent and resolves with its id (1 to 64 characters), with which the
 * agent's `schedule` resolves. Reject with a GuildhallError to refuse (its code and message reach
 * the agent).
 */
export type ScheduleHandler = (
  agent: AgentRef,
  request: ScheduleRequest,
) => Promise<{ id: string }>;

/**
 * Cancels an agent's timer; the agent's `cancelSchedule` resolves once it does. Reject with a
 * GuildhallError to refuse (its code and message reach the agent).
 */
export type CancelScheduleHandler = (
  agent: AgentRef,
  request: CancelScheduleRequest,
) => Promise<void>;

/**
 * Environment variables agent processes inherit from the host by default (a trailing `*` matches a
 * prefix). Everything else, credentials such as `GUILDHALL_REDIS_URL` and `GUILDHALL_TOKEN`
 * included, stays in the host.
 */
export const DEFAULT_INHERITED_ENV: readonly string[] = Object.freeze([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LANGUAGE",
  "LC_*",
  "TZ",
  "TMPDIR",
  "TMP",
  "TEMP",
  "NODE_ENV",
  "NODE_EXTRA_CA_CERTS",
  "SYSTEMROOT",
]);

/** Options of {@link AgentProcessManager}; every field is optional. */
/** Options of `AgentProcessManager.stop`. */
export interface AgentStopOptions {
  /**
   * The caller has made sure the agent handles nothing and is handed nothing more (a host whose
   * durable session closed): its process is then ended with SIGKILL at once when it reported
   * nothing to do at a stop (no `onStop`, no output it may still buffer), since a graceful exit
   * would only cost time. Default false: a queued delivery still runs before the agent exits.
   */
  readonly quiesced?: boolean;
  /**
   * With `quiesced`: end the process with SIGKILL at once even when it has an `onStop`, which then
   * does not run. For an agent put to sleep, whose state is committed and who is started again on
   * its next message. Default false.
   */
  readonly skipOnStop?: boolean;
}

export interface AgentProcessManagerOptions {
  /**
   * Agent modules this manager may load: package names (matched exactly), absolute directories or
   * `file:` URLs (everything inside, symlinks resolved), or single files. Default: none, so every
   * spawn is refused with `permission-denied` until you list something.
   */
  agentModules?: readonly string[];
  /** Agent processes at most; a spawn beyond it fails with `resource-exhausted`. Default 100. */
  maxProcesses?: number;
  /** How long a stopping agent gets (SIGTERM, `onStop`) before SIGKILL. Default 10 000. */
  stopTimeoutMs?: number;
  /** How long an agent may take from spawn to ready (load, `onStart`). Default 30 000. */
  startTimeoutMs?: number;
  /**
   * Idle runner processes kept started, so a spawn only sends the spec. Default 2; 0 disables.
   * The pool never makes the total exceed `maxProcesses`.
   */
  warmPoolSize?: number;
  /** Policy of agents whose spec has no `restartPolicy`. Default `{ mode: "on-failure", maxRestarts: 5, backoffMs: 500 }`. */
  defaultRestartPolicy?: RestartPolicy;
  /** Cap of the exponential restart backoff. Default 30 000. */
  maxBackoffMs?: number;
  /** An agent that stays ready this long starts a fresh restart series (backoff and `maxRestarts`). Default 60 000. */
  restartResetMs?: number;
  /** Lines of output kept per agent. Default 1 000. */
  logLines?: number;
  /** Longer output lines are cut into pieces of this many characters. Default 8 192. */
  maxLogLineChars?: number;
  /** Node.js flags for agent processes (`resources.memoryMb` adds `--max-old-space-size`). Default none. */
  execArgv?: readonly string[];
  /** Names of host environment variables agent processes inherit. Default {@link DEFAULT_INHERITED_ENV}. */
  inheritEnv?: readonly string[];
  /** Extra environment of agent processes, over the inherited variables. Default none. */
  env?: Readonly<Record<string, string>>;
  /** Publishes for agents; without it an agent's `send` fails with `unavailable`. */
  onPublish?: PublishHandler;
  /** Sets agents' durable timers; without it an agent's `schedule` fails with `unavailable`. */
  onSchedule?: ScheduleHandler;
  /** Cancels agents' timers; without it an agent's `cancelSchedule` fails with `unavailable`. */
  onCancelSchedule?: CancelScheduleHandler;
  /**
   * Gives each start of an agent its stored state. Without it every start begins with nothing
   * stored (`initialState()`, or the agent's own default).
   */
  prepareStart?: PrepareStartHandler;
  /**
   * The largest state an agent's handler may leave, in bytes of its JSON; a larger one fails the
   * handler (as a throw would) and is not kept. Default 1 048 576 (1 MiB, core's
   * `DEFAULT_MAX_STATE_BYTES`).
   */
  maxStateBytes?: number;
  /**
   * The largest message an agent may send, in bytes of its JSON: set it to the bus's limit, so
   * that a send over it fails in the agent's own call. Default 1 048 576 (1 MiB), the default of
   * Guildhall's buses.
   */
  maxMessageBytes?: number;
}

/** Options with every default filled in. */
export interface ResolvedAgentProcessManagerOptions {
  readonly agentModules: readonly string[];
  readonly maxProcesses: number;
  readonly stopTimeoutMs: number;
  readonly startTimeoutMs: number;
  readonly warmPoolSize: number;
  readonly defaultRestartPolicy: ResolvedRestartPolicy;
  readonly maxBackoffMs: number;
  readonly restartResetMs: number;
  readonly logLines: number;
  readonly maxLogLineChars: number;
  readonly execArgv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly onPublish: PublishHandler | undefined;
  readonly onSchedule: ScheduleHandler | undefined;
  readonly onCancelSchedule: CancelScheduleHandler | undefined;
  readonly prepareStart: PrepareStartHandler | undefined;
  readonly maxStateBytes: number;
  readonly maxMessageBytes: number;
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  return checkWholeNumber(`AgentProcessManager: option ${name}`, value, { min });
}

function inheritedEnv(names: readonly string[], source: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const upper = key.toUpperCase();
    const wanted = names.some((name) =>
      name.endsWith("*")
        ? upper.startsWith(name.slice(0, -1).toUpperCase())
        : upper === name.toUpperCase(),
    );
    if (wanted) out[key] = value;
  }
  return out;
}

/** Validates `options` and fills in the defaults; throws `invalid-argument` naming the bad field. */
export function resolveAgentProcessManagerOptions(
  options: AgentProcessManagerOptions = {},
): ResolvedAgentProcessManagerOptions {
  let defaultRestartPolicy = DEFAULT_RESTART_POLICY;
  if (options.defaultRestartPolicy !== undefined) {
    const parsed = RestartPolicy.safeParse(options.defaultRestartPolicy);
    if (!parsed.success) {
      throw new GuildhallError(
        "invalid-argument",
        `AgentProcessManager option defaultRestartPolicy is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
      );
    }
    defaultRestartPolicy = resolveRestartPolicy(parsed.data);
  }
  const agentModules = [...(options.agentModules ?? [])];
  for (const entry of agentModules) {
    if (typeof entry !== "string" || entry.trim() === "") {
      throw new GuildhallError(
        "invalid-argument",
        "AgentProcessManager option agentModules must hold non-empty strings (package names, absolute directories or file URLs)",
      );
    }
    if (entry.startsWith(".")) {
      throw new GuildhallError(
        "invalid-argument",
        `AgentProcessManager option agentModules has the relative path "${entry}"; use an absolute directory or a file URL`,
      );
    }
  }
  return {
    agentModules,
    maxProcesses: count("maxProcesses", options.maxProcesses, 100, 1),
    stopTimeoutMs: count("stopTimeoutMs", options.stopTimeoutMs, 10_000, 0),
    startTimeoutMs: count("startTimeoutMs", options.startTimeoutMs, 30_000, 1),
    warmPoolSize: count("warmPoolSize", options.warmPoolSize, 2, 0),
    defaultRestartPolicy,
    maxBackoffMs: count("maxBackoffMs", options.maxBackoffMs, 30_000, 0),
    restartResetMs: count("restartResetMs", options.restartResetMs, 60_000, 0),
    logLines: count("logLines", options.logLines, 1_000, 1),
    maxLogLineChars: count("maxLogLineChars", options.maxLogLineChars, 8_192, 80),
    execArgv: [...(options.execArgv ?? [])],
    env: {
      ...inheritedEnv(options.inheritEnv ?? DEFAULT_INHERITED_ENV, process.env),
      ...options.env,
    },
    onPublish: options.onPublish,
    onSchedule: options.onSchedule,
    onCancelSchedule: options.onCancelSchedule,
    prepareStart: options.prepareStart,
    maxStateBytes: count("maxStateBytes", options.maxStateBytes, DEFAULT_MAX_STATE_BYTES, 1),
    maxMessageBytes: count("maxMessageBytes", options.maxMessageBytes, 1_048_576, 1),
  };
}
