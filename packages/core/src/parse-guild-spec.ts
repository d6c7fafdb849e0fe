// Reads a guild file. YAML is what people write; JSON is what programs write. Both end in the same
// validation, so a bad field reads the same whichever the source.
import { GuildhallError, errorMessage } from "./errors.js";
import { loadYaml } from "./lazy-module.js";
import type { GuildSpec } from "./spec.js";
import { validateGuildSpec } from "./validation.js";

/** Options of {@link parseGuildSpec}. */
export interface ParseGuildSpecOptions {
  /** Named first in error messages, e.g. the file name. Default: none. */
  source?: string;
  /**
   * The text's syntax. Default `"auto"`: JSON when the text starts with `{` and parses as JSON,
   * YAML otherwise (YAML flow mappings that start with `{` still work).
   */
  format?: "auto" | "yaml" | "json";
}

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return { line, column: position - before.lastIndexOf("\n") };
}

function parseJson(text: string, prefix: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = errorMessage(error);
    const at = /at position (\d+)/.exec(reason);
    const where =
      at === null
        ? ""
        : (({ line, column }) => ` at line ${line}, column ${column}`)(
            lineAndColumn(text, Number(at[1])),
          );
    const detail = reason.replace(/\s*\(line \d+ column \d+\)/, "").replace(/ at position \d+/, "");
    throw new GuildhallError(
      "invalid-argument",
      `${prefix}cannot parse the guild spec as JSON${where}: ${detail}. Fix the syntax, or write it as YAML`,
      { cause: error },
    );
  }
}

function readYaml(
  text: string,
): { ok: true; value: unknown } | { ok: false; error: GuildhallError } {
  const document = loadYaml().parseDocument(text, { prettyErrors: true });
  const [first] = document.errors;
  if (first === undefined) {
    try {
      return { ok: true, value: document.toJS({ maxAliasCount: 100 }) };
    } catch (error) {
      // toJS refuses documents whose aliases expand beyond reason (a "billion laughs" file).
      const reason = errorMessage(error);
      const refused = new GuildhallError(
        "invalid-argument",
        `cannot read the guild spec as YAML: ${reason}; write the repeated parts out instead of using so many aliases`,
        { cause: error },
      );
      return { ok: false, error: refused };
    }
  }
  const more = document.errors.length > 1 ? ` (and ${document.errors.length - 1} more)` : "";
  const error = new GuildhallError(
    "invalid-argument",
    `cannot parse the guild spec as YAML${more}: ${first.message.trimEnd()}`,
    { cause: first },
  );
  return { ok: false, error };
}

function parseYaml(text: string, prefix: string): unknown {
  const result = readYaml(text);
  if (result.ok) return result.value;
  throw new GuildhallError("invalid-argument", prefix + result.error.message, {
    cause: result.error.cause,
  });
}

/**
 * Reads a guild spec from the text of a guild file, YAML or JSON, and validates it.
 *
 * @throws GuildhallError `invalid-argument` when the text does not parse (naming the line and
 * column) or the spec is invalid (naming the path of each bad field, e.g. `agents[1].id`).
 *
 * @example
 * ```ts
 * const guild = parseGuildSpec(await readFile("guild.yaml", "utf8"), { source: "guild.yaml" });
 * ```
 */
export function parseGuildSpec(text: string, options: ParseGuildSpecOptions = {}): GuildSpec {
  const prefix = options.source === undefined ? "" : `${options.source}: `;
  const format = options.format ?? "auto";
  let value: unknown;
  if (format === "json") {
    value = parseJson(text, prefix);
  } else if (format === "yaml") {
    value = parseYaml(text, prefix);
  } else if (/^\s*\{/.test(text)) {
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      // When neither parses, the JSON error is the one that matches what the author meant.
      const yaml = readYaml(text);
      value = yaml.ok ? yaml.value : parseJson(text, prefix);
    }
  } else {
    value = parseYaml(text, prefix);
  }
  if (value === null || value === undefined) {
    throw new GuildhallError(
      "invalid-argument",
      `${prefix}the guild spec is empty: write a mapping with at least id, name and agents`,
    );
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new GuildhallError(
      "invalid-argument",
      `${prefix}the guild spec must be a mapping (with id, name and agents), not ${Array.isArray(value) ? "a list" : `a ${typeof value}`}`,
    );
  }
  return validateGuildSpec(value, options.source === undefined ? {} : { source: options.source });
}
