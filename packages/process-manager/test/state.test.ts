// Durable agent state over IPC, with real agent processes: loading before onStart, reporting what
// handlers changed, refusing and rolling back, tagging sends with their handler, and prepareStart.
import { describe, expect, it } from "vitest";
import { GuildhallError, type JsonValue } from "@guildhall/core";
import type {
  AgentProcessManager,
  AgentProcessManagerOptions,
  StartingAgent,
} from "@guildhall/process-manager";
import { waitFor } from "@guildhall/testing";
import {
  clientMessage,
  fixtureClass,
  managersPerTest,
  nextEvent,
  recordEvents,
  recordingPublisher,
  type Published,
} from "./helpers.js";

const guild = { id: "guild-s", name: "State" };
const { create: createManager } = managersPerTest();
let published: Published[];

/** A manager whose agents' publishes land in `published`. */
function recordingManager(options: AgentProcessManagerOptions = {}): Promise<AgentProcessManager> {
  const recorder = recordingPublisher();
  published = recorder.published;
  return createManager({ warmPoolSize: 1, onPublish: recorder.onPublish, ...options });
}

function counter(properties: Record<string, JsonValue> = {}, id = "counter") {
  return {
    guild,
    agent: {
      id,
      name: "Counter",
      className: fixtureClass("Counter", "stateful.mjs"),
      properties,
      restartPolicy: { mode: "on-failure" as const, maxRestarts: 2, backoffMs: 10 },
    },
  };
}

let sequence = 0;

/** Delivers `payload` to the counter; its reply says what state the handler saw. */
async function send(manager: AgentProcessManager, payload: JsonValue, id = "counter") {
  const messageId = `m-${++sequence}`;
  const result = await manager.deliver(guild.id, id, clientMessage(messageId, payload));
  const reply = published.find((sent) => sent.request.inResponseTo === messageId);
  return { result, reply, saw: (reply?.request.payload as { saw?: JsonValue } | undefined)?.saw };
}

/** The publishes whose payload has the key `key`, in order. */
function sentWith(key: string): Published[] {
  return published.filter((sent) => {
    const payload = sent.request.payload;
    return typeof payload === "object" && payload !== null && key in payload;
  });
}

/** What onStart sent last: the state it was given and how often initialState() ran. */
function started(): JsonValue | undefined {
  return sentWith("started").at(-1)?.request.payload;
}

describe("loading the state before onStart", () => {
  it("runs initialState() when nothing is stored, and reports its result so that it gets stored", async () => {
    const manager = await recordingManager();
    const events = recordEvents(manager);
    const info = await manager.spawn(counter());
    expect(started()).toEqual({ started: { count: 0 }, initialStateCalls: 1 });
    expect(info.startState).toEqual({ value: { count: 0 } });
    expect(events.find((event) => event.type === "ready")).toMatchObject({
      state: { value: { count: 0 } },
    });
  });

  it("loads the stored value instead, without calling initialState(), and reports nothing unchanged", async () => {
    const prepared: StartingAgent[] = [];
    const manager = await recordingManager({
      prepareStart: (agent) => {
        prepared.push(agent);
        return Promise.resolve({ state: { value: { count: 41 } } });
      },
    });
    const ready = nextEvent(manager, "ready");
    const info = await manager.spawn(counter());
    expect(prepared).toEqual([{ guildId: "guild-s", agentId: "counter", agentName: "Counter" }]);
    expect(started()).toEqual({ started: { count: 41 }, initialStateCalls: 0 });
    expect(info).not.toHaveProperty("startState");
    expect(await ready).not.toHaveProperty("state");
    expect((await send(manager, { op: "add", n: 1 })).saw).toEqual({ count: 42 });
  });

  it("loads a stored null as null, not as nothing stored", async () => {
    const manager = await recordingManager({
      prepareStart: () => Promise.resolve({ state: { value: null } }),
    });
    const info = await manager.spawn(counter({ countStarts: false }));
    expect(started()).toEqual({ started: null, initialStateCalls: 0 });
    expect(info).not.toHaveProperty("startState");
  });

  it("reports the state onStart changed with ready and from spawn", async () => {
    const manager = await recordingManager({
      prepareStart: () => Promise.resolve({ state: { value: { count: 3 } } }),
    });
    const ready = nextEvent(manager, "ready");
    const info = await manager.spawn(counter({ countStarts: true }));
    expect(info.startState).toEqual({ value: { count: 3, starts: 1 } });
    expect((await ready).state).toEqual({ value: { count: 3, starts: 1 } });
  });

  it("keeps a class field's state, and an agent without state reports none", async () => {
    const manager = await recordingManager();
    const shelf = await manager.spawn({
      guild,
      agent: { id: "shelf", name: "Shelf", className: fixtureClass("Shelf", "stateful.mjs") },
    });
    expect(shelf.startState).toEqual({ value: { items: [] } });
    const result = await manager.deliver(guild.id, "shelf", clientMessage("s-1", "book"));
    expect(result).toEqual({
      status: "handled",
      deliveryId: expect.any(Number) as number,
      state: { value: { items: ["book"] } },
    });
    const echo = await manager.spawn({
      guild,
      agent: { id: "echo", name: "Echo", className: fixtureClass("Echo") },
    });
    expect(echo).not.toHaveProperty("startState");
    const plain = await manager.deliver(guild.id, "echo", clientMessage("e-1", "hi"));
    expect(plain).not.toHaveProperty("state");
  });

  it("fails the start when onStart leaves a state too large or not JSON, or initialState throws", async () => {
    const manager = await recordingManager({ maxStateBytes: 2_000 });
    const large = await manager.spawn(counter({ startBlob: 5_000 }, "large")).then(
      () => undefined,
      (error: unknown) => error,
    );
    const bytes = Buffer.byteLength(JSON.stringify({ count: 0, blob: "x".repeat(5_000) }));
    expect(large).toBeInstanceOf(GuildhallError);
    expect(large).toMatchObject({
      code: "invalid-argument",
      message: `agent "large" state is ${bytes.toLocaleString("en-US")} bytes of JSON, over the limit of 2,000 (maxStateBytes); keep large data outside the agent state`,
    });
    await expect(
      manager.spawn(counter({ startBreak: "function" }, "broken")),
    ).rejects.toMatchObject({
      code: "invalid-argument",
      message: expect.stringMatching(
        /^agent "broken" state is not JSON: state\.broken is a function/,
      ) as string,
    });
    await expect(
      manager.spawn(counter({ initialStateThrows: true }, "nodefault")),
    ).rejects.toMatchObject({
      code: "internal",
      message: expect.stringMatching(/initialState threw: no defaults today/) as string,
    });
    expect(manager.status().activeAgents).toBe(0);
  });
});

