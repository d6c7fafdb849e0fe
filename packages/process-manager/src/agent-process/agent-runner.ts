// The program inside every agent process, forked by AgentProcessManager. It reports in as soon as
// its modules are loaded (a pool runner also warms up its validators first, so that a pooled
// process only waits for a spec), then loads the one agent it is given, runs it, and speaks the
// IPC protocol of ipc-protocol.ts.
//
// Start-up time is the cost of every cold spawn, so this file imports only what an agent needs
// anyway (@guildhall/core, which loads zod only on first use), the validators the build compiled
// from the protocol's schemas, and Node.js built-ins.
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  GuildhallError,
  createMessage,
  type Agent,
  type AgentContext,
  type ErrorCode,
  type Message,
  errorMessage,
} from "@guildhall/core";
import {
  createAgentContext,
  createAgentLogger,
  createMessageContext,
  type AgentIdentity,
  type HostRequests,
} from "./ipc-agent-context.js";
import type { CommittedState } from "./durable-state.js";
import { PROTOCOL_VERSION, WARM_UP_FLAG } from "../ipc-constants.js";
import type {
  AgentSendMessage,
  HostToRunner,
  RunnerToHost,
  StartCommand,
} from "../ipc-protocol.js";
import type {
  CancelScheduleRequest,
  DurableState,
  PublishRequest,
  ScheduleRequest,
} from "../manager-options.js";
import { FrameBatcher, isFrameBatch } from "../frame-batch.js";
import { loadAgent, loadState } from "./load-agent.js";
import { agentSendProblem, jsonPayloadProblem, parseHostMessage } from "./runner-messages.js";

type RunnerState = "idle" | "starting" | "ready" | "stopping";
type Delivery = Extract<HostToRunner, { type: "deliver" }>;
type Handler = NonNullable<PublishRequest["handler"]>;
/** The host's answers that resolve a request; `request-failed` rejects any of them. */
type Reply = Extract<HostToRunner, { type: "published" | "scheduled" | "schedule-cancelled" }>;

let state: RunnerState = "idle";
let agent: Agent | undefined;
let identity: AgentIdentity | undefined;
let baseContext: AgentContext | undefined;
let stopTimeoutMs = 10_000;
let maxMessageBytes = 1_048_576;
let agentName = "";
let committed: CommittedState | undefined;
/** The handler running now: `"start"` while onStart runs, a delivery's id while it is handled. */
let running: Handler | undefined;
/** What the running handler sent, for the host with its outcome. */
let outbox: AgentSendMessage[] = [];
const deliveries: Delivery[] = [];
let draining: Promise<void> | undefined;
/** Requests to the host awaiting its answer, by request id: publish, schedule, cancel-schedule. */
const pendingRequests = new Map<
  number,
  {
    readonly expects: Reply["type"];
    readonly resolve: (reply: Reply) => void;
    readonly reject: (error: Error) => void;
  }
>();
let nextRequestId = 0;

/** The last write of outcomes: an exit waits for it, or the host could miss what was handled. */
let outcomesWritten: Promise<void> = Promise.resolve();

/** Outcomes of this turn's handlers, written together (see frame-batch.ts). */
const outcomes = new FrameBatcher<RunnerToHost>((frame) => {
  if (!process.connected || process.send === undefined) return;
  const send = process.send.bind(process);
  outcomesWritten = new Promise((resolve) => send(frame, undefined, undefined, () => resolve()));
});

/** Sends `message` after this turn's outcomes; resolves once it is written. */
function send(message: RunnerToHost): Promise<void> {
  outcomes.flush();
  return new Promise((resolve) => {
    if (!process.connected || process.send === undefined) {
      resolve();
      return;
    }
    process.send(message, undefined, undefined, () => resolve());
  });
}

/**
 * Reports what became of a delivery. Not awaited: the next message is handled at once, and the
 * host gets every outcome of a turn in one write.
 */
function report(outcome: Extract<RunnerToHost, { type: "delivered" }>): void {
  outcomes.push(outcome);
}

