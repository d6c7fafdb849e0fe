import { describe, expect, it } from "vitest";
import type { AgentCommit, CommitResult, DurableMessageBus } from "./agent-store.js";
import type { AgentLogger } from "./agent.js";
import { DurableInbox, type CommitRecord, type HandlerOutcome } from "./durable-inbox.js";
import { GuildhallError } from "./errors.js";
import { MemoryBus } from "./memory-bus.js";
import { createMessage, type JsonValue, type Message } from "./message.js";
import { newTimer } from "./timers.js";

const quiet: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const message = (topic: string, payload: JsonValue, sender = "app"): Message =>
  createMessage({ topic, sender: { id: sender }, payload });

/** A MemoryBus whose next `failures` commits fail as an unreachable store does. */
function flakyBus(failures: number): MemoryBus & { attempts: number } {
  const bus = new MemoryBus() as MemoryBus & { attempts: number };
  bus.attempts = 0;
  const commit = bus.commitAgent.bind(bus);
  bus.commitAgent = (guildId: string, agentId: string, c: AgentCommit): Promise<CommitResult> => {
    bus.attempts += 1;
    if (bus.attempts <= failures) {
      return Promise.reject(new GuildhallError("unavailable", "the store is unreachable"));
    }
    return commit(guildId, agentId, c);
  };
  return bus;
}

/** A MemoryBus that holds every commit until `release()`; `refuse` makes the next one throw. */
function gatedBus(): MemoryBus & { release(): void; refuse: boolean } {
  const bus = new MemoryBus() as MemoryBus & { release(): void; refuse: boolean };
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  bus.release = () => open();
  bus.refuse = false;
  const commit = bus.commitAgent.bind(bus);
  bus.commitAgent = async (guildId: string, agentId: string, c: AgentCommit) => {
    await gate;
    if (bus.refuse) {
      bus.refuse = false;
      gate = new Promise<void>((resolve) => (open = resolve));
      throw new GuildhallError("invalid-argument", "malformed commit");
    }
    return commit(guildId, agentId, c);
  };
  return bus;
}