describe("reporting and refusing what handlers leave", () => {
  it("reports a changed state with the delivery, and nothing when unchanged", async () => {
    const manager = await recordingManager();
    await manager.spawn(counter());
    const added = await send(manager, { op: "add", n: 2 });
    expect(added.result).toMatchObject({ status: "handled", state: { value: { count: 2 } } });
    const replaced = await send(manager, { op: "replace", n: 10 });
    expect(replaced.result).toMatchObject({ state: { value: { count: 10 } } });
    const same = await send(manager, { op: "get" });
    expect(same.result).toEqual({ status: "handled", deliveryId: same.result.deliveryId });
    expect(same.saw).toEqual({ count: 10 });
  });

  it("refuses a state over maxStateBytes as a failed delivery and rolls it back", async () => {
    // The handler's reply carries the state: a bus limit above it leaves the state check to fail.
    const manager = await recordingManager({ maxMessageBytes: 4 * 1_048_576 });
    await manager.spawn(counter());
    await send(manager, { op: "add", n: 5 });
    const grown = await send(manager, { op: "grow", bytes: 1_100_000 });
    const bytes = Buffer.byteLength(JSON.stringify({ count: 5, blob: "x".repeat(1_100_000) }));
    expect(grown.result).toEqual({
      status: "failed",
      deliveryId: grown.result.deliveryId,
      error: `agent "counter" state is ${bytes.toLocaleString("en-US")} bytes of JSON, over the limit of 1,048,576 (maxStateBytes); keep large data outside the agent state`,
    });
    expect((await send(manager, { op: "get" })).saw).toEqual({ count: 5 });
    const info = await manager.info(guild.id, "counter");
    expect(info.lastError).toMatch(/over the limit of 1,048,576/);
  });

  it.each([
    ["a function", "function", /state\.broken is a function/],
    ["undefined at the top level", "undefined", /state is undefined/],
    ["NaN", "nan", /state\.broken is NaN/],
    ["a BigInt", "bigint", /state\.broken is a bigint/],
    ["a cycle", "cycle", /state\.broken\.self refers back to itself \(a cycle\)/],
    ["a Date", "date", /state\.broken is a Date, not a plain object/],
  ])("refuses %s in the state as a failed delivery and rolls it back", async (_, how, detail) => {
    const manager = await recordingManager();
    await manager.spawn(counter());
    await send(manager, { op: "add", n: 1 });
    const broken = await send(manager, { op: "break", how });
    expect(broken.result.status).toBe("failed");
    const error = broken.result.status === "failed" ? broken.result.error : "";
    expect(error).toMatch(/^agent "counter" state is not JSON: /);
    expect(error).toMatch(detail);
    expect(error).toMatch(
      /keep only plain objects, arrays, strings, finite numbers, booleans and null in it$/,
    );
    const next = await send(manager, { op: "add", n: 1 });
    expect(next.saw).toEqual({ count: 2 });
    expect(next.result).toMatchObject({ state: { value: { count: 2 } } });
  });

  it("drops the changes of a handler that throws", async () => {
    const manager = await recordingManager();
    await manager.spawn(counter());
    await send(manager, { op: "add", n: 1 });
    const thrown = await send(manager, { op: "add-then-throw", n: 100 });
    expect(thrown.result).toEqual({
      status: "failed",
      deliveryId: thrown.result.deliveryId,
      error: "failed after adding",
    });
    const next = await send(manager, { op: "get" });
    expect(next.saw).toEqual({ count: 1 });
    expect(next.result).not.toHaveProperty("state");
  });
});