function warn(text: string): void {
  process.stderr.write(`[guildhall agent-runner] ${text}\n`);
}

function codeOf(error: unknown): ErrorCode {
  return error instanceof GuildhallError ? error.code : "internal";
}

let exiting = false;

async function exit(code: number): Promise<never> {
  exiting = true;
  outcomes.flush();
  await outcomesWritten;
  // Pipes and files are written synchronously on Linux, so usually nothing is left to flush;
  // waiting a turn for an empty write's callback anyway would add milliseconds to every stop.
  const flush = (stream: NodeJS.WriteStream): Promise<void> =>
    new Promise((resolve) => {
      if (stream.destroyed || !stream.writable || stream.writableLength === 0) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, 1_000);
      stream.write("", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}

// ---- starting the agent -----------------------------------------------------------------------

async function start(command: StartCommand): Promise<void> {
  if (state !== "idle") {
    warn(`ignored a second start command (state ${state})`);
    return;
  }
  state = "starting";
  // Operators see which agent a process runs (ps, top) rather than the runner's arguments.
  process.title = `guildhall-agent ${command.guild.id}/${command.agent.id}`;
  stopTimeoutMs = command.stopTimeoutMs;
  maxMessageBytes = command.maxMessageBytes;
  agentName = command.agent.name;
  identity = {
    agentId: command.agent.id,
    guildId: command.guild.id,
    defaultTopic: command.guild.defaultTopic,
  };
  try {
    const instance = await loadAgent(command);
    agent = instance;
    committed = loadState(instance, command);
    baseContext = createAgentContext(
      identity,
      hostFor("start"),
      createAgentLogger(identity.agentId, identity.guildId),
    );
    outbox = [];
    if (typeof instance.onStart === "function") {
      running = "start";
      try {
        await instance.onStart(baseContext);
      } catch (error) {
        throw new GuildhallError(
          "internal",
          `agent ${command.agent.id} (${command.agent.className}) onStart threw: ${errorMessage(error)}`,
        );
      } finally {
        running = undefined;
      }
    }
    // A stop that arrived during onStart wins: the host is no longer waiting for ready.
    if (state !== "starting") return;
    const changed = committed.commit(instance.state);
    state = "ready";
    const sent = outbox;
    outbox = [];
    await send({
      type: "ready",
      ...(changed !== undefined && { state: changed }),
      ...(sent.length > 0 && { messages: sent }),
      // Pipes to the host are written synchronously on Linux only; elsewhere a SIGKILL could cut
      // output still queued in this process.
      gracefulStop: typeof instance.onStop === "function" || process.platform !== "linux",
    });
    drain();
  } catch (error) {
    await fail(error);
  }
}

async function fail(error: unknown): Promise<void> {
  if (state === "stopping") return;
  state = "stopping";
  await send({ type: "failed", code: codeOf(error), message: errorMessage(error) });
  await exit(1);
}

// ---- running it -------------------------------------------------------------------------------

/**
 * Sends the request `build` makes with a fresh request id and resolves with the host's `expects`
 * answer; rejects with the code and message of its `request-failed`. Publish and timer requests
 * share the ids, so one map tells every answer's request.
 */
function request<T extends Reply["type"]>(
  expects: T,
  build: (requestId: number) => RunnerToHost,
): Promise<Extract<Reply, { type: T }>> {
  if (!process.connected) {
    return Promise.reject(
      new GuildhallError("unavailable", "the host has gone away; the agent is shutting down"),
    );
  }
  const requestId = nextRequestId++;
  return new Promise((resolve, reject) => {
    pendingRequests.set(requestId, {
      expects,
      // The reply's type is checked against `expects` before this runs.
      resolve: resolve as (reply: Reply) => void,
      reject,
    });
    void send(build(requestId));
  });
}

function invalid(text: string): Promise<never> {
  return Promise.reject(new GuildhallError("invalid-argument", text));
}

function publish(message: PublishRequest): Promise<Message> {
  const problem = jsonPayloadProblem(message.payload);
  if (problem !== undefined) {
    return invalid(
      `payload is not JSON (${problem}); send plain objects, arrays, strings, finite numbers, booleans or null`,
    );
  }
  return request("published", (requestId) => ({ type: "publish", requestId, ...message })).then(
    (reply) => reply.message,
  );
}

/**
 * A send from the running handler: checked and built here, held for the host with the handler's
 * outcome, and resolved at once. The host stamps the same sender and keeps the id and timestamp,
 * so the message resolved with is the one released (its trace context aside: the host's publish
 * span replaces it).
 */
function sendFromHandler(request: PublishRequest): Promise<Message> {
  const message = createMessage({
    ...request,
    sender: { id: identity?.agentId ?? "", name: agentName },
  });
  const { sender: _sender, ...wire } = message;
  const wrong = agentSendProblem(wire);
  if (wrong !== undefined) {
    // One pass checks a good send; a bad one is looked at again, to say what is wrong plainly.
    const payloadProblem = jsonPayloadProblem(request.payload);
    return invalid(
      payloadProblem === undefined
        ? `cannot send this message: ${wrong}`
        : `payload is not JSON (${payloadProblem}); send plain objects, arrays, strings, finite numbers, booleans or null`,
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(message));
  if (bytes > maxMessageBytes) {
    return invalid(
      `message ${message.id} on topic "${message.topic}" is ${bytes} bytes of JSON, over the bus limit of ${maxMessageBytes} bytes; send a reference to large data (a URL, an object-store key) instead of the data itself`,
    );
  }
  outbox.push(wire);
  return Promise.resolve(message);
}

// The host checks a timer's delay, payload size and count (it knows the limits); the runner checks
// only what JSON cannot carry to it intact: NaN and Infinity would arrive as null, and a payload
// that is not JSON would arrive changed.
function schedule(timer: ScheduleRequest): Promise<{ id: string }> {
  const agentId = identity?.agentId ?? "";
  const delayMs: unknown = timer.delayMs;
  if (typeof delayMs !== "number" || !Number.isFinite(delayMs)) {
    return invalid(
      `agent "${agentId}" scheduled a timer with delay ${String(delayMs)}: the delay must be a whole number of milliseconds from 0 to 366 days`,
    );
  }
  const problem = jsonPayloadProblem(timer.payload);
  if (problem !== undefined) {
    return invalid(
      `agent "${agentId}" scheduled a timer whose payload is not JSON (${problem}); use plain objects, arrays, strings, finite numbers, booleans or null`,
    );
  }
  return request("scheduled", (requestId) => ({ type: "schedule", requestId, ...timer })).then(
    (reply) => ({ id: reply.id }),
  );
}

function cancelSchedule(cancel: CancelScheduleRequest): Promise<void> {
  const id: unknown = cancel.id;
  if (typeof id !== "string" || id.length === 0 || id.length > 64) {
    const got = typeof id === "string" ? `a string of ${id.length} characters` : String(id);
    return invalid(
      `agent "${identity?.agentId ?? ""}" cancelled a timer by ${got}: pass the id that schedule resolved with (1 to 64 characters)`,
    );
  }
  return request("schedule-cancelled", (requestId) => ({
    type: "cancel-schedule",
    requestId,
    ...cancel,
  })).then(() => undefined);
}

/**
 * The host requests of a context made for `handler`: they carry the handler's tag while that
 * handler runs, and none once it has returned (a timer, a promise left running), so the host puts
 * a send or timer into the commit of the handler that made it.
 */
function hostFor(handler: Handler): HostRequests {
  const tag = <T extends object>(made: T): T => (running === handler ? { ...made, handler } : made);
  return {
    publish: (message) => (running === handler ? sendFromHandler(message) : publish(message)),
    schedule: (timer) => schedule(tag(timer)),
    cancelSchedule: (cancel) => cancelSchedule(tag(cancel)),
  };
}

function drain(): void {
  if (draining !== undefined) return;
  draining = (async () => {
    while (state === "ready") {
      const next = deliveries.shift();
      if (next === undefined) break;
      await handle(next);
    }
  })().finally(() => {
    draining = undefined;
    // A delivery that arrived while the loop was finishing its last await would otherwise wait.
    if (state === "ready" && deliveries.length > 0) drain();
  });
}

async function handle(delivery: Delivery): Promise<void> {
  const { message, deliveryId } = delivery;
  if (
    agent === undefined ||
    baseContext === undefined ||
    identity === undefined ||
    committed === undefined
  ) {
    return;
  }
  // An agent never receives what it sent itself, whatever topic it sent to.
  if (message.sender.id === identity.agentId) {
    report({ type: "delivered", deliveryId, status: "skipped" });
    return;
  }
  let changed: DurableState | undefined;
  running = deliveryId;
  outbox = [];
  try {
    try {
      await agent.onMessage(
        createMessageContext(identity, baseContext.log, message, hostFor(deliveryId)),
      );
    } finally {
      running = undefined;
    }
    changed = committed.commit(agent.state);
  } catch (error) {
    // The host commits nothing of a failed handler, so the next one must not see its changes.
    agent.state = committed.restore();
    const text = errorMessage(error);
    baseContext.log.error("onMessage failed", { messageId: message.id, error: text });
    report({ type: "delivered", deliveryId, status: "failed", error: text.slice(0, 65_536) });
    return;
  }
  const sent = outbox;
  outbox = [];
  report({
    type: "delivered",
    deliveryId,
    status: "handled",
    ...(changed !== undefined && { state: changed }),
    ...(sent.length > 0 && { messages: sent }),
  });
}

async function stop(hostGone: boolean): Promise<void> {
  if (state === "stopping") return;
  const previous = state;
  state = "stopping";
  if (hostGone) {
    // Nobody is left to SIGKILL this process if onStop hangs, so it bounds itself.
    setTimeout(() => process.exit(1), stopTimeoutMs).unref();
  }
  let code = 0;
  if (previous === "ready" && agent !== undefined) {
    await draining;
    if (typeof agent.onStop === "function") {
      try {
        await agent.onStop();
      } catch (error) {
        baseContext?.log.error("onStop threw", { error: errorMessage(error) });
        code = 1;
      }
    }
  }
  for (const pending of pendingRequests.values()) {
    pending.reject(new GuildhallError("unavailable", "the agent is stopping"));
  }
  pendingRequests.clear();
  await exit(code);
}

// ---- wiring -----------------------------------------------------------------------------------

function onHostMessage(raw: unknown): void {
  if (isFrameBatch(raw)) for (const frame of raw.frames) onHostFrame(frame);
  else onHostFrame(raw);
}

function onHostFrame(raw: unknown): void {
  const parsed = parseHostMessage(raw);
  if (!parsed.ok) {
    warn(`ignored an invalid message from the host: ${parsed.problem}`);
    return;
  }
  const message = parsed.message;
  switch (message.type) {
    case "start":
      void start(message);
      return;
    case "deliver":
      if (state === "stopping") return;
      deliveries.push(message);
      if (state === "ready") drain();
      return;
    case "published":
    case "scheduled":
    case "schedule-cancelled":
    case "request-failed": {
      const pending = pendingRequests.get(message.requestId);
      if (pending === undefined) return;
      pendingRequests.delete(message.requestId);
      if (message.type === "request-failed") {
        pending.reject(new GuildhallError(message.code, message.message));
      } else if (message.type !== pending.expects) {
        pending.reject(
          new GuildhallError(
            "internal",
            `the host answered a request with "${message.type}" where "${pending.expects}" was due; host and agent runner disagree on the IPC protocol`,
          ),
        );
      } else {
        pending.resolve(message);
      }
      return;
    }
    case "stop":
      void stop(false);
      return;
    case "stats-request":
      void send({
        type: "stats",
        requestId: message.requestId,
        rssBytes: process.memoryUsage.rss(),
      });
      return;
  }
}

if (typeof process.send !== "function") {
  process.stderr.write(
    "agent-runner runs agents for @guildhall/process-manager and must be started by it (with an IPC channel)\n",
  );
  process.exit(2);
}

process.on("message", onHostMessage);
process.on("SIGTERM", () => void stop(false));
// Ctrl-C in a terminal reaches the whole process group; the host decides when its agents stop.
process.on("SIGINT", () => undefined);
process.on("disconnect", () => void stop(true));
// Without a host reading them, the pipes fail with EPIPE; that is not the agent's fault and must
// not reach the uncaught-exception path (which writes to those very pipes).
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
process.on("uncaughtException", (error) => {
  if (exiting) return;
  const text = `uncaught exception in agent code: ${error.stack ?? errorMessage(error)}`;
  if (!process.stderr.destroyed) process.stderr.write(`${text}\n`);
  if (state === "starting") {
    void fail(new GuildhallError("internal", `agent threw while starting: ${errorMessage(error)}`));
    return;
  }
  state = "stopping";
  void send({ type: "fatal", message: text.slice(0, 65_536) }).then(() => exit(1));
});

/**
 * Runs, once, the code a spawn and its first messages need: V8 compiles a function when it is first
 * called, and the first import of an agent module resolves and links @guildhall/core from a file.
 * An idle pool process pays for both here instead of on the path of the spawn that takes it.
 */
async function warmUp(): Promise<void> {
  const timestamp = Date.now();
  const message = {
    id: "warm-up",
    topic: "warm-up",
    sender: { id: "warm-up", name: "warm-up" },
    format: "json",
    payload: { list: [1, "two", true, null], nested: { value: 1.5 } },
    timestamp,
    threadId: "warm-up",
    inResponseTo: "warm-up",
  };
  const start: StartCommand = {
    type: "start",
    guild: { id: "warm-up", name: "warm-up", defaultTopic: "warm-up" },
    agent: {
      id: "warm-up",
      name: "warm-up",
      description: "warm-up",
      className: "/warm-up.mjs#WarmUp",
      properties: { key: "value" },
      additionalTopics: ["warm-up"],
      listenToDefaultTopic: true,
      restartPolicy: { mode: "on-failure", maxRestarts: 1, backoffMs: 1 },
      resources: { memoryMb: 64 },
    },
    agentModules: ["/warm-up"],
    stopTimeoutMs: 1,
    state: { value: { count: 1, seen: ["warm-up"] } },
    maxStateBytes: 1_048_576,
    maxMessageBytes: 1_048_576,
  };
  const samples: unknown[] = [
    start,
    { type: "deliver", deliveryId: 0, message },
    { type: "published", requestId: 0, message },
    { type: "scheduled", requestId: 0, id: "warm-up" },
    { type: "schedule-cancelled", requestId: 0 },
    { type: "request-failed", requestId: 0, code: "internal", message: "warm-up" },
    { ...start, state: undefined },
  ];
  for (const sample of samples) parseHostMessage(sample);
  jsonPayloadProblem(message.payload);
  const { sender: _sender, ...send } = message;
  agentSendProblem(send);
  // The start path itself, short of onStart and `ready`: checking, resolving, importing and
  // constructing an agent, loading its state, then its context and logger (which write nothing
  // until used), and what follows each handler: comparing the state with the committed one.
  const module = fileURLToPath(new URL("./warm-up-agent.js", import.meta.url));
  const warmUpAgent = await loadAgent({
    ...start,
    agent: { ...start.agent, className: `${module}#WarmUpAgent` },
    agentModules: [path.dirname(module)],
  });
  const warmUpState = loadState(warmUpAgent, start);
  warmUpState.commit({ ...(warmUpAgent.state as object), count: 2 });
  warmUpAgent.state = warmUpState.restore();
  const warmUpIdentity = { agentId: "warm-up", guildId: "warm-up", defaultTopic: "warm-up" };
  createAgentContext(warmUpIdentity, hostFor("start"), createAgentLogger("warm-up", "warm-up"));
}

// A pool runner reports in only once warm, so the pool never hands out one still warming up.
if (process.argv.includes(WARM_UP_FLAG)) await warmUp();
void send({ type: "hello", protocol: PROTOCOL_VERSION, pid: process.pid });
