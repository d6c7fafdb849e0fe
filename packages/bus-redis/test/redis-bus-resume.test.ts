// Resuming a subscription `after` a position, and trimming: a resumed subscription gets every
// entry after its position once and in order, beside live subscriptions of the same stream;
// commits never trim past a declared agent's position; what the hard cap trimmed from under a
// reader is reported, never skipped silently.
import { describe, expect, it } from "vitest";
import { createMessage, type Message, type TrimmedEntries } from "@guildhall/core";
import { testRedisUrl, waitFor } from "@guildhall/testing";
import type { RedisBus, RedisBusWarning } from "../src/index.js";
import { startFaultProxy } from "../../../tools/fault-proxy/fault-proxy.js";
import { busConnectionFields, useBuses } from "./helpers.js";

const GUILD = "guild-1";
const TOPIC = "topic";
const { admin, makeBus } = useBuses();

function message(payload: number | string): Message {
  return createMessage({ topic: TOPIC, sender: { id: "publisher" }, payload });
}

/** Records payloads with the positions handlers were given. */
function recorder(): {
  payloads: Array<number | string>;
  positions: string[];
  handler: (m: Message, position: string) => void;
} {
  const payloads: Array<number | string> = [];
  const positions: string[] = [];
  return {
    payloads,
    positions,
    handler: (m, position) => {
      payloads.push(m.payload as number | string);
      positions.push(position);
    },
  };
}

/**
 * Subscribes `subscriber` live, publishes 1 to 5 through `publisher`, and resolves once the live
 * subscription got them: a stream whose reader cursor is at its end.
 */
async function liveAfterFive(
  subscriber: RedisBus,
  publisher: RedisBus,
): Promise<ReturnType<typeof recorder>> {
  const live = recorder();
  await subscriber.subscribe(GUILD, TOPIC, live.handler);
  for (const i of range(1, 6)) await publisher.publish(GUILD, message(i));
  await waitFor(() => live.payloads.length === 5, {
    description: () => `5 live messages; received ${JSON.stringify(live.payloads)}`,
  });
  return live;
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, i) => from + i);

async function streamIds(prefix: string): Promise<string[]> {
  return (await admin().xrange(`${prefix}bus:{${GUILD}}:${TOPIC}`, "-", "+")).map(([id]) => id);
}

