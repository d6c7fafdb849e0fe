// Durable timers over IPC, with real agent processes: an agent's schedule and cancelSchedule reach
// the host's onSchedule and onCancelSchedule tagged with the handler that asked, and resolve or
// reject with what the host answered.
import { describe, expect, it } from "vitest";
import { GuildhallError, type JsonValue } from "@guildhall/core";
import type {
  AgentProcessManager,
  AgentProcessManagerOptions,
  AgentRef,
  CancelScheduleRequest,
  ScheduleRequest,
} from "@guildhall/process-manager";
import {
  clientMessage,
  fixtureClass,
  managersPerTest,
  recordingPublisher,
  type Published,
} from "./helpers.js";

const guild = { id: "guild-t", name: "Timers" };
const { create: createManager } = managersPerTest();

interface HostCall<R> {
  readonly agent: AgentRef;
  readonly request: R;
}

/** What the host was asked in one test, and what its agents published. */
interface Recorded {
  readonly published: Published[];
  readonly scheduled: HostCall<ScheduleRequest>[];
  readonly cancelled: HostCall<CancelScheduleRequest>[];
}

/**
 * A manager whose host records every publish, schedule and cancel and answers each timer with id
 * `timer-<n>`; `options` replaces any of its handlers.
 */
async function timerManager(
  options: AgentProcessManagerOptions = {},
): Promise<{ manager: AgentProcessManager; recorded: Recorded }> {
  const recorder = recordingPublisher();
  const recorded: Recorded = { published: recorder.published, scheduled: [], cancelled: [] };
  const manager = await createManager({
    warmPoolSize: 1,
    onPublish: recorder.onPublish,
    onSchedule: (agent, request) => {
      recorded.scheduled.push({ agent, request });
      return Promise.resolve({ id: `timer-${recorded.scheduled.length}` });
    },
    onCancelSchedule: (agent, request) => {
      recorded.cancelled.push({ agent, request });
      return Promise.resolve();
    },
    ...options,
  });
  return { manager, recorded };
}

function scheduler(properties: Record<string, JsonValue> = {}) {
  return {
    guild,
    agent: {
      id: "scheduler",
      name: "Scheduler",
      className: fixtureClass("Scheduler", "timers.mjs"),
      properties,
    },
  };
}

let sequence = 0;

/** Delivers `payload` to the scheduler and returns the delivery's result and its reported outcome. */
async function ask(manager: AgentProcessManager, recorded: Recorded, payload: JsonValue) {
  const messageId = `t-${++sequence}`;
  const result = await manager.deliver(guild.id, "scheduler", clientMessage(messageId, payload));
  const reply = recorded.published.find((sent) => sent.request.inResponseTo === messageId);
  const outcome = (reply?.request.payload as { outcome?: JsonValue } | undefined)?.outcome;
  return { result, outcome };
}

/** The outcome of a call that rejected with a GuildhallError of `code` and `message`. */
function rejected(code: string, message: string | RegExp) {
  return {
    error: {
      guildhallError: true,
      code,
      message: typeof message === "string" ? message : (expect.stringMatching(message) as string),
    },
  };
}

describe("schedule and cancelSchedule", () => {
  it("reach onSchedule and onCancelSchedule tagged with the handler, and resolve with the host's answer", async () => {
    const { manager, recorded } = await timerManager();
    const { pid } = await manager.spawn(scheduler());
    const agent = { guildId: guild.id, agentId: "scheduler", agentName: "Scheduler", pid };

    const set = await ask(manager, recorded, {
      op: "schedule",
      delayMs: 5_000,
      payload: { remind: "standup", at: [9, 30] },
    });
    expect(set.result.status).toBe("handled");
    expect(set.outcome).toEqual({ ok: { id: "timer-1" } });
    expect(recorded.scheduled).toEqual([
      {
        agent,
        request: {
          delayMs: 5_000,
          payload: { remind: "standup", at: [9, 30] },
          handler: set.result.deliveryId,
        },
      },
    ]);

    const cancel = await ask(manager, recorded, { op: "cancel", id: "timer-1" });
    expect(cancel.outcome).toEqual({ ok: null });
    expect(recorded.cancelled).toEqual([
      { agent, request: { id: "timer-1", handler: cancel.result.deliveryId } },
    ]);
    expect(cancel.result.deliveryId).not.toBe(set.result.deliveryId);
  });

  it("tags onStart's timer with start", async () => {
    const { manager, recorded } = await timerManager();
    await manager.spawn(scheduler({ startTimer: { delayMs: 60_000, payload: "wake up" } }));
    expect(recorded.scheduled.map((call) => call.request)).toEqual([
      { delayMs: 60_000, payload: "wake up", handler: "start" },
    ]);
    const started = recorded.published.find(
      (sent) => (sent.request.payload as { started?: unknown }).started !== undefined,
    );
    expect(started?.request.payload).toEqual({ started: { ok: { id: "timer-1" } } });
  });

  it("does not tag a timer set with a context kept after its handler returned", async () => {
    const { manager, recorded } = await timerManager();
    await manager.spawn(scheduler());
    await ask(manager, recorded, { op: "keep" });
    const later = await ask(manager, recorded, { op: "schedule-kept" });
    expect(later.outcome).toEqual({ ok: { id: "timer-1" } });
    expect(recorded.scheduled.map((call) => call.request)).toEqual([
      { delayMs: 1, payload: { kept: true } },
    ]);
  });

  it("answers a send and a schedule made at once each with its own reply", async () => {
    const { manager, recorded } = await timerManager();
    await manager.spawn(scheduler());
    const both = await ask(manager, recorded, { op: "both" });
    const alongside = recorded.published.find(
      (sent) => (sent.request.payload as { alongside?: unknown }).alongside === true,
    );
    expect(both.outcome).toEqual({
      sent: alongside?.message.id,
      scheduled: { ok: { id: "timer-1" } },
    });
    expect(recorded.scheduled[0]?.request).toEqual({
      delayMs: 10,
      payload: { alongside: true },
      handler: both.result.deliveryId,
    });
  });
});

