// RedisBus as an AgentStore (DESIGN section 12): claims fence older placements, a commit lands its
// state, position and sends together or not at all and never twice, a delete fences the stopped
// agent's copies, and every key of a guild shares one hash tag.
import { describe, expect, it } from "vitest";
import {
  createMessage,
  inboxTopic,
  newTimer,
  timerMessage,
  type AgentCommit,
  type Message,
} from "@guildhall/core";
import { freePort, waitFor } from "@guildhall/testing";
import { RedisBus } from "../src/index.js";
import { useBuses } from "./helpers.js";

const GUILD = "guild-1";
const AGENT = "agent-1";
const { admin, makeBus, track } = useBuses();

function message(payload: string, topic = "out"): Message {
  return createMessage({ topic, sender: { id: AGENT }, payload });
}

/** The ids and payloads of a stream, oldest first. */
async function entries(key: string): Promise<Array<{ id: string; payload: unknown }>> {
  const raw = await admin().xrange(key, "-", "+");
  return raw.map(([id, fields]) => ({
    id,
    payload: (JSON.parse(fields[1]!) as Message).payload,
  }));
}

/** The hash tag Redis Cluster would hash `key` by (the whole key when it has none). */
function hashTag(key: string): string {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe("RedisBus agent store", () => {
  it("claims a new agent with no state, no commits and each topic at its stream's end", async () => {
    const { bus, prefix } = makeBus();
    await bus.publish(GUILD, message("before", "in"));
    const [last] = await entries(`${prefix}bus:{${GUILD}}:in`);
    const checkpoint = await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: ["in", "empty"] });
    expect(checkpoint).toEqual({
      state: undefined,
      commits: 0,
      positions: { in: last!.id, empty: "0-0" },
      timers: [],
    });
    expect(await bus.readAgent(GUILD, AGENT)).toEqual(checkpoint);
  });

  it("starts a topic new to the agent at its end: earlier messages are not redelivered, later ones are", async () => {
    const { bus } = makeBus();
    await bus.publish(GUILD, message("early", "in"));
    const { positions } = await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: ["in"] });
    await bus.publish(GUILD, message("late", "in"));
    const received: unknown[] = [];
    await bus.subscribe(GUILD, "in", (m) => void received.push(m.payload), {
      after: positions["in"]!,
    });
    await waitFor(() => received.length > 0, { description: "the late message" });
    await bus.publish(GUILD, message("live", "in"));
    await waitFor(() => received.length === 2, {
      description: () => `2 messages; received ${JSON.stringify(received)}`,
    });
    expect(received).toEqual(["late", "live"]);
  });

  it("commits state, position and messages together, and resumes from them", async () => {
    const { bus, prefix } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: ["in"] });
    await bus.publish(GUILD, message("handled", "in"));
    const [handled] = await entries(`${prefix}bus:{${GUILD}}:in`);
    const result = await bus.commitAgent(GUILD, AGENT, {
      epoch: 1,
      sequence: 1,
      state: JSON.stringify({ count: 1 }),
      position: { topic: "in", position: handled!.id },
      messages: [message("a"), message("b"), message("c", "elsewhere")],
    });
    expect(result).toBe("committed");
    expect((await entries(`${prefix}bus:{${GUILD}}:out`)).map((e) => e.payload)).toEqual([
      "a",
      "b",
    ]);
    expect((await entries(`${prefix}bus:{${GUILD}}:elsewhere`)).map((e) => e.payload)).toEqual([
      "c",
    ]);
    expect(await bus.claimAgent(GUILD, AGENT, { epoch: 2, topics: ["in"] })).toEqual({
      state: JSON.stringify({ count: 1 }),
      commits: 1,
      positions: { in: handled!.id },
      timers: [],
    });
  });

  it("keeps the stored state when a commit carries none", async () => {
    const { bus } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] });
    await bus.commitAgent(GUILD, AGENT, { epoch: 1, sequence: 1, state: '"one"', messages: [] });
    await bus.commitAgent(GUILD, AGENT, { epoch: 1, sequence: 2, messages: [] });
    expect(await bus.readAgent(GUILD, AGENT)).toEqual({
      state: '"one"',
      commits: 2,
      positions: {},
      timers: [],
    });
  });

  it("applies nothing of a commit when one of its keys cannot be written", async () => {
    const { bus, prefix } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: ["in"] });
    await bus.publish(GUILD, message("handled", "in"));
    const [handled] = await entries(`${prefix}bus:{${GUILD}}:in`);
    await admin().set(`${prefix}bus:{${GUILD}}:taken`, "not a stream");
    const before = await bus.readAgent(GUILD, AGENT);
    await expect(
      bus.commitAgent(GUILD, AGENT, {
        epoch: 1,
        sequence: 1,
        state: '"changed"',
        position: { topic: "in", position: handled!.id },
        messages: [message("sent first"), message("never", "taken")],
      }),
    ).rejects.toMatchObject({ code: "failed-precondition" });
    expect(await bus.readAgent(GUILD, AGENT)).toEqual(before);
    expect(await admin().exists(`${prefix}bus:{${GUILD}}:out`)).toBe(0);
  });

  it("applies a retried sequence once and releases its messages once", async () => {
    const { bus, prefix } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] });
    const commit: AgentCommit = {
      epoch: 1,
      sequence: 1,
      state: '"first"',
      messages: [message("once")],
    };
    expect(await bus.commitAgent(GUILD, AGENT, commit)).toBe("committed");
    expect(
      await bus.commitAgent(GUILD, AGENT, {
        ...commit,
        state: '"again"',
        messages: [message("twice")],
      }),
    ).toBe("duplicate");
    expect((await entries(`${prefix}bus:{${GUILD}}:out`)).map((e) => e.payload)).toEqual(["once"]);
    expect(await bus.readAgent(GUILD, AGENT)).toMatchObject({ state: '"first"', commits: 1 });
  });

  it("rejects a sequence that skips ahead with invalid-argument and stores nothing", async () => {
    const { bus, prefix } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] });
    await expect(
      bus.commitAgent(GUILD, AGENT, {
        epoch: 1,
        sequence: 2,
        state: '"x"',
        messages: [message("m")],
      }),
    ).rejects.toMatchObject({
      code: "invalid-argument",
      message: expect.stringMatching(/not the next commit/) as string,
    });
    expect(await bus.readAgent(GUILD, AGENT)).toMatchObject({ state: undefined, commits: 0 });
    expect(await admin().exists(`${prefix}bus:{${GUILD}}:out`)).toBe(0);
  });

  it("fences an older placement once a newer epoch claimed the agent", async () => {
    const { bus, prefix } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] });
    await bus.claimAgent(GUILD, AGENT, { epoch: 2, topics: [] });
    expect(
      await bus.commitAgent(GUILD, AGENT, {
        epoch: 1,
        sequence: 1,
        state: '"stale"',
        messages: [message("stale")],
      }),
    ).toBe("fenced");
    expect(await bus.readAgent(GUILD, AGENT)).toMatchObject({ state: undefined, commits: 0 });
    expect(await admin().exists(`${prefix}bus:{${GUILD}}:out`)).toBe(0);
    const error = await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ code: "aborted" });
    expect(error?.message).toContain(`agent "${AGENT}"`);
    expect(error?.message).toContain("epoch 1");
    expect(error?.message).toContain("epoch 2");
    expect(await bus.commitAgent(GUILD, AGENT, { epoch: 2, sequence: 1, messages: [] })).toBe(
      "committed",
    );
  });

  it("fences the deleted epoch with a tombstone, and a newer claim starts afresh", async () => {
    const { bus, prefix } = makeBus({ tombstoneTtlMs: 60_000 });
    await bus.publish(GUILD, message("old", "in"));
    await bus.claimAgent(GUILD, AGENT, { epoch: 3, topics: ["in"] });
    await bus.commitAgent(GUILD, AGENT, { epoch: 3, sequence: 1, state: '"kept"', messages: [] });
    await bus.deleteAgent(GUILD, AGENT);
    await bus.deleteAgent(GUILD, AGENT);

    const record = `${prefix}bus-agent:{${GUILD}}:${AGENT}`;
    expect(await admin().hgetall(record)).toEqual({ epoch: "3", deleted: "1" });
    const ttl = await admin().pttl(record);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await admin().hexists(`${prefix}bus-cursors:{${GUILD}}:in`, AGENT)).toBe(0);
    expect(await bus.readAgent(GUILD, AGENT)).toBeUndefined();
    expect(await bus.commitAgent(GUILD, AGENT, { epoch: 3, sequence: 2, messages: [] })).toBe(
      "fenced",
    );
    await expect(bus.claimAgent(GUILD, AGENT, { epoch: 3, topics: ["in"] })).rejects.toMatchObject({
      code: "aborted",
      message: expect.stringMatching(/stopped \(deleted\) under epoch 3/) as string,
    });

    await bus.publish(GUILD, message("after delete", "in"));
    const [, last] = await entries(`${prefix}bus:{${GUILD}}:in`);
    expect(await bus.claimAgent(GUILD, AGENT, { epoch: 4, topics: ["in"] })).toEqual({
      state: undefined,
      commits: 0,
      positions: { in: last!.id },
      timers: [],
    });
    expect(await admin().pttl(record)).toBe(-1);
  });

  it("answers unknown, changing nothing, to a commit for an agent it has no record of", async () => {
    const { bus, prefix } = makeBus();
    const commit: AgentCommit = {
      epoch: 7,
      sequence: 1,
      state: '"lost"',
      messages: [message("x")],
    };
    expect(await bus.commitAgent(GUILD, AGENT, commit)).toBe("unknown");
    expect(await admin().exists(`${prefix}bus-agent:{${GUILD}}:${AGENT}`)).toBe(0);
    expect(await admin().exists(`${prefix}bus:{${GUILD}}:out`)).toBe(0);
  });

  it("deletes an agent it never had, and the positions of every topic any claim declared", async () => {
    const { bus, prefix } = makeBus();
    await bus.deleteAgent(GUILD, "nobody");
    expect(await admin().exists(`${prefix}bus-agent:{${GUILD}}:nobody`)).toBe(0);

    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: ["a"] });
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: ["b", "a"] });
    await bus.publish(GUILD, message("x", "c"));
    const [onC] = await entries(`${prefix}bus:{${GUILD}}:c`);
    // A position on a topic no claim declared joins the agent's topics.
    await bus.commitAgent(GUILD, AGENT, {
      epoch: 1,
      sequence: 1,
      position: { topic: "c", position: onC!.id },
      messages: [],
    });
    expect(Object.keys((await bus.readAgent(GUILD, AGENT))!.positions).sort()).toEqual([
      "a",
      "b",
      "c",
    ]);
    await bus.deleteAgent(GUILD, AGENT);
    for (const topic of ["a", "b", "c"]) {
      expect(await admin().hexists(`${prefix}bus-cursors:{${GUILD}}:${topic}`, AGENT)).toBe(0);
    }
  });

  it("keeps timers in a hash of their own, fires one onto the inbox stream, and deletes them with the agent", async () => {
    const { bus, prefix } = makeBus();
    const timers = `${prefix}bus-timers:{${GUILD}}:${AGENT}`;
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [inboxTopic(AGENT)] });
    expect(
      await bus.commitAgent(GUILD, AGENT, { epoch: 1, sequence: 1, messages: [message("a")] }),
    ).toBe("committed");
    expect(await admin().exists(timers), "a commit that sets no timer leaves no hash").toBe(0);

    const due = newTimer(AGENT, 0, { wake: 1 });
    const later = newTimer(AGENT, 3_600_000, "later");
    await bus.commitAgent(GUILD, AGENT, {
      epoch: 1,
      sequence: 2,
      messages: [],
      timers: { schedule: [later, due], cancel: [] },
    });
    expect(await admin().hgetall(timers)).toEqual({
      [due.id]: JSON.stringify(due),
      [later.id]: JSON.stringify(later),
    });
    expect((await bus.claimAgent(GUILD, AGENT, { epoch: 2, topics: [] })).timers).toEqual([
      due,
      later,
    ]);

    expect(await bus.fireTimer(GUILD, AGENT, { epoch: 2, message: timerMessage(AGENT, due) })).toBe(
      "fired",
    );
    const inbox = await admin().xrange(`${prefix}bus:{${GUILD}}:inbox:${AGENT}`, "-", "+");
    expect(inbox).toHaveLength(1);
    expect(inbox[0]![1][0], "the field publish writes").toBe("m");
    expect(JSON.parse(inbox[0]![1][1]!)).toMatchObject({ id: due.id, payload: { wake: 1 } });
    expect(await admin().hkeys(timers)).toEqual([later.id]);

    await bus.deleteAgent(GUILD, AGENT);
    expect(await admin().exists(timers)).toBe(0);
  });

  it("starts an agent with no record afresh, whatever timers an older bus left behind", async () => {
    const { bus, prefix } = makeBus();
    const timers = `${prefix}bus-timers:{${GUILD}}:${AGENT}`;
    const orphan = newTimer(AGENT, 0, "orphan");
    await admin().hset(timers, orphan.id, JSON.stringify(orphan));
    expect((await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] })).timers).toEqual([]);
    expect(await admin().exists(timers)).toBe(0);
  });

  it("applies nothing of a commit whose timers hash holds another type", async () => {
    const { bus, prefix } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] });
    await admin().set(`${prefix}bus-timers:{${GUILD}}:${AGENT}`, "not a hash");
    await expect(
      bus.commitAgent(GUILD, AGENT, {
        epoch: 1,
        sequence: 1,
        state: '"changed"',
        messages: [message("never")],
        timers: { schedule: [newTimer(AGENT, 0, "t")], cancel: [] },
      }),
    ).rejects.toMatchObject({ code: "failed-precondition" });
    expect(await admin().hget(`${prefix}bus-agent:{${GUILD}}:${AGENT}`, "commits")).toBe("0");
    expect(await admin().exists(`${prefix}bus:{${GUILD}}:out`)).toBe(0);
  });

  it("answers unknown to a fire for an agent Redis lost, and refuses malformed timers", async () => {
    const { bus } = makeBus();
    const timer = newTimer(AGENT, 0, "t");
    expect(
      await bus.fireTimer(GUILD, AGENT, { epoch: 1, message: timerMessage(AGENT, timer) }),
    ).toBe("unknown");
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] });
    await expect(
      bus.commitAgent(GUILD, AGENT, {
        epoch: 1,
        sequence: 1,
        messages: [],
        timers: { schedule: [{ id: "", dueAt: 1.5, payload: null }], cancel: [] },
      }),
    ).rejects.toMatchObject({ code: "invalid-argument" });
    await expect(
      bus.fireTimer(GUILD, AGENT, { epoch: 0, message: timerMessage(AGENT, timer) }),
    ).rejects.toMatchObject({ code: "invalid-argument" });
  });

  it("loads its scripts again when Redis forgot them (a restart, SCRIPT FLUSH)", async () => {
    const { bus } = makeBus();
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] });
    await admin().script("FLUSH");
    expect(await bus.commitAgent(GUILD, AGENT, { epoch: 1, sequence: 1, messages: [] })).toBe(
      "committed",
    );
  });

  it("puts every key of a guild under the guild's hash tag, whatever its topics contain", async () => {
    const { bus, prefix } = makeBus();
    const topics = ["plain", "inbox:agent-1", "odd{tag}", "}{"];
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics });
    for (const topic of topics) await bus.publish(GUILD, message("m", topic));
    await bus.commitAgent(GUILD, AGENT, {
      epoch: 1,
      sequence: 1,
      position: { topic: "odd{tag}", position: "1-0" },
      messages: topics.map((topic) => message("sent", topic)),
      timers: { schedule: [newTimer(AGENT, 60_000, "later")], cancel: [] },
    });
    await bus.publish("other", message("m", "plain"));
    const keys = await admin().keys(`${prefix}*`);
    const ours = keys.filter((key) => !key.includes("{other}"));
    expect(ours.length, "record, timers, and per topic a stream and a cursors hash").toBe(
      2 + 2 * topics.length,
    );
    expect(new Set(ours.map(hashTag))).toEqual(new Set([GUILD]));
    expect(keys.filter((key) => hashTag(key) === "other")).toHaveLength(1);
  });

  it("refuses malformed claims and commits with invalid-argument", async () => {
    const { bus } = makeBus({ maxPayloadBytes: 1_000 });
    await bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: ["in"] });
    const bad: Array<[string, Promise<unknown>]> = [
      ["epoch", bus.claimAgent(GUILD, AGENT, { epoch: 0, topics: [] })],
      ["topic", bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [""] })],
      ["agent id", bus.claimAgent(GUILD, "no spaces", { epoch: 1, topics: [] })],
      ["sequence", bus.commitAgent(GUILD, AGENT, { epoch: 1, sequence: 1.5, messages: [] })],
      [
        "position",
        bus.commitAgent(GUILD, AGENT, {
          epoch: 1,
          sequence: 1,
          position: { topic: "in", position: "99999999999999999999-0" },
          messages: [],
        }),
      ],
      ["state", bus.commitAgent(GUILD, AGENT, { epoch: 1, sequence: 1, state: "", messages: [] })],
      [
        "bytes",
        bus.commitAgent(GUILD, AGENT, {
          epoch: 1,
          sequence: 1,
          messages: [message("x".repeat(2_000))],
        }),
      ],
    ];
    for (const [what, attempt] of bad) {
      await expect(attempt, what).rejects.toMatchObject({ code: "invalid-argument" });
    }
    expect(await bus.readAgent(GUILD, AGENT)).toMatchObject({ commits: 0 });
  });

  it("fails claim, commit, delete and read with unavailable naming the agent when Redis is down", async () => {
    const bus = new RedisBus({ url: `redis://127.0.0.1:${await freePort()}` });
    track(bus);
    const attempts = [
      bus.claimAgent(GUILD, AGENT, { epoch: 1, topics: [] }),
      bus.commitAgent(GUILD, AGENT, { epoch: 1, sequence: 1, messages: [] }),
      bus.deleteAgent(GUILD, AGENT),
      bus.readAgent(GUILD, AGENT),
    ];
    for (const attempt of attempts) {
      await expect(attempt).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining(`agent "${AGENT}" of guild "${GUILD}"`) as string,
      });
    }
  });
});
