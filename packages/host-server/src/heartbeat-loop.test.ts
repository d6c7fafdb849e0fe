import { describe, expect, it } from "vitest";
import { HEARTBEAT_RETRY_MS, nextBeatDelayMs } from "./heartbeat-loop.js";

describe("nextBeatDelayMs", () => {
  it("waits the interval while beats succeed", () => {
    expect(nextBeatDelayMs(5_000, false)).toBe(5_000);
  });

  it("retries sooner while beats fail, so a returning registry learns of the host at once", () => {
    expect(nextBeatDelayMs(5_000, true)).toBe(HEARTBEAT_RETRY_MS);
    expect(HEARTBEAT_RETRY_MS).toBeLessThan(5_000);
    // An interval shorter than the retry delay is kept.
    expect(nextBeatDelayMs(150, true)).toBe(150);
  });
});
