// Checks the functions that validate options share, so a bad number or certificate reads the same
// whichever package refuses it. Each names the value as the caller says (`what`) and throws
// `invalid-argument`.
import { GuildhallError } from "./errors.js";

/** The whole numbers {@link checkWholeNumber} accepts. */
export interface WholeNumberRange {
  /** The smallest accepted. */
  readonly min: number;
  /** The largest accepted. */
  readonly max: number;
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
 *   to <max>, got <value>"
 */
export function checkWholeNumber(what: string, value: unknown, range: WholeNumberRange): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < range.min ||
    value > range.max
  ) {
    const unit = range.unit === undefined ? "" : ` of ${range.unit}`;
    throw new GuildhallError(
      "invalid-argument",
      `${what} must be a whole number${unit} from ${range.min} to ${range.max}, got ${shown(value)}`,
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
