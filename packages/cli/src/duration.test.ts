import { describe, expect, it } from "vitest";
import { parseDuration } from "./duration.js";
import { CliError, ExitCode } from "./exit-codes.js";

describe("parseDuration", () => {
  it("reads milliseconds, seconds, minutes, hours, and bare numbers as seconds", () => {
    expect(["1500ms", "30s", "2m", "1h", "10", "0.5s"].map((t) => parseDuration(t, "--x"))).toEqual(
      [1_500, 30_000, 120_000, 3_600_000, 10_000, 500],
    );
  });

  it("refuses what is not a positive duration, naming the flag (usage)", () => {
    for (const text of ["", "soon", "0s", "-1s", "5 days", "1e3"]) {
      let error: unknown;
      try {
        parseDuration(text, "--timeout");
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(ExitCode.usage);
      expect((error as CliError).message).toContain("--timeout must be a positive duration");
    }
  });
});