describe("RedisBus resume", () => {
  it("gives handlers each entry's id as its position", async () => {
    const { bus, prefix } = makeBus();
    const inbox = recorder();
    await bus.subscribe(GUILD, TOPIC, inbox.handler);
    for (const i of range(0, 3)) await bus.publish(GUILD, message(i));
    await waitFor(() => inbox.payloads.length === 3, {
      description: () => `3 messages; received ${JSON.stringify(inbox.payloads)}`,
    });
    expect(inbox.positions).toEqual(await streamIds(prefix));
  });

  it("delivers every entry after `after`, then live ones, once and in order", async () => {
    const { bus, prefix } = makeBus();
    for (const i of range(1, 6)) await bus.publish(GUILD, message(i));
    const ids = await streamIds(prefix);
    const inbox = recorder();
    await bus.subscribe(GUILD, TOPIC, inbox.handler, { after: ids[1]! });
    for (const i of range(6, 9)) await bus.publish(GUILD, message(i));
    await waitFor(() => inbox.payloads.includes(8), {
      description: () => `8; received ${JSON.stringify(inbox.payloads)}`,
    });
    expect(inbox.payloads).toEqual(range(3, 9));
    expect(inbox.positions).toEqual((await streamIds(prefix)).slice(2));
  });

  it("resumes beside a live subscription of the same stream whose read blocks, neither getting an entry twice", async () => {
    const { bus, prefix } = makeBus({ blockMs: 60_000 });
    const live = await liveAfterFive(bus, bus);
    await waitFor(
      async () =>
        (await busConnectionFields(admin(), prefix)).some(
          (c) => c["cmd"] === "xread" && c["flags"]?.includes("b") === true,
        ),
      { description: "the reader to block in XREAD" },
    );
    const ids = await streamIds(prefix);
    const resumed = recorder();
    const later = recorder();
    await bus.subscribe(GUILD, TOPIC, resumed.handler, { after: ids[1]! });
    await bus.subscribe(GUILD, TOPIC, later.handler, { after: ids[3]! });
    for (const i of range(6, 9)) await bus.publish(GUILD, message(i));
    await waitFor(() => [live, resumed, later].every((inbox) => inbox.payloads.includes(8)), {
      description: () =>
        `8 in each; received ${JSON.stringify([live.payloads, resumed.payloads, later.payloads])}`,
    });
    expect(live.payloads).toEqual(range(1, 9));
    expect(resumed.payloads).toEqual(range(3, 9));
    expect(later.payloads).toEqual(range(5, 9));
  });

  it("drops a read answered before its stream's cursor was lowered, and reads it again", async () => {
    // Replies to the resuming bus take 100 ms: Redis answers its XINFO, then its read (with a new
    // entry), and the bus lowers the cursor before that read's reply arrives.
    const target = new URL(testRedisUrl());
    const proxy = await startFaultProxy({ targetPort: Number(target.port) });
    proxy.setLatency("downstream", 100);
    const { bus: publisher, prefix } = makeBus();
    const { bus } = makeBus({ prefix, url: `redis://127.0.0.1:${proxy.port}` });
    try {
      const live = await liveAfterFive(bus, publisher);
      const ids = await streamIds(prefix);
      const resumed = recorder();
      const subscribing = bus.subscribe(GUILD, TOPIC, resumed.handler, { after: ids[1]! });
      await waitFor(
        async () =>
          (await busConnectionFields(admin(), prefix)).some(
            (c) => c["cmd"]?.startsWith("xinfo") === true,
          ),
        { description: "the resuming subscription to ask XINFO" },
      );
      await publisher.publish(GUILD, message(6));
      await subscribing;
      await publisher.publish(GUILD, message(7));
      await waitFor(() => live.payloads.includes(7) && resumed.payloads.includes(7), {
        description: () =>
          `7 in both; received ${JSON.stringify([live.payloads, resumed.payloads])}`,
      });
      expect(live.payloads).toEqual(range(1, 8));
      expect(resumed.payloads).toEqual(range(3, 8));
    } finally {
      await bus.close();
      await proxy.close();
    }
  });

  it("resumes on another bus from a position a handler was given", async () => {
    const { bus: first, prefix } = makeBus();
    const { bus: second } = makeBus({ prefix });
    const inbox = recorder();
    const subscription = await first.subscribe(GUILD, TOPIC, inbox.handler);
    for (const i of range(0, 3)) await first.publish(GUILD, message(i));
    await waitFor(() => inbox.payloads.length === 3, {
      description: () => `3 messages; received ${JSON.stringify(inbox.payloads)}`,
    });
    await subscription.unsubscribe();
    for (const i of range(3, 6)) await first.publish(GUILD, message(i));
    const resumed = recorder();
    await second.subscribe(GUILD, TOPIC, resumed.handler, { after: inbox.positions.at(-1)! });
    await waitFor(() => resumed.payloads.length === 3, {
      description: () => `3 messages; received ${JSON.stringify(resumed.payloads)}`,
    });
    expect(resumed.payloads).toEqual([3, 4, 5]);
  });

  it("reads a stream from its start when all its ids are below `after` (Redis lost it since)", async () => {
    const warnings: RedisBusWarning[] = [];
    const { bus } = makeBus({ onWarning: (w) => warnings.push(w) });
    for (const i of range(0, 3)) await bus.publish(GUILD, message(i));
    const inbox = recorder();
    await bus.subscribe(GUILD, TOPIC, inbox.handler, { after: "99999999999999-0" });
    await waitFor(() => inbox.payloads.length === 3, {
      description: () => `3 messages; received ${JSON.stringify(inbox.payloads)}`,
    });
    expect(inbox.payloads).toEqual([0, 1, 2]);
    expect(warnings.map((w) => w.kind)).toEqual(["stream-reset"]);
  });

  it("refuses an `after` that is not a position with invalid-argument", async () => {
    const { bus } = makeBus();
    for (const after of ["", "12", "1-2-3", "18446744073709551616-0"]) {
      await expect(
        bus.subscribe(GUILD, TOPIC, () => {}, { after }),
        after,
      ).rejects.toMatchObject({
        code: "invalid-argument",
      });
    }
  });
});

