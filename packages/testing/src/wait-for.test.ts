import { describe, expect, it } from "vitest";
import { waitFor } from "./wait-for.js";

describe("waitFor", () => {
  it("resolves with the first result that is neither undefined nor false", async () => {
    let calls = 0;
    const results = [undefined, false, 0, 1] as const;
    const found = await waitFor(() => results[calls++], { intervalMs: 1 });
    expect(found).toBe(0);
    expect(calls).toBe(3);
  });

  it("calls a check again after it threw, and awaits async checks", async () => {
    let calls = 0;
    const found = await waitFor(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error("not yet");
        return "ready";
      },
      { intervalMs: 1 },
    );
    expect(found).toBe("ready");
    expect(calls).toBe(3);
  });

  it("fails at the deadline naming what was awaited", async () => {
    const started = Date.now();
    await expect(
      waitFor(() => false, { description: "the door to open", timeoutMs: 50, intervalMs: 5 }),
    ).rejects.toThrow("timed out after 50 ms waiting for the door to open");
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it("reports the check's last error, as the message and as the cause", async () => {
    let calls = 0;
    const failure = new Error("still closed");
    const error: unknown = await waitFor(
      () => {
        calls += 1;
        throw calls === 1 ? new Error("first") : failure;
      },
      { description: "the door to open", timeoutMs: 30, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      "timed out after 30 ms waiting for the door to open; the check last threw: still closed",
    );
    expect((error as Error).cause).toBe(failure);
  });

  it("calls a description function at the deadline, to tell what was seen by then", async () => {
    let checks = 0;
    const error: unknown = await waitFor(() => (checks += 1) < 0, {
      description: () => `the door to open; checked ${checks} times`,
      timeoutMs: 30,
      intervalMs: 1,
    }).catch((e: unknown) => e);
    expect(checks).toBeGreaterThan(1);
    expect((error as Error).message).toBe(
      `timed out after 30 ms waiting for the door to open; checked ${checks} times`,
    );
  });
});
