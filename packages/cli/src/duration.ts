// Durations as people type them on a command line: `30s`, `1500ms`, `2m`, `1h`; a bare number is
// seconds.
import { CliError, ExitCode } from "./exit-codes.js";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds of a duration such as `30s`, `1500ms`, `2m`, `1h` or `10` (seconds).
 *
 * @throws CliError (usage) naming `flag` when the text is not a positive duration
 */
export function parseDuration(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  const ms = match === null ? NaN : Number(match[1]) * (UNIT_MS[match[2] ?? "s"] ?? NaN);
  if (!Number.isFinite(ms) || ms <= 0 || ms > 2_147_483_647) {
    throw new CliError(
      `${flag} must be a positive duration such as 30s, 1500ms, 2m or 1h, got ${JSON.stringify(text)}`,
      ExitCode.usage,
    );
  }
  return Math.round(ms);
}
