import { afterEach, describe, expect, it, vi } from "vitest";
import type { AgentLogger } from "./agent.js";
import type { FireTimer } from "./agent-store.js";
import { AgentTimers, type AgentTimersOptions } from "./agent-timers.js";
import { GuildhallError } from "./errors.js";
import { MemoryBus } from "./memory-bus.js";
import { inboxTopic, type JsonValue } from "./message.js";
import { newTimer, type AgentTimer, type FireTimerResult } from "./timers.js";

const quiet: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };
const INBOX = inboxTopic("a");

const open: AgentTimers[] = [];
afterEach(() => {
  for (const timers of open.splice(0)) timers.close();
  vi.useRealTimers();
});

/** A bus with agent "a" claimed under `epoch`, the timers committed, and its inbox recorded. */
async function agentWith(timers: AgentTimer[], epoch = 1) {
  const bus = new MemoryBus();
  await bus.claimAgent("g", "a", { epoch, topics: [INBOX] });
  await bus.commitAgent("g", "a", {
    epoch,
    sequence: 1,
    messages: [],
    timers: { schedule: timers, cancel: [] },
  });
  const received: JsonValue[] = [];
  await bus.subscribe("g", INBOX, (m) => void received.push(m.payload));
  return { bus, received };
}

function start(
  options: Partial<AgentTimersOptions> & Pick<AgentTimersOptions, "store" | "timers">,
): AgentTimers {
  const timers = new AgentTimers({
    guildId: "g",
    agentId: "a",
    epoch: 1,
    log: quiet,
    retryDelayMs: 1,
    ...options,
  });
  open.push(timers);
  return timers;
}

describe("AgentTimers", () => {
  it("fires due timers soonest first onto the agent's inbox, once each, and forgets them", async () => {
    const late = newTimer("a", 40, "late");
    const now = newTimer("a", 0, "now");
    const soon = newTimer("a", 20, "soon");
    const { bus, received } = await agentWith([late, now, soon]);
    const fired: string[] = [];
    const timers = start({
      store: bus,
      timers: [late, now, soon],
      onFired: (t) => fired.push(t.id),
    });
    expect(timers.size).toBe(3);
    expect(timers.nextDueAt).toBe(now.dueAt);
    await expect.poll(() => received).toEqual(["now", "soon", "late"]);
    expect(fired).toEqual([now.id, soon.id, late.id]);
    expect(timers.size).toBe(0);
    expect(timers.nextDueAt).toBeUndefined();
    expect((await bus.readAgent("g", "a"))?.timers).toEqual([]);
  });

  it("never fires a timer cancelled before it was due, and re-arms for a sooner one", async () => {
    const cancelled = newTimer("a", 30, "cancelled");
    const { bus, received } = await agentWith([cancelled]);
    const timers = start({ store: bus, timers: [cancelled] });
    const sooner = newTimer("a", 0, "sooner");
    const after = newTimer("a", 60, "after the cancelled one");
    // As the runtime applies a commit that landed: the store holds the same changes.
    const changes = { schedule: [after, sooner], cancel: [cancelled.id] };
    await bus.commitAgent("g", "a", { epoch: 1, sequence: 2, messages: [], timers: changes });
    timers.apply(changes);
    expect(timers.nextDueAt).toBe(sooner.dueAt);
    await expect.poll(() => received).toEqual(["sooner", "after the cancelled one"]);
  });

  it("stops once a newer placement claimed the agent, and resumes after a reset", async () => {
    const due = newTimer("a", 0, "due");
    const { bus, received } = await agentWith([due]);
    const { timers: claimed } = await bus.claimAgent("g", "a", { epoch: 2, topics: [INBOX] });
    let fenced = 0;
    const timers = start({ store: bus, timers: [due], onFenced: () => (fenced += 1) });
    await expect.poll(() => fenced).toBe(1);
    expect(received).toEqual([]);
    expect((await bus.readAgent("g", "a"))?.timers, "the newer placement fires it").toEqual([due]);
    timers.reset(claimed, 2);
    await expect.poll(() => received).toEqual(["due"]);
  });

  it("asks again, with backoff, while the store cannot be reached; one fire in flight at a time", async () => {
    const first = newTimer("a", 0, "first");
    const second = newTimer("a", 0, "second");
    const { bus, received } = await agentWith([first, second]);
    let calls = 0;
    let inFlight = 0;
    let most = 0;
    const store = Object.create(bus) as MemoryBus;
    store.fireTimer = async (guildId: string, agentId: string, fire: FireTimer) => {
      calls += 1;
      inFlight += 1;
      most = Math.max(most, inFlight);
      try {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (calls <= 3) throw new GuildhallError("unavailable", "the store is unreachable");
        return await bus.fireTimer(guildId, agentId, fire);
      } finally {
        inFlight -= 1;
      }
    };
    const timers = start({ store, timers: [first, second] });
    timers.apply({ schedule: [newTimer("a", 0, "not in the store")], cancel: [] });
    await expect.poll(() => received).toEqual(["first", "second"]);
    await expect.poll(() => timers.size).toBe(0);
    expect(calls).toBe(6);
    expect(most).toBe(1);
  });

  it("drops a timer whose message the store refuses, and forgets one of an agent it lost", async () => {
    const refused = newTimer("a", 0, "x".repeat(300));
    const lost = newTimer("a", 0, "lost");
    const bus = new MemoryBus({ maxMessageBytes: 200 });
    const answers: FireTimerResult[] = [];
    const store = Object.create(bus) as MemoryBus;
    store.fireTimer = async (guildId: string, agentId: string, fire: FireTimer) => {
      const answer = await bus.fireTimer(guildId, agentId, fire);
      answers.push(answer);
      return answer;
    };
    const timers = start({ store, timers: [refused, lost] });
    await expect.poll(() => timers.size).toBe(0);
    expect(answers, "the refused one got no answer; the lost agent is unknown").toEqual([
      "unknown",
    ]);
  });

  it("fires nothing once closed, and close is idempotent", async () => {
    const closed = newTimer("a", 10, "closed");
    const witness = newTimer("a", 30, "witness");
    const { bus, received } = await agentWith([closed, witness]);
    const first = start({ store: bus, timers: [closed] });
    first.close();
    first.close();
    first.apply({ schedule: [newTimer("a", 0, "after close")], cancel: [] });
    expect(first.size).toBe(0);
    start({ store: bus, timers: [witness] });
    await expect.poll(() => received).toEqual(["witness"]);
  });

  it("waits out delays longer than setTimeout takes, in steps", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const days = 24 * 60 * 60 * 1000;
    const far = newTimer("a", 40 * days, "far");
    const { bus, received } = await agentWith([far]);
    start({ store: bus, timers: [far] });
    await vi.advanceTimersByTimeAsync(25 * days);
    expect(received, "not fired at setTimeout's overflow").toEqual([]);
    await vi.advanceTimersByTimeAsync(15 * days - 1);
    expect(received).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(received).toEqual(["far"]));
  });
});
