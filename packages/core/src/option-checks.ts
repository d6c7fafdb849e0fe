// Checks the functions that validate options and arguments share, so a bad id, number or
// certificate reads the same whichever package refuses it. Each names the value as the caller says
// (`what`) and throws `invalid-argument`.
import { GuildhallError } from "./errors.js";
import { ID_PATTERN, ID_RULE } from "./spec.js";

/** The whole numbers {@link checkWholeNumber} accepts. */
export interface WholeNumberRange {
  /** The smallest accepted. */
  readonly min: number;
  /** The largest accepted. Default: none but what a double holds exactly (a count, a size). */
  readonly max?: number;
  /** What the number counts, for the message, e.g. `"milliseconds"`. Default: nothing said. */
  readonly unit?: string;
}

function shown(value: unknown): string {
  return typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value));
}

/**
 * `value`, if it is a whole number from `range.min` to `range.max`.
 *
 * @param what names the value, e.g. `"createAgentHost: option port"`
 * @throws GuildhallError `invalid-argument`: "<what> must be a whole number [of <unit>] from <min>
 *   to <max>, got <value>" ("... <min> or more, ..." without a `max`)
 */
export function checkWholeNumber(what: string, value: unknown, range: WholeNumberRange): number {
  const { min, max } = range;
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < min ||
    (max !== undefined && value > max)
  ) {
    const unit = range.unit === undefined ? "" : ` of ${range.unit}`;
    // Without a max the bound is an implementation limit, not one worth telling a reader.
    const bounds = max === undefined ? `${min} or more` : `from ${min} to ${max}`;
    throw new GuildhallError(
      "invalid-argument",
      `${what} must be a whole number${unit} ${bounds}, got ${shown(value)}`,
    );
  }
  return value;
}

/**
 * `value`, if it is PEM text (a non-blank string) or a Buffer.
 *
 * @param what names the value, e.g. `"createAgentHost: option tls.cert"`
 * @throws GuildhallError `invalid-argument`: "<what> must be PEM text or a Buffer (read the file
 *   first)"
 */
export function checkPem(what: string, value: unknown): string | Buffer {
  if ((typeof value === "string" && value.trim() !== "") || Buffer.isBuffer(value)) return value;
  throw new GuildhallError(
    "invalid-argument",
    `${what} must be PEM text or a Buffer (read the file first)`,
  );
}

/**
 * `value`, if it is a guild or agent id (it matches `ID_PATTERN`).
 *
 * @param what names the value, e.g. `"guild id"` or `"moveAgent: agent id"`
 * @throws GuildhallError `invalid-argument`: "<what> <value> is invalid: it must match <pattern>
 *   (letters, digits, '.', '_', '-'; at most 128)"
 */
export function checkId(what: string, value: unknown): string {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new GuildhallError(
      "invalid-argument",
      `${what} ${shown(value)} is invalid: it ${ID_RULE}`,
    );
  }
  return value;
}
