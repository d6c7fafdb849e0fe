import { describe, expect, it } from "vitest";
import { comparePositions } from "./agent-store.js";
import type { TopicPosition } from "./agent-store.js";
import { GuildhallError } from "./errors.js";
import { MemoryBus } from "./memory-bus.js";
import type { TrimmedEntries } from "./message-bus.js";
import { createMessage, type JsonValue, type Message } from "./message.js";

const message = (topic: string, payload: JsonValue, sender = "app"): Message =>
  createMessage({ topic, sender: { id: sender }, payload });

/** Subscribes and collects [payload, position] pairs; `until(n)` resolves once n arrived. */
async function collect(bus: MemoryBus, topic: string, after?: TopicPosition) {
  const seen: [JsonValue, TopicPosition][] = [];
  let wake: (() => void) | undefined;
  const subscription = await bus.subscribe(
    "g",
    topic,
    (m, position) => {
      seen.push([m.payload, position]);
      wake?.();
    },
    after === undefined ? {} : { after },
  );
  const until = async (count: number): Promise<void> => {
    while (seen.length < count) await new Promise<void>((resolve) => (wake = resolve));
  };
  return { seen, until, subscription };
}

describe("MemoryBus as an agent store", () => {
  it("gives every entry a growing position and resumes a subscription after one", async () => {
    const bus = new MemoryBus();
    const live = await collect(bus, "t");
    for (let n = 1; n <= 5; n++) await bus.publish("g", message("t", n));
    await live.until(5);
    const positions = live.seen.map(([, position]) => position);
    for (let i = 1; i < positions.length; i++) {
      expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
    }
    const resumed = await collect(bus, "t", positions[1]);
    await bus.publish("g", message("t", 6));
    await resumed.until(4);
    expect(resumed.seen.map(([payload]) => payload)).toEqual([3, 4, 5, 6]);
  });

  it("starts a new agent at its topics' ends and keeps its positions across claims", async () => {
    const bus = new MemoryBus();
    await bus.publish("g", message("t", "before"));
    const first = await bus.claimAgent("g", "a", { epoch: 1, topics: ["t", "u"] });
    expect(first.state).toBeUndefined();
    expect(first.commits).toBe(0);
    expect(first.positions.u).toBe("0-0");
    const after = await collect(bus, "t", first.positions.t);
    await bus.publish("g", message("t", "after"));
    await after.until(1);
    expect(after.seen.map(([payload]) => payload)).toEqual(["after"]);

    const position = after.seen[0]![1];
    expect(
      await bus.commitAgent("g", "a", {
        epoch: 1,
        sequence: 1,
        state: '{"n":1}',
        position: { topic: "t", position },
        messages: [message("out", "reply", "a")],
      }),
    ).toBe("committed");
    const again = await bus.claimAgent("g", "a", { epoch: 2, topics: ["t", "u"] });
    expect(again).toEqual({
      state: '{"n":1}',
      positions: { t: position, u: "0-0" },
      commits: 1,
      timers: [],
    });
  });

  it("applies a commit once, refuses one out of sequence, and fences older epochs", async () => {
    const bus = new MemoryBus();
    await bus.claimAgent("g", "a", { epoch: 5, topics: ["t"] });
    const out = await collect(bus, "out");
    const commit = { epoch: 5, sequence: 1, state: "1", messages: [message("out", 1, "a")] };
    expect(await bus.commitAgent("g", "a", commit)).toBe("committed");
    expect(await bus.commitAgent("g", "a", commit)).toBe("duplicate");
    await expect(
      bus.commitAgent("g", "a", { epoch: 5, sequence: 3, messages: [] }),
    ).rejects.toThrow(/commit 3 of agent "a" skips ahead: the last one stored is 1/);

    await bus.claimAgent("g", "a", { epoch: 6, topics: ["t"] });
    expect(
      await bus.commitAgent("g", "a", {
        epoch: 5,
        sequence: 2,
        state: "99",
        messages: [message("out", 2, "a")],
      }),
    ).toBe("fenced");
    await expect(bus.claimAgent("g", "a", { epoch: 5, topics: ["t"] })).rejects.toMatchObject({
      code: "aborted",
    });
    expect((await bus.readAgent("g", "a"))?.state).toBe("1");
    await bus.publish("g", message("out", "sentinel"));
    await out.until(2);
    expect(
      out.seen.map(([payload]) => payload),
      "the fenced commit released nothing",
    ).toEqual([1, "sentinel"]);
  });

  it("deletes an agent for good: its old epochs stay fenced, a newer claim starts afresh", async () => {
    const bus = new MemoryBus();
    await bus.claimAgent("g", "a", { epoch: 3, topics: ["t"] });
    await bus.commitAgent("g", "a", { epoch: 3, sequence: 1, state: "7", messages: [] });
    await bus.deleteAgent("g", "a");
    await bus.deleteAgent("g", "a");
    expect(await bus.readAgent("g", "a")).toBeUndefined();
    expect(await bus.commitAgent("g", "a", { epoch: 3, sequence: 2, messages: [] })).toBe("fenced");
    await expect(bus.claimAgent("g", "a", { epoch: 3, topics: ["t"] })).rejects.toThrow(
      /cannot start under placement epoch 3: it was stopped under 3/,
    );
    const fresh = await bus.claimAgent("g", "a", { epoch: 4, topics: ["t"] });
    expect(fresh).toMatchObject({ state: undefined, commits: 0 });
  });

  it("trims a long topic only past what every declared agent committed", async () => {
    const bus = new MemoryBus({ trimAboveEntries: 3 });
    const { positions } = await bus.claimAgent("g", "slow", { epoch: 1, topics: ["t"] });
    await bus.claimAgent("g", "fast", { epoch: 1, topics: ["t"] });
    const live = await collect(bus, "t");
    for (let n = 1; n <= 10; n++) await bus.publish("g", message("t", n));
    await live.until(10);
    await bus.commitAgent("g", "fast", {
      epoch: 1,
      sequence: 1,
      position: { topic: "t", position: live.seen[9]![1] },
      messages: [],
    });
    const slow = await collect(bus, "t", positions.t);
    await slow.until(10);
    expect(slow.seen.map(([payload]) => payload)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("reports a resume after messages the hard cap already dropped", async () => {
    const trimmed: TrimmedEntries[] = [];
    const bus = new MemoryBus({ maxLenPerTopic: 3, onTrimmed: (t) => trimmed.push(t) });
    const { positions } = await bus.claimAgent("g", "a", { epoch: 1, topics: ["t"] });
    for (let n = 1; n <= 5; n++) await bus.publish("g", message("t", n));
    const resumed = await collect(bus, "t", positions.t);
    await resumed.until(3);
    expect(resumed.seen.map(([payload]) => payload)).toEqual([3, 4, 5]);
    expect(trimmed).toEqual([
      { guildId: "g", topic: "t", after: positions.t, lastTrimmed: expect.any(String) as string },
    ]);
  });

  it("refuses malformed claims and commits, naming what was wrong", async () => {
    const bus = new MemoryBus({ maxMessageBytes: 200 });
    await expect(bus.claimAgent("g", "a", { epoch: 0, topics: [] })).rejects.toThrow(
      /epoch must be a positive integer/,
    );
    await bus.claimAgent("g", "a", { epoch: 1, topics: ["t"] });
    await expect(
      bus.commitAgent("g", "a", {
        epoch: 1,
        sequence: 1,
        position: { topic: "t", position: "later" },
        messages: [],
      }),
    ).rejects.toThrow(/commit position "later" is not a topic position/);
    const error: unknown = await bus
      .commitAgent("g", "a", {
        epoch: 1,
        sequence: 1,
        messages: [message("t", "x".repeat(300), "a")],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GuildhallError);
    expect((error as GuildhallError).message).toMatch(/over the bus limit of 200/);
    expect((await bus.readAgent("g", "a"))?.commits, "nothing of a refused commit is kept").toBe(0);
    await expect(
      bus.commitAgent("g", "a", {
        epoch: 1,
        sequence: 1,
        state: '"changed"',
        messages: [],
        timers: { schedule: [{ id: "t", dueAt: 1, payload: undefined as never }], cancel: [] },
      }),
    ).rejects.toThrow(/commit timers: timer t payload is undefined/);
    expect(await bus.readAgent("g", "a")).toMatchObject({ commits: 0, timers: [] });
  });
});
