// The MessageBus contract (@guildhall/core's MessageBus) as one vitest suite that every bus runs:
// MemoryBus in this package's tests, RedisBus in @guildhall/bus-redis's. A bus that passes it can
// replace another without its users noticing.
//
// Waiting is by deadline, never by a fixed sleep; "X is not delivered" is shown by publishing a
// sentinel after X on the same path and waiting for the sentinel, since the bus keeps order.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  GuildhallError,
  TIMER_MESSAGE_FORMAT,
  TIMER_SENDER_ID,
  createMessage,
  inboxTopic,
  isDurableBus,
  newTimer,
  timerMessage,
  type AgentTimer,
  type DurableMessageBus,
  type Message,
  type MessageBus,
} from "@guildhall/core";
import type { JsonValue } from "@guildhall/core";
import { waitFor } from "./wait-for.js";

/** A bus made for one test of {@link describeMessageBusContract}, and what undoes it. */
export interface MessageBusUnderTest {
  /** A fresh bus with no subscriptions and no messages. */
  readonly bus: MessageBus;
  /** Closes the bus (it may be closed already) and removes whatever data it kept. */
  readonly teardown: () => Promise<void>;
}

/** How long to wait for a delivery, polling often: an in-memory bus delivers within a turn. */
const DELIVERY = { timeoutMs: 5_000, intervalMs: 2 };
const GUILD = "contract-guild";
const TOPIC = "contract-topic";

/** Collects the messages of a subscription. */
class Inbox {
  readonly messages: Message[] = [];
  readonly handler = (message: Message): void => {
    this.messages.push(message);
  };

  constructor(readonly name = "inbox") {}

  payloads(): JsonValue[] {
    return this.messages.map((message) => message.payload);
  }

  /** Waits until a message with `payload` arrived. */
  async waitFor(payload: JsonValue): Promise<void> {
    const wanted = JSON.stringify(payload);
    await waitFor(
      () => this.messages.some((message) => JSON.stringify(message.payload) === wanted),
      {
        ...DELIVERY,
        description: () =>
          `${this.name} to receive payload ${wanted}; got ${JSON.stringify(this.payloads())}`,
      },
    );
  }

  /** Waits until `count` messages arrived. */
  async waitForCount(count: number): Promise<void> {
    await waitFor(() => this.messages.length >= count, {
      ...DELIVERY,
      description: () => `${this.name} to receive ${count} messages; got ${this.messages.length}`,
    });
  }
}

function message(payload: JsonValue, options: { topic?: string; senderId?: string } = {}): Message {
  return createMessage({
    topic: options.topic ?? TOPIC,
    sender: { id: options.senderId ?? "contract-sender", name: "Contract" },
    payload,
  });
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<GuildhallError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error, `expected a GuildhallError "${code}"`).toBeInstanceOf(GuildhallError);
  expect((error as GuildhallError).code).toBe(code);
  return error as GuildhallError;
}

/**
 * Declares the MessageBus conformance suite (vitest) for one implementation. `makeBus` is called
 * before each test for a fresh, empty bus; its `teardown` after each (also after tests that closed
 * the bus). A bus that also keeps durable agents (`isDurableBus`) runs the agent store's timer
 * cases too.
 *
 * @example
 * ```ts
 * describeMessageBusContract("MemoryBus", () => {
 *   const bus = new MemoryBus();
 *   return Promise.resolve({ bus, teardown: () => bus.close() });
 * });
 * ```
 */
