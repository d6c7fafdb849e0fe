import { describe, expect, it } from "vitest";
import type { ErrorCode } from "@guildhall/core";
import { DEFAULT_RETRY, backoffDelayMs, placementAction, stopAction } from "./retry-policy.js";

describe("placementAction", () => {
  it("moves a full host's agent to the next host at once", () => {
    expect(placementAction("resource-exhausted")).toBe("next-host");
  });

  it("retries an unavailable host's agent elsewhere, after a backoff", () => {
    expect(placementAction("unavailable")).toBe("retry-elsewhere");
  });

  it("never retries what every host would refuse", () => {
    const final: ErrorCode[] = [
      "invalid-argument",
      "permission-denied",
      "already-exists",
      "unauthenticated",
      "failed-precondition",
      "deadline-exceeded",
      "aborted",
      "internal",
      "not-found",
    ];
    for (const code of final) expect(placementAction(code), code).toBe("fail");
  });
});

describe("stopAction", () => {
  it("counts an agent the host does not know as stopped", () => {
    expect(stopAction("not-found")).toBe("done");
  });

  it("retries an unreachable host and fails on a refusal", () => {
    expect(stopAction("unavailable")).toBe("retry");
    expect(stopAction("unauthenticated")).toBe("fail");
    expect(stopAction("internal")).toBe("fail");
  });
});

describe("backoffDelayMs", () => {
  const options = { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 1_000 };

  it("doubles from the initial delay up to the cap", () => {
    const ceilings = [0, 1, 2, 3, 4, 5].map((retry) => backoffDelayMs(retry, options, 1));
    expect(ceilings).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("waits at least half the ceiling, the rest by jitter", () => {
    expect(backoffDelayMs(0, options, 0)).toBe(50);
    expect(backoffDelayMs(2, options, 0)).toBe(200);
    expect(backoffDelayMs(2, options, 0.5)).toBe(300);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelayMs(3, options);
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });

  it("tolerates out-of-range input", () => {
    expect(backoffDelayMs(-3, options, 1)).toBe(100);
    expect(backoffDelayMs(10_000, options, 1)).toBe(1_000);
    expect(backoffDelayMs(1, options, 7)).toBe(200);
  });

  it("has documented defaults", () => {
    expect(DEFAULT_RETRY).toEqual({ maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 2_000 });
  });
});