describe("tagging sends with their handler", () => {
  it("tags onStart's sends start, a delivery's with its id, and the others not at all", async () => {
    const manager = await recordingManager();
    await manager.spawn(counter());
    expect(sentWith("started")[0]?.request.handler).toBe("start");
    const afterStart = await waitFor(() => sentWith("afterStart")[0], {
      description: "onStart's late send",
    });
    expect(afterStart.request).not.toHaveProperty("handler");

    // A send with one delivery's context made while the next is handled belongs to neither.
    const later = await send(manager, { op: "later" });
    expect(later.result.status).toBe("handled");
    expect(later.reply?.request.handler).toBe(later.result.deliveryId);
    const waiting = await send(manager, { op: "wait" });
    expect(waiting.reply?.request.handler).toBe(waiting.result.deliveryId);
    expect(waiting.result.deliveryId).not.toBe(later.result.deliveryId);
    const late = sentWith("late");
    expect(late).toHaveLength(1);
    expect(late[0]?.request).not.toHaveProperty("handler");
    // It was sent while the second handler ran: before that handler's reply.
    expect(published.indexOf(late[0] as Published)).toBeLessThan(
      published.indexOf(waiting.reply as Published),
    );

    await manager.stop(guild.id, "counter");
    const goodbye = sentWith("goodbye");
    expect(goodbye).toHaveLength(1);
    expect(goodbye[0]?.request).not.toHaveProperty("handler");
  });
});

describe("prepareStart", () => {
  it("is asked again on a restart after a crash, and its state reaches the restarted agent", async () => {
    const stored = new Map<string, JsonValue>();
    let calls = 0;
    const manager = await recordingManager({
      prepareStart: (agent) => {
        calls++;
        const key = `${agent.guildId}/${agent.agentId}`;
        return Promise.resolve(
          stored.has(key) ? { state: { value: stored.get(key) ?? null } } : {},
        );
      },
    });
    // The host's commit: what ready and each delivery report is what it stores.
    manager.on("ready", (event) => {
      if (event.state !== undefined)
        stored.set(`${event.guildId}/${event.agentId}`, event.state.value);
    });
    const before = await manager.spawn(counter());
    const added = await send(manager, { op: "add", n: 7 });
    if (added.result.status === "handled" && added.result.state !== undefined) {
      stored.set("guild-s/counter", added.result.state.value);
    }
    expect(calls).toBe(1);

    const restarted = nextEvent(manager, "restarted");
    process.kill(before.pid ?? -1, "SIGKILL");
    await restarted;
    expect(calls).toBe(2);
    expect(started()).toEqual({ started: { count: 7 }, initialStateCalls: 0 });
    expect((await send(manager, { op: "get" })).saw).toEqual({ count: 7 });
  });

  it("fails the spawn with the code of its rejection, leaving no process", async () => {
    const manager = await recordingManager({
      prepareStart: (agent) =>
        agent.agentId === "plain"
          ? Promise.reject(new Error("store offline"))
          : Promise.reject(
              new GuildhallError("failed-precondition", "stored state is corrupt; repair it"),
            ),
    });
    await expect(manager.spawn(counter())).rejects.toMatchObject({
      code: "failed-precondition",
      message: "stored state is corrupt; repair it",
    });
    await expect(manager.spawn(counter({}, "plain"))).rejects.toMatchObject({
      code: "internal",
      message: 'prepareStart failed for agent "plain" of guild "guild-s": store offline',
    });
    expect(manager.status().activeAgents).toBe(0);
    expect(manager.has(guild.id, "counter")).toBe(false);
  });

  it("refuses a state that is not JSON, and counts a rejection on restart as a failed restart", async () => {
    let calls = 0;
    const manager = await recordingManager({
      prepareStart: () => {
        calls++;
        if (calls === 1) return Promise.resolve({});
        if (calls === 2) {
          return Promise.resolve({ state: { value: { bad: Number.NaN } } });
        }
        return Promise.reject(new GuildhallError("unavailable", "store unreachable"));
      },
    });
    const events = recordEvents(manager);
    const gaveUp = nextEvent(manager, "crashed", (event) => !event.willRestart);
    const before = await manager.spawn(counter());
    process.kill(before.pid ?? -1, "SIGKILL");
    await gaveUp;
    const crashes = events.flatMap((event) => (event.type === "crashed" ? [event] : []));
    expect(crashes.map((event) => event.willRestart)).toEqual([true, true, false]);
    expect(crashes[1]?.error).toMatch(
      /^prepareStart resolved with an invalid state for agent "counter" of guild "guild-s" \(state\.value\.bad is NaN/,
    );
    expect(crashes[2]?.error).toMatch(/store unreachable; gave up after 2 restarts/);
    expect(calls).toBe(3);
    const info = await manager.info(guild.id, "counter");
    expect(info.state).toBe("crashed");
    expect(info.restarts).toBe(2);
  });
});
