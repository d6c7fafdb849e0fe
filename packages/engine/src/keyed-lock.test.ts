import { describe, expect, it } from "vitest";
import { KeyedLock } from "./keyed-lock.js";

describe("KeyedLock", () => {
  it("runs tasks of one key one after another, in arrival order, and others alongside", async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    let releaseFirst!: () => void;
    const first = lock.run("a", async () => {
      order.push("a1 start");
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      order.push("a1 end");
    });
    const second = lock.run("a", async () => void order.push("a2"));
    const other = lock.run("b", async () => void order.push("b1"));
    await other;
    expect(lock.isLocked("a")).toBe(true);
    expect(order).toEqual(["a1 start", "b1"]);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(["a1 start", "b1", "a1 end", "a2"]);
    expect(lock.isLocked("a")).toBe(false);
    expect(lock.isLocked("b")).toBe(false);
  });

  it("releases the key when a task fails", async () => {
    const lock = new KeyedLock();
    await expect(lock.run("a", () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    await expect(lock.run("a", async () => 42)).resolves.toBe(42);
    expect(lock.isLocked("a")).toBe(false);
  });
});