export function describeMessageBusContract(
  name: string,
  makeBus: () => Promise<MessageBusUnderTest>,
): void {
  describe(`MessageBus contract: ${name}`, { timeout: 15_000 }, () => {
    let bus: MessageBus;
    let teardown: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const made = await makeBus();
      bus = made.bus;
      teardown = made.teardown;
    });

    afterEach(async () => {
      await teardown?.();
      teardown = undefined;
    });

    it("delivers a topic's messages in publish order, as published", async () => {
      const inbox = new Inbox();
      await bus.subscribe(GUILD, TOPIC, inbox.handler);
      const sent = range(100).map((i) => message(i));
      for (const m of sent) await bus.publish(GUILD, m);
      await inbox.waitForCount(100);
      expect(inbox.payloads()).toEqual(range(100));
      expect(inbox.messages[0]).toEqual(sent[0]);
      expect(inbox.messages[0]).not.toBe(sent[0]);
    });

    it("delivers what is published after subscribe resolved, not before", async () => {
      await bus.publish(GUILD, message("before"));
      const inbox = new Inbox();
      await bus.subscribe(GUILD, TOPIC, inbox.handler);
      await bus.publish(GUILD, message("after"));
      await inbox.waitFor("after");
      expect(inbox.payloads()).toEqual(["after"]);
    });

    it("fans every message out to every subscription of the topic", async () => {
      const inboxes = [new Inbox("first"), new Inbox("second"), new Inbox("third")];
      for (const inbox of inboxes) await bus.subscribe(GUILD, TOPIC, inbox.handler);
      for (const i of range(20)) await bus.publish(GUILD, message(i));
      for (const inbox of inboxes) {
        await inbox.waitForCount(20);
        expect(inbox.payloads()).toEqual(range(20));
      }
    });

    it("stops delivery on unsubscribe, which is idempotent", async () => {
      const leaving = new Inbox("leaving");
      const staying = new Inbox("staying");
      const subscription = await bus.subscribe(GUILD, TOPIC, leaving.handler);
      await bus.subscribe(GUILD, TOPIC, staying.handler);
      expect(subscription.guildId).toBe(GUILD);
      expect(subscription.topic).toBe(TOPIC);
      await bus.publish(GUILD, message("first"));
      await leaving.waitFor("first");
      await subscription.unsubscribe();
      await subscription.unsubscribe();
      await bus.publish(GUILD, message("second"));
      await bus.publish(GUILD, message("sentinel"));
      await staying.waitFor("sentinel");
      expect(staying.payloads()).toEqual(["first", "second", "sentinel"]);
      expect(leaving.payloads()).toEqual(["first"]);
    });

    it("skips the messages of excludeSender, so a participant never gets its own", async () => {
      const own = new Inbox("excluding");
      const all = new Inbox("everyone");
      await bus.subscribe(GUILD, TOPIC, own.handler, { excludeSender: "agent-a" });
      await bus.subscribe(GUILD, TOPIC, all.handler);
      await bus.publish(GUILD, message("from-a", { senderId: "agent-a" }));
      await bus.publish(GUILD, message("from-b", { senderId: "agent-b" }));
      await own.waitFor("from-b");
      await all.waitFor("from-b");
      expect(own.payloads()).toEqual(["from-b"]);
      expect(all.payloads()).toEqual(["from-a", "from-b"]);
    });

    it("keeps guilds apart, whatever their topics are called", async () => {
      const topic = "inbox:agent-1";
      const inGuildA = new Inbox("guild-a");
      const inGuildB = new Inbox("guild-b");
      await bus.subscribe("guild-a", topic, inGuildA.handler);
      await bus.subscribe("guild-b", topic, inGuildB.handler);
      await bus.publish("guild-b", message("for-b", { topic }));
      await bus.publish("guild-a", message("for-a", { topic }));
      await bus.publish("guild-b", message("sentinel-b", { topic }));
      await inGuildA.waitFor("for-a");
      await inGuildB.waitFor("sentinel-b");
      expect(inGuildA.payloads()).toEqual(["for-a"]);
      expect(inGuildB.payloads()).toEqual(["for-b", "sentinel-b"]);
    });

    it("keeps topics apart, also topics whose names share a prefix", async () => {
      const inbox = new Inbox("news");
      await bus.subscribe(GUILD, "news", inbox.handler);
      await bus.publish(GUILD, message("other", { topic: "news:extra" }));
      await bus.publish(GUILD, message("other", { topic: "new" }));
      await bus.publish(GUILD, message("other", { topic: "News" }));
      await bus.publish(GUILD, message("sentinel", { topic: "news" }));
      await inbox.waitFor("sentinel");
      expect(inbox.payloads()).toEqual(["sentinel"]);
      expect(inbox.messages[0]?.topic).toBe("news");
    });

    it("calls a handler for one message at a time", async () => {
      let running = 0;
      let mostRunning = 0;
      const seen: JsonValue[] = [];
      await bus.subscribe(GUILD, TOPIC, async (m) => {
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        // Work that spans turns of the event loop, so overlapping calls would show.
        await new Promise((resolve) => setTimeout(resolve, 1));
        await Promise.resolve();
        seen.push(m.payload);
        running -= 1;
      });
      for (const i of range(20)) await bus.publish(GUILD, message(i));
      await waitFor(() => seen.length >= 20, {
        ...DELIVERY,
        description: () => `20 handled messages; got ${seen.length}`,
      });
      expect(mostRunning).toBe(1);
      expect(seen).toEqual(range(20));
    });

    it("goes on delivering after a handler throws or rejects, and reports to onError", async () => {
      const errors: Array<{ error: unknown; payload: JsonValue }> = [];
      const handled: JsonValue[] = [];
      await bus.subscribe(
        GUILD,
        TOPIC,
        async (m) => {
          if (m.payload === "throw") throw new Error("thrown by the handler");
          if (m.payload === "reject") return Promise.reject(new Error("rejected by the handler"));
          handled.push(m.payload);
        },
        { onError: (error, m) => errors.push({ error, payload: m.payload }) },
      );
      for (const payload of ["throw", "reject", "fine"]) await bus.publish(GUILD, message(payload));
      await waitFor(() => handled.includes("fine") && errors.length >= 2, {
        ...DELIVERY,
        description: () =>
          `"fine" handled and 2 errors; handled ${JSON.stringify(handled)}, ${errors.length} errors`,
      });
      expect(handled).toEqual(["fine"]);
      expect(errors.map((e) => e.payload)).toEqual(["throw", "reject"]);
      expect((errors[0]?.error as Error).message).toBe("thrown by the handler");
    });

    it("lets a slow handler hold up only its own subscription", async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow: JsonValue[] = [];
      const fast = new Inbox("fast");
      await bus.subscribe(GUILD, TOPIC, async (m) => {
        await gate;
        slow.push(m.payload);
      });
      await bus.subscribe(GUILD, TOPIC, fast.handler);
      for (const i of range(5)) await bus.publish(GUILD, message(i));
      await fast.waitForCount(5);
      expect(fast.payloads()).toEqual(range(5));
      expect(slow).toEqual([]);
      release();
      await waitFor(() => slow.length >= 5, {
        ...DELIVERY,
        description: () => `5 messages to the slow handler; it got ${JSON.stringify(slow)}`,
      });
      expect(slow).toEqual(range(5));
    });

    it("refuses malformed input with invalid-argument", async () => {
      await expectCode(bus.publish("not a guild id!", message("x")), "invalid-argument");
      const noSender = { ...message("x"), sender: undefined } as unknown as Message;
      await expectCode(bus.publish(GUILD, noSender), "invalid-argument");
      await expectCode(
        bus.subscribe(GUILD, "", () => {}),
        "invalid-argument",
      );
      await expectCode(
        bus.subscribe("", TOPIC, () => {}),
        "invalid-argument",
      );
    });

    it("refuses a message over 1 MiB of JSON, naming its size and the limit", async () => {
      const inbox = new Inbox();
      await bus.subscribe(GUILD, TOPIC, inbox.handler);
      const big = message("x".repeat(1_100_000));
      const size = Buffer.byteLength(JSON.stringify(big));
      const error = await expectCode(bus.publish(GUILD, big), "invalid-argument");
      expect(error.message).toContain(String(size));
      expect(error.message).toContain("1048576");
      await bus.publish(GUILD, message("x".repeat(1_000_000)));
      await inbox.waitForCount(1);
    });

    it("refuses use once closed, with unavailable; close is idempotent", async () => {
      const inbox = new Inbox();
      const subscription = await bus.subscribe(GUILD, TOPIC, inbox.handler);
      await bus.publish(GUILD, message("before-close"));
      await inbox.waitFor("before-close");
      await bus.close();
      await bus.close();
      await expectCode(bus.publish(GUILD, message("after-close")), "unavailable");
      await expectCode(
        bus.subscribe(GUILD, TOPIC, () => {}),
        "unavailable",
      );
      await subscription.unsubscribe();
      expect(inbox.payloads()).toEqual(["before-close"]);
    });

    describe("durable timers (AgentStore)", () => {
      const AGENT = "contract-agent";
      const INBOX = inboxTopic(AGENT);
      let store: DurableMessageBus;

      beforeEach(({ skip }) => {
        if (!isDurableBus(bus)) skip();
        store = bus as DurableMessageBus;
      });

      const timer = (delayMs: number, payload: JsonValue): AgentTimer =>
        newTimer(AGENT, delayMs, payload);
      const fire = (epoch: number, t: AgentTimer) =>
        store.fireTimer(GUILD, AGENT, { epoch, message: timerMessage(AGENT, t) });
      const commitTimers = (
        epoch: number,
        sequence: number,
        schedule: AgentTimer[],
        cancel: string[] = [],
      ) =>
        store.commitAgent(GUILD, AGENT, {
          epoch,
          sequence,
          messages: [],
          timers: { schedule, cancel },
        });

      it("stores a commit's timers and returns them soonest first from claim and read", async () => {
        await store.claimAgent(GUILD, AGENT, { epoch: 1, topics: [INBOX] });
        const later = timer(60_000, { n: "later" });
        const sooner = timer(1_000, { n: "sooner" });
        const cancelled = timer(5_000, "cancelled");
        expect(await commitTimers(1, 1, [later, sooner, cancelled])).toBe("committed");
        expect(await commitTimers(1, 2, [], [cancelled.id, "no-such-timer"])).toBe("committed");
        expect((await store.readAgent(GUILD, AGENT))?.timers).toEqual([sooner, later]);
        const claimed = await store.claimAgent(GUILD, AGENT, { epoch: 2, topics: [INBOX] });
        expect(claimed.timers).toEqual([sooner, later]);
        expect(claimed.commits).toBe(2);
      });

      it("fires a timer once: its message on the agent's inbox, then gone", async () => {
        await store.claimAgent(GUILD, AGENT, { epoch: 1, topics: [INBOX] });
        const inbox = new Inbox("the agent's inbox");
        await bus.subscribe(GUILD, INBOX, inbox.handler);
        const due = timer(0, { wake: "up" });
        await commitTimers(1, 1, [due]);
        expect(await fire(1, due)).toBe("fired");
        expect(await fire(1, due)).toBe("gone");
        await bus.publish(GUILD, message("sentinel", { topic: INBOX }));
        await inbox.waitFor("sentinel");
        expect(inbox.payloads()).toEqual([{ wake: "up" }, "sentinel"]);
        expect(inbox.messages[0]).toMatchObject({
          id: due.id,
          topic: INBOX,
          sender: { id: TIMER_SENDER_ID },
          format: TIMER_MESSAGE_FORMAT,
        });
        expect((await store.readAgent(GUILD, AGENT))?.timers).toEqual([]);
      });

      it("does not set a fired timer again on a duplicate commit, nor any on a fenced one", async () => {
        await store.claimAgent(GUILD, AGENT, { epoch: 1, topics: [INBOX] });
        const once = timer(0, "once");
        expect(await commitTimers(1, 1, [once])).toBe("committed");
        expect(await fire(1, once)).toBe("fired");
        expect(await commitTimers(1, 1, [once]), "a retry after a lost answer").toBe("duplicate");
        expect((await store.readAgent(GUILD, AGENT))?.timers).toEqual([]);
        expect(await fire(1, once)).toBe("gone");

        await store.claimAgent(GUILD, AGENT, { epoch: 2, topics: [INBOX] });
        expect(await commitTimers(1, 2, [timer(0, "stale")])).toBe("fenced");
        expect((await store.readAgent(GUILD, AGENT))?.timers).toEqual([]);
      });

      it("fences fires of an older placement or a deleted agent; unknown for an agent it never had", async () => {
        await store.claimAgent(GUILD, AGENT, { epoch: 1, topics: [INBOX] });
        const first = timer(0, "first");
        const second = timer(0, "second");
        await commitTimers(1, 1, [first, second]);
        await store.claimAgent(GUILD, AGENT, { epoch: 2, topics: [INBOX] });
        expect(await fire(1, first)).toBe("fenced");
        expect((await store.readAgent(GUILD, AGENT))?.timers).toEqual([first, second]);
        expect(await fire(2, first)).toBe("fired");

        await store.deleteAgent(GUILD, AGENT);
        expect(await fire(2, second)).toBe("fenced");
        const fresh = await store.claimAgent(GUILD, AGENT, { epoch: 3, topics: [INBOX] });
        expect(fresh.timers, "a deleted agent's timers are gone").toEqual([]);
        expect(await fire(3, second)).toBe("gone");

        const stranger = newTimer("stranger", 0, "x");
        expect(
          await store.fireTimer(GUILD, "stranger", {
            epoch: 1,
            message: timerMessage("stranger", stranger),
          }),
        ).toBe("unknown");
      });

      it("refuses a timer message that is not on the agent's inbox", async () => {
        await store.claimAgent(GUILD, AGENT, { epoch: 1, topics: [INBOX] });
        const t = timer(0, "misaddressed");
        await commitTimers(1, 1, [t]);
        const elsewhere = { ...timerMessage(AGENT, t), topic: TOPIC };
        await expectCode(
          store.fireTimer(GUILD, AGENT, { epoch: 1, message: elsewhere }),
          "invalid-argument",
        );
        expect((await store.readAgent(GUILD, AGENT))?.timers).toEqual([t]);
      });
    });
  });
}