/** Lets every pending callback of the event loop run, a few turns over. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function openInbox(
  bus: DurableMessageBus,
  handle: (message: Message) => Promise<HandlerOutcome>,
  extra: {
    epoch?: number;
    onFenced?: () => void;
    onCommit?: (r: CommitRecord) => void;
    onCommitFailed?: () => void;
    onHandleFailed?: () => void;
    positionFlushMs?: number;
    prefetch?: number;
  } = {},
): Promise<DurableInbox> {
  const epoch = extra.epoch ?? 1;
  const checkpoint = await bus.claimAgent("g", "a", { epoch, topics: ["t"] });
  const inbox = new DurableInbox({
    bus,
    guildId: "g",
    agentId: "a",
    epoch,
    topics: ["t"],
    checkpoint,
    log: quiet,
    retryDelayMs: 1,
    handle,
    ...(extra.onFenced !== undefined && { onFenced: extra.onFenced }),
    ...(extra.onCommit !== undefined && { onCommit: extra.onCommit }),
    ...(extra.onCommitFailed !== undefined && { onCommitFailed: extra.onCommitFailed }),
    ...(extra.onHandleFailed !== undefined && { onHandleFailed: extra.onHandleFailed }),
    ...(extra.prefetch !== undefined && { prefetch: extra.prefetch }),
    ...(extra.positionFlushMs !== undefined && { positionFlushMs: extra.positionFlushMs }),
  });
  await inbox.open();
  return inbox;
}

describe("DurableInbox", () => {
  it("close gives up on a handler stuck past its timeout, says so, and commits nothing of it", async () => {
    const bus = new MemoryBus();
    let started!: () => void;
    const handling = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const inbox = await openInbox(bus, async () => {
      started();
      await stuck;
      return { state: '"too late"', messages: [] };
    });
    await bus.publish("g", message("t", 1));
    await handling;
    expect(await inbox.close(20), "close gave up waiting").toBe(false);
    // Once the handler does finish, what it returns is dropped: its message is the next copy's.
    release();
    expect(await inbox.close()).toBe(true);
    expect((await bus.readAgent("g", "a"))?.state).toBeUndefined();
  });

  it("handles the next message while a commit is on its way, and commits those handled meanwhile together, in order", async () => {
    const bus = gatedBus();
    const handled: JsonValue[] = [];
    const records: CommitRecord[] = [];
    const inbox = await openInbox(
      bus,
      (m) => {
        handled.push(m.payload);
        return Promise.resolve({
          state: JSON.stringify(m.payload),
          messages: [message("out", m.payload, "a")],
        });
      },
      { onCommit: (r) => records.push(r) },
    );
    const sent: JsonValue[] = [];
    await bus.subscribe("g", "out", (m) => void sent.push(m.payload));
    for (const n of [1, 2, 3, 4]) await bus.publish("g", message("t", n));
    // The first commit waits in the store; the agent goes on meanwhile.
    await expect.poll(() => handled).toEqual([1, 2, 3, 4]);
    expect((await bus.readAgent("g", "a"))?.commits).toBe(0);
    bus.release();
    await expect.poll(async () => (await bus.readAgent("g", "a"))?.state).toBe("4");
    expect(records.map((r) => r.messages)).toEqual([1, 3]);
    expect((await bus.readAgent("g", "a"))?.commits).toBe(2);
    await expect.poll(() => sent).toEqual([1, 2, 3, 4]);
    await inbox.close();
  });

  it("stores nothing handled after a commit the store refused", async () => {
    const bus = gatedBus();
    bus.refuse = true;
    const handled: JsonValue[] = [];
    let failures = 0;
    const inbox = await openInbox(
      bus,
      (m) => {
        handled.push(m.payload);
        return Promise.resolve({ state: JSON.stringify(m.payload), messages: [] });
      },
      { onCommitFailed: () => (failures += 1) },
    );
    for (const n of [1, 2]) await bus.publish("g", message("t", n));
    await expect.poll(() => handled).toEqual([1, 2]);
    bus.release();
    await expect.poll(() => failures).toBe(1);
    await inbox.close();
    // Message 2 was handled on a memory that saw 1, whose commit was refused: storing it would
    // skip 1 for good.
    expect((await bus.readAgent("g", "a"))?.commits).toBe(0);
    expect((await bus.readAgent("g", "a"))?.state).toBeUndefined();
  });

  it("pauses handling while 64 handled messages wait for the store", async () => {
    const bus = gatedBus();
    let handled = 0;
    const inbox = await openInbox(bus, () => {
      handled += 1;
      return Promise.resolve({ state: String(handled), messages: [] });
    });
    for (let n = 0; n < 100; n++) await bus.publish("g", message("t", n));
    // One commit on its way and 64 waiting behind it.
    await expect.poll(() => handled).toBe(65);
    await settle();
    expect(handled).toBe(65);
    bus.release();
    await expect.poll(async () => (await bus.readAgent("g", "a"))?.state).toBe("100");
    await inbox.close();
  });

  it("with prefetch, hands over the next messages before the first is handled, and commits them in the order they came", async () => {
    const bus = new MemoryBus();
    const finish = new Map<JsonValue, () => void>();
    const inbox = await openInbox(
      bus,
      async (m) => {
        await new Promise<void>((resolve) => finish.set(m.payload, resolve));
        return { state: JSON.stringify(m.payload), messages: [message("out", m.payload, "a")] };
      },
      { prefetch: 3 },
    );
    const sent: JsonValue[] = [];
    await bus.subscribe("g", "out", (m) => void sent.push(m.payload));
    for (const n of [1, 2, 3, 4]) await bus.publish("g", message("t", n));
    // Three are in hand at once; the fourth waits for room.
    await expect.poll(() => [...finish.keys()]).toEqual([1, 2, 3]);
    await settle();
    expect([...finish.keys()]).toEqual([1, 2, 3]);
    for (const n of [3, 2]) finish.get(n)?.();
    await settle();
    expect((await bus.readAgent("g", "a"))?.commits).toBe(0);
    finish.get(1)?.();
    await expect.poll(() => finish.has(4)).toBe(true);
    finish.get(4)?.();
    await expect.poll(async () => (await bus.readAgent("g", "a"))?.state).toBe("4");
    await expect.poll(() => sent).toEqual([1, 2, 3, 4]);
    await inbox.close();
  });

  it("with prefetch, stores nothing handed over after a message whose handling failed", async () => {
    const bus = new MemoryBus();
    const finish = new Map<JsonValue, (ok: boolean) => void>();
    let failures = 0;
    const inbox = await openInbox(
      bus,
      async (m) => {
        const ok = await new Promise<boolean>((resolve) => finish.set(m.payload, resolve));
        if (!ok) throw new Error("the agent process exited");
        return { state: JSON.stringify(m.payload), messages: [] };
      },
      { prefetch: 3, onHandleFailed: () => (failures += 1) },
    );
    for (const n of [1, 2, 3]) await bus.publish("g", message("t", n));
    await expect.poll(() => finish.size).toBe(3);
    finish.get(3)?.(true);
    finish.get(2)?.(true);
    finish.get(1)?.(false);
    await inbox.close();
    expect(failures).toBe(1);
    expect((await bus.readAgent("g", "a"))?.commits).toBe(0);
  });

  it("retries a commit the store did not answer, applying it once", async () => {
    const bus = flakyBus(3);
    const records: CommitRecord[] = [];
    const inbox = await openInbox(bus, () => Promise.resolve({ state: '"done"', messages: [] }), {
      onCommit: (r) => records.push(r),
    });
    await bus.publish("g", message("t", "go"));
    await expect.poll(async () => (await bus.readAgent("g", "a"))?.state).toBe('"done"');
    expect(records).toMatchObject([{ result: "committed", retries: 3 }]);
    await inbox.close();
  });

  it("stops delivering once a newer placement claimed the agent, and says so", async () => {
    const bus = new MemoryBus();
    const handled: JsonValue[] = [];
    let fenced = false;
    const inbox = await openInbox(
      bus,
      (m) => {
        handled.push(m.payload);
        return Promise.resolve({ state: JSON.stringify(m.payload), messages: [] });
      },
      { onFenced: () => (fenced = true) },
    );
    await bus.publish("g", message("t", 1));
    await expect.poll(() => handled).toEqual([1]);
    await expect.poll(async () => (await bus.readAgent("g", "a"))?.commits).toBe(1);
    await bus.claimAgent("g", "a", { epoch: 2, topics: ["t"] });
    await bus.publish("g", message("t", 2));
    await expect.poll(() => fenced).toBe(true);
    expect((await bus.readAgent("g", "a"))?.state).toBe("1");
    await expect(inbox.commit({ messages: [] })).rejects.toThrow(/epoch 1 is stale/);
    await inbox.close();
  });

  it("close waits for the handler in progress and its commit; abort commits nothing more", async () => {
    const bus = new MemoryBus();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const handling = new Promise<void>((resolve) => (started = resolve));
    const inbox = await openInbox(bus, async () => {
      started();
      await gate;
      return { state: '"kept"', messages: [] };
    });
    await bus.publish("g", message("t", 1));
    await handling;
    const closing = inbox.close();
    release();
    expect(await closing, "close settled: the handler and its commit finished").toBe(true);
    expect((await bus.readAgent("g", "a"))?.state).toBe('"kept"');

    let releaseAgain!: () => void;
    const gateAgain = new Promise<void>((resolve) => (releaseAgain = resolve));
    let startedAgain!: () => void;
    const handlingAgain = new Promise<void>((resolve) => (startedAgain = resolve));
    const second = await openInbox(
      bus,
      async () => {
        startedAgain();
        await gateAgain;
        return { state: '"lost"', messages: [] };
      },
      { epoch: 2 },
    );
    await bus.publish("g", message("t", 2));
    await handlingAgain;
    await second.abort();
    releaseAgain();
    await second.close();
    expect((await bus.readAgent("g", "a"))?.state, "an aborted copy commits nothing").toBe(
      '"kept"',
    );
  });

  it("claims the agent again when the store lost its record, and goes on", async () => {
    const first = new MemoryBus();
    const stores = { current: first };
    // What a Redis restarted without persistence looks like to the inbox: the same bus, empty.
    const bus = new Proxy(first, {
      get(_target, name) {
        const value = Reflect.get(stores.current, name) as unknown;
        return typeof value === "function" ? (value as () => unknown).bind(stores.current) : value;
      },
    });
    const inbox = await openInbox(bus, () => Promise.resolve({ messages: [] }));
    await inbox.commit({ state: '"before"', messages: [] });
    stores.current = new MemoryBus();
    const out: JsonValue[] = [];
    await stores.current.subscribe("g", "out", (m) => {
      out.push(m.payload);
    });
    await inbox.commit({ state: '"after"', messages: [message("out", "released", "a")] });
    expect(await stores.current.readAgent("g", "a")).toMatchObject({
      state: '"after"',
      commits: 1,
    });
    await expect.poll(() => out).toEqual(["released"]);
    await inbox.close();
  });

  it("stores the positions of handlers that did nothing without a commit each, before any commit that did something", async () => {
    const bus = new MemoryBus();
    const records: CommitRecord[] = [];
    let handled = 0;
    const inbox = await openInbox(
      bus,
      (m) => {
        handled += 1;
        return Promise.resolve(
          m.payload === "count" ? { state: '"counted"', messages: [] } : { messages: [] },
        );
      },
      // Long enough that only close, or the commit that counts, stores the waiting positions.
      { onCommit: (r) => records.push(r), positionFlushMs: 60_000 },
    );
    for (let i = 0; i < 10; i++) await bus.publish("g", message("t", "ignore"));
    await bus.publish("g", message("t", "count"));
    await expect.poll(async () => (await bus.readAgent("g", "a"))?.state).toBe('"counted"');
    expect(records.length, "ten ignored messages cost no commit of their own").toBeLessThan(3);
    for (let i = 0; i < 3; i++) await bus.publish("g", message("t", "ignore"));
    await expect.poll(() => handled).toBe(14);
    await inbox.close();
    const stored = await bus.readAgent("g", "a");
    const resumed = await collectAfter(bus, stored!.positions.t!);
    expect(resumed, "close stores the positions still waiting").toEqual([]);
  });

  it("commits a handler's timer changes at once with its step, and reports them once stored", async () => {
    const bus = new MemoryBus();
    const records: CommitRecord[] = [];
    const timer = newTimer("a", 60_000, { remind: true });
    const inbox = await openInbox(
      bus,
      (m) =>
        Promise.resolve(
          m.payload === "set"
            ? { messages: [], timers: { schedule: [timer], cancel: [] } }
            : { messages: [] },
        ),
      // Long enough that a commit that only moves a position would still be waiting.
      { onCommit: (r) => records.push(r), positionFlushMs: 60_000 },
    );
    await bus.publish("g", message("t", "set"));
    await expect.poll(async () => (await bus.readAgent("g", "a"))?.timers).toEqual([timer]);
    expect(records).toEqual([
      expect.objectContaining({
        result: "committed",
        timers: { schedule: [timer], cancel: [] },
      }),
    ]);

    await inbox.commit({ messages: [], timers: { schedule: [], cancel: [timer.id] } });
    expect((await bus.readAgent("g", "a"))?.timers).toEqual([]);
    expect(records[1]?.timers).toEqual({ schedule: [], cancel: [timer.id] });

    await inbox.commit({ messages: [], timers: { schedule: [], cancel: [] } });
    expect(records[2], "no changes, nothing reported").not.toHaveProperty("timers");

    await bus.claimAgent("g", "a", { epoch: 2, topics: ["t"] });
    await expect(
      inbox.commit({ messages: [], timers: { schedule: [newTimer("a", 0, "x")], cancel: [] } }),
    ).rejects.toThrow(/stale/);
    expect(records[3]).toMatchObject({ result: "fenced" });
    expect(records[3], "a fenced commit stored no timer").not.toHaveProperty("timers");
    await inbox.close();
  });

  it("reports the timers of a commit whose first answer was lost and whose retry was a duplicate", async () => {
    const bus = new MemoryBus();
    const commit = bus.commitAgent.bind(bus);
    let lostOnce = false;
    // The store applies the commit, but its answer never arrives: as a connection dropped then.
    bus.commitAgent = async (guildId, agentId, c) => {
      const result = await commit(guildId, agentId, c);
      if (!lostOnce) {
        lostOnce = true;
        throw new GuildhallError("unavailable", "the answer was lost");
      }
      return result;
    };
    const records: CommitRecord[] = [];
    const inbox = await openInbox(bus, () => Promise.resolve({ messages: [] }), {
      onCommit: (r) => records.push(r),
    });
    const timer = newTimer("a", 60_000, "kept");
    await inbox.commit({ messages: [], timers: { schedule: [timer], cancel: [] } });
    expect(records).toEqual([
      expect.objectContaining({
        result: "duplicate",
        retries: 1,
        timers: { schedule: [timer], cancel: [] },
      }),
    ]);
    await inbox.close();
  });
});

async function collectAfter(bus: MemoryBus, after: string): Promise<JsonValue[]> {
  const seen: JsonValue[] = [];
  const subscription = await bus.subscribe("g", "t", (m) => void seen.push(m.payload), { after });
  await bus.publish("g", message("t", "sentinel", "other"));
  await expect.poll(() => seen.length).toBeGreaterThan(0);
  await subscription.unsubscribe();
  return seen.filter((payload) => payload !== "sentinel");
}
