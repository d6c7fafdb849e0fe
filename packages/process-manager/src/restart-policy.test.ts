import { describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  decideRestart,
  DEFAULT_RESTART_POLICY,
  isFailure,
  resolveRestartPolicy,
} from "./restart-policy.js";

describe("restart policy", () => {
  it("fills defaults from the manager's default policy", () => {
    expect(resolveRestartPolicy(undefined)).toEqual(DEFAULT_RESTART_POLICY);
    expect(resolveRestartPolicy({ mode: "always" })).toEqual({
      mode: "always",
      maxRestarts: 5,
      backoffMs: 500,
    });
  });

  it("doubles the backoff per attempt and caps it", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(100, attempt, 1_000))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
    expect(backoffDelayMs(500, 5_000, 30_000)).toBe(30_000);
  });

  it("restarts by mode and stops when the series is exhausted", () => {
    const always = { mode: "always", maxRestarts: 2, backoffMs: 10 } as const;
    const onFailure = { ...always, mode: "on-failure" } as const;
    const never = { ...always, mode: "never" } as const;
    expect(decideRestart(always, false, 0, 1_000)).toEqual({
      restart: true,
      attempt: 1,
      delayMs: 10,
    });
    expect(decideRestart(always, true, 1, 1_000)).toEqual({
      restart: true,
      attempt: 2,
      delayMs: 20,
    });
    expect(decideRestart(always, true, 2, 1_000)).toEqual({ restart: false, reason: "exhausted" });
    expect(decideRestart(onFailure, false, 0, 1_000)).toEqual({ restart: false, reason: "policy" });
    expect(decideRestart(onFailure, true, 0, 1_000)).toMatchObject({ restart: true });
    expect(decideRestart(never, true, 0, 1_000)).toEqual({ restart: false, reason: "policy" });
  });

  it("counts signals and non-zero codes as failures", () => {
    expect(isFailure({ exitCode: 0, signal: null })).toBe(false);
    expect(isFailure({ exitCode: 1, signal: null })).toBe(true);
    expect(isFailure({ exitCode: null, signal: "SIGKILL" })).toBe(true);
  });
});