describe("failures", () => {
  it("rejects the agent's call with the code and message of the host's GuildhallError", async () => {
    const { manager, recorded } = await timerManager({
      onSchedule: (agent, request) =>
        Promise.reject(
          new GuildhallError(
            "invalid-argument",
            `agent "${agent.agentId}" scheduled a timer with delay ${request.delayMs}: the delay must be a whole number of milliseconds from 0 to 31622400000 (366 days)`,
          ),
        ),
      onCancelSchedule: () => Promise.reject(new Error("timer store offline")),
    });
    await manager.spawn(scheduler());
    const set = await ask(manager, recorded, { op: "schedule", delayMs: -5, payload: 1 });
    expect(set.result.status).toBe("handled");
    expect(set.outcome).toEqual(
      rejected(
        "invalid-argument",
        'agent "scheduler" scheduled a timer with delay -5: the delay must be a whole number of milliseconds from 0 to 31622400000 (366 days)',
      ),
    );
    // Anything else a host callback throws reaches the agent as `internal`, with its message.
    const cancel = await ask(manager, recorded, { op: "cancel", id: "timer-9" });
    expect(cancel.outcome).toEqual(rejected("internal", "timer store offline"));
    expect((await manager.info(guild.id, "scheduler")).state).toBe("ready");
  });

  it("refuses timers with unavailable, naming the missing option, when the manager has no handlers for them", async () => {
    const recorder = recordingPublisher();
    const recorded: Recorded = { published: recorder.published, scheduled: [], cancelled: [] };
    const manager = await createManager({ warmPoolSize: 1, onPublish: recorder.onPublish });
    await manager.spawn(scheduler());
    const set = await ask(manager, recorded, { op: "schedule", delayMs: 1_000, payload: null });
    expect(set.outcome).toEqual(
      rejected(
        "unavailable",
        "this AgentProcessManager has no onSchedule handler, so agents cannot set timers; pass onSchedule in its options",
      ),
    );
    const cancel = await ask(manager, recorded, { op: "cancel", id: "timer-1" });
    expect(cancel.outcome).toEqual(
      rejected(
        "unavailable",
        "this AgentProcessManager has no onCancelSchedule handler, so agents cannot cancel timers; pass onCancelSchedule in its options",
      ),
    );
  });

  it("refuses in the agent process what JSON cannot carry to the host, without asking it", async () => {
    const { manager, recorded } = await timerManager();
    await manager.spawn(scheduler());
    const delay =
      /^agent "scheduler" scheduled a timer with delay (NaN|Infinity): the delay must be a whole number of milliseconds from 0 to 366 days$/;
    for (const unsendable of ["nan", "infinity"]) {
      const set = await ask(manager, recorded, {
        op: "schedule",
        delayMs: { unsendable },
        payload: 1,
      });
      expect(set.outcome).toEqual(rejected("invalid-argument", delay));
    }
    const payload = await ask(manager, recorded, {
      op: "schedule",
      delayMs: 1,
      payload: { unsendable: "function" },
    });
    expect(payload.outcome).toEqual(
      rejected(
        "invalid-argument",
        /^agent "scheduler" scheduled a timer whose payload is not JSON \(.+\); use plain objects/,
      ),
    );
    for (const id of [{ unsendable: "number" }, "", "t".repeat(65)]) {
      const cancel = await ask(manager, recorded, { op: "cancel", id });
      expect(cancel.outcome).toEqual(
        rejected(
          "invalid-argument",
          /^agent "scheduler" cancelled a timer by (42|a string of (0|65) characters): pass the id that schedule resolved with \(1 to 64 characters\)$/,
        ),
      );
    }
    expect(recorded.scheduled).toEqual([]);
    expect(recorded.cancelled).toEqual([]);
  });

  it("fails the agent's call, not the host, when onSchedule resolves without a usable id", async () => {
    const { manager, recorded } = await timerManager({
      onSchedule: () => Promise.resolve({ id: "x".repeat(65) }),
    });
    await manager.spawn(scheduler());
    const set = await ask(manager, recorded, { op: "schedule", delayMs: 1, payload: 1 });
    expect(set.outcome).toEqual(
      rejected(
        "internal",
        "onSchedule resolved without a valid timer id (its id is a string of 65 characters); resolve with { id }, a string of 1 to 64 characters",
      ),
    );
  });

  it("answers a malformed timer request, so that the call that sent it never hangs", async () => {
    const { manager, recorded } = await timerManager();
    await manager.spawn(scheduler());
    const requestId = 1_000_000;
    const raw = await ask(manager, recorded, {
      op: "raw",
      message: { type: "schedule", requestId, delayMs: "soon", payload: 1 },
    });
    expect(raw.outcome).toEqual({
      ok: {
        type: "request-failed",
        requestId,
        code: "invalid-argument",
        message: expect.stringMatching(/^invalid schedule request: delayMs: /) as string,
      },
    });
    const rawCancel = await ask(manager, recorded, {
      op: "raw",
      message: { type: "cancel-schedule", requestId: requestId + 1, id: "" },
    });
    expect(rawCancel.outcome).toMatchObject({
      ok: {
        type: "request-failed",
        code: "invalid-argument",
        message: expect.stringMatching(/^invalid cancel-schedule request: id: /) as string,
      },
    });
    expect(recorded.scheduled).toEqual([]);
    const info = await manager.info(guild.id, "scheduler");
    expect(info.lastError).toMatch(/sent an invalid IPC message: id: /);
  });
});