describe("RedisBus trimming", () => {
  /** A bus whose hard cap (`maxLenPerTopic` 10) trimmed its stream past its first entry, `after`. */
  async function trimmedPastFirst(): Promise<{
    bus: RedisBus;
    prefix: string;
    warnings: RedisBusWarning[];
    after: string;
  }> {
    const warnings: RedisBusWarning[] = [];
    const { bus, prefix } = makeBus({ maxLenPerTopic: 10, onWarning: (w) => warnings.push(w) });
    await bus.publish(GUILD, message("first"));
    const [after] = await streamIds(prefix);
    for (const i of range(0, 300)) await bus.publish(GUILD, message(i));
    return { bus, prefix, warnings, after: after! };
  }

  it("never trims past the position of a declared agent, only what every one has passed", async () => {
    // MINID ~ drops whole stream nodes (100 entries by default): hundreds of entries show it.
    const { bus, prefix } = makeBus({ trimAboveEntries: 50, maxLenPerTopic: 100_000 });
    await bus.claimAgent(GUILD, "fast", { epoch: 1, topics: [TOPIC] });
    await bus.claimAgent(GUILD, "slow", { epoch: 1, topics: [TOPIC] });
    for (const i of range(0, 400)) await bus.publish(GUILD, message(i));
    const ids = await streamIds(prefix);

    const commit = (agent: string, sequence: number, index: number): Promise<unknown> =>
      bus.commitAgent(GUILD, agent, {
        epoch: 1,
        sequence,
        position: { topic: TOPIC, position: ids[index]! },
        messages: [],
      });
    await commit("fast", 1, 390);
    expect(await streamIds(prefix)).toEqual(ids);

    await commit("slow", 1, 250);
    const kept = await streamIds(prefix);
    expect(kept.length).toBeLessThan(ids.length);
    expect(kept).toContain(ids[250]);
    expect(kept.slice(kept.indexOf(ids[250]!))).toEqual(ids.slice(250));

    const warnings: RedisBusWarning[] = [];
    const { bus: resumer } = makeBus({ prefix, onWarning: (w) => warnings.push(w) });
    const slow = recorder();
    await resumer.subscribe(GUILD, TOPIC, slow.handler, { after: ids[250]! });
    await waitFor(() => slow.payloads.length === 149, {
      description: () => `149 messages; received ${slow.payloads.length}`,
    });
    expect(slow.payloads).toEqual(range(251, 400));
    expect(warnings.filter((w) => w.kind === "trimmed-unread")).toEqual([]);
  });

  it("reports entries the hard cap trimmed past `after` with a trimmed-unread warning", async () => {
    const { bus, prefix, warnings, after } = await trimmedPastFirst();
    const held = await streamIds(prefix);
    expect(held).not.toContain(after);

    const inbox = recorder();
    await bus.subscribe(GUILD, TOPIC, inbox.handler, { after });
    const trimmed = warnings.filter((w) => w.kind === "trimmed-unread");
    expect(trimmed).toEqual([
      expect.objectContaining({
        guildId: GUILD,
        topic: TOPIC,
        after,
        key: `${prefix}bus:{${GUILD}}:${TOPIC}`,
      }),
    ]);
    const [warning] = trimmed as Array<TrimmedEntries & { message: string }>;
    expect(held).not.toContain(warning!.lastTrimmed);
    expect(warning!.message).toContain(`guild "${GUILD}"`);
    expect(warning!.message).toContain(after);
    expect(warning!.message).toContain("maxLenPerTopic");
    // What Redis still holds is delivered all the same.
    await waitFor(() => inbox.payloads.length === held.length, {
      description: () => `${held.length} messages; received ${inbox.payloads.length}`,
    });
    expect(inbox.payloads.at(-1)).toBe(299);
  });

  it("calls the subscription's onTrimmed instead of warning", async () => {
    const { bus, warnings, after } = await trimmedPastFirst();
    const reported: TrimmedEntries[] = [];
    await bus.subscribe(GUILD, TOPIC, () => {}, {
      after,
      onTrimmed: (t) => reported.push(t),
    });
    expect(reported).toEqual([
      { guildId: GUILD, topic: TOPIC, after, lastTrimmed: expect.any(String) as string },
    ]);
    expect(warnings.filter((w) => w.kind === "trimmed-unread")).toEqual([]);
  });

  it("reports entries trimmed while its reader was away", async () => {
    const warnings: RedisBusWarning[] = [];
    const { bus, prefix } = makeBus({ onWarning: (w) => warnings.push(w) });
    const inbox = recorder();
    await bus.subscribe(GUILD, TOPIC, inbox.handler);
    await bus.publish(GUILD, message("read"));
    await waitFor(() => inbox.payloads.length === 1, {
      description: "the first message",
    });
    const reader = (await busConnectionFields(admin(), prefix)).find((c) =>
      c["name"]?.startsWith("guildhall-bus-reader:"),
    );
    // One transaction: the reader cannot reconnect before the stream is trimmed.
    const key = `${prefix}bus:{${GUILD}}:${TOPIC}`;
    const transaction = admin().multi().client("KILL", "ID", reader!["id"]!);
    for (const i of range(0, 20)) transaction.xadd(key, "*", "m", JSON.stringify(message(i)));
    await transaction.xtrim(key, "MAXLEN", 5).exec();
    await waitFor(() => inbox.payloads.length === 6, {
      description: () => `6 messages; received ${JSON.stringify(inbox.payloads)}`,
    });
    expect(inbox.payloads).toEqual(["read", 15, 16, 17, 18, 19]);
    expect(warnings.filter((w) => w.kind === "trimmed-unread")).toEqual([
      expect.objectContaining({ after: inbox.positions[0], topic: TOPIC }),
    ]);
  });
});
