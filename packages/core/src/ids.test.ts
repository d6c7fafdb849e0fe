import { describe, expect, it } from "vitest";
import { GuildhallError } from "./errors.js";
import {
  MESSAGE_ID_LENGTH,
  createMessageIdGenerator,
  defaultMessageIdGenerator,
  isMessageId,
  parseMessageId,
} from "./ids.js";

/** A clock the test moves by hand. */
function manualClock(start: number) {
  let now = start;
  return { now: () => now, set: (ms: number) => (now = ms) };
}

describe("createMessageIdGenerator", () => {
  it("makes fixed-width ids of time, machine and sequence", () => {
    const clock = manualClock(1_700_000_000_123);
    const ids = createMessageIdGenerator({ machineId: 0x1234, now: clock.now });
    const id = ids.next();
    expect(id).toHaveLength(MESSAGE_ID_LENGTH);
    expect(MESSAGE_ID_LENGTH).toBe(26);
    expect(isMessageId(id)).toBe(true);
    expect(parseMessageId(id)).toEqual({
      timeMs: 1_700_000_000_123,
      machineId: ids.machineId,
      sequence: 0,
    });
    expect(ids.machineId).toBe("000004HM"); // 0x1234 = 4·32² + 17·32 + 20
  });

  it("sorts as strings in creation order, across milliseconds and machines", () => {
    const clock = manualClock(1_000);
    const a = createMessageIdGenerator({ machineId: 2 ** 40 - 1, now: clock.now });
    const b = createMessageIdGenerator({ machineId: 0, now: clock.now });
    const made: string[] = [];
    for (let ms = 1_000; ms < 1_000 + 40 * 33; ms += 33) {
      clock.set(ms);
      made.push(a.next(), b.next());
    }
    // Within a millisecond the machines tie-break by machine id; across milliseconds time wins.
    const byTime = [...made].sort();
    expect(byTime.map((id) => parseMessageId(id).timeMs)).toEqual(
      made.map((id) => parseMessageId(id).timeMs).sort((x, y) => x - y),
    );
  });

  it("keeps ids increasing when the clock steps back", () => {
    const clock = manualClock(5_000_000);
    const ids = createMessageIdGenerator({ machineId: "clock-steps-back", now: clock.now });
    const first = ids.next();
    clock.set(4_000_000);
    const second = ids.next();
    const third = ids.next();
    clock.set(5_000_001);
    const fourth = ids.next();
    expect([first, second, third, fourth]).toEqual([first, second, third, fourth].sort());
    expect(new Set([first, second, third, fourth]).size).toBe(4);
    expect(parseMessageId(second).timeMs).toBe(5_000_000);
    expect([first, second, third, fourth].map((id) => parseMessageId(id).sequence)).toEqual([
      0, 1, 2, 3,
    ]);
    expect(parseMessageId(fourth).timeMs).toBe(5_000_001);
  });

  it("shares the sequence between generators of one machine id", () => {
    const clock = manualClock(42);
    const one = createMessageIdGenerator({ machineId: 777, now: clock.now });
    const two = createMessageIdGenerator({ machineId: 777, now: clock.now });
    expect(new Set([one.next(), two.next(), one.next(), two.next()]).size).toBe(4);
  });

  it("hashes string machine ids to a stable 8-character part", () => {
    const a = createMessageIdGenerator({ machineId: "host-a" });
    expect(createMessageIdGenerator({ machineId: "host-a" }).machineId).toBe(a.machineId);
    expect(createMessageIdGenerator({ machineId: "host-b" }).machineId).not.toBe(a.machineId);
    expect(a.machineId).toMatch(/^[0-9A-HJKMNP-TV-Z]{8}$/);
  });

  it("draws one random machine id per process by default", () => {
    const a = createMessageIdGenerator();
    expect(createMessageIdGenerator().machineId).toBe(a.machineId);
    expect(defaultMessageIdGenerator().machineId).toBe(a.machineId);
    expect(defaultMessageIdGenerator()).toBe(defaultMessageIdGenerator());
  });

  it.each([-1, 1.5, 2 ** 40, Number.NaN, ""])("refuses machine id %j", (machineId) => {
    expect(() => createMessageIdGenerator({ machineId })).toThrow(GuildhallError);
  });

  it("refuses a clock outside what ids can hold", () => {
    const ids = createMessageIdGenerator({ machineId: 99, now: () => 2 ** 50 });
    expect(() => ids.next()).toThrow(/check the system clock/);
  });
});

describe("parseMessageId", () => {
  it.each(["", "short", "0".repeat(25), "I".repeat(26), "u".repeat(26)])("refuses %j", (id) => {
    expect(isMessageId(id)).toBe(false);
    expect(() => parseMessageId(id)).toThrow(/is not a Guildhall message id/);
  });
});
