// Reads a guild file for `dev` and `run`. A className may name its module relative to the guild
// file (`./dist/agents.js#Greeter`), so an example directory works wherever it is checked out; the
// path is made absolute here, before validation, since a spec itself only carries packages,
// absolute paths and file URLs (a relative path would mean something else on every host).
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  parseClassName,
  parseGuildSpec,
  validateGuildSpec,
  type GuildSpec,
  errorMessage,
} from "@guildhall/core";
import { parse } from "yaml";
import { CliError, ExitCode } from "./exit-codes.js";

/** A guild file, read and validated. */
export interface GuildFile {
  /** The guild, with module paths made absolute. */
  readonly spec: GuildSpec;
  /**
   * The modules its agents load, as hosts must allow them: the absolute file of each module given
   * as a path, and each package name.
   */
  readonly modules: readonly string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Rewrites `./x.js#Name` and `../x.js#Name` to an absolute path against `dir`. */
function absoluteClassNames(raw: Record<string, unknown>, dir: string): void {
  const agents = raw["agents"];
  if (!Array.isArray(agents)) return;
  for (const agent of agents) {
    if (!isRecord(agent) || typeof agent["className"] !== "string") continue;
    const className = agent["className"];
    if (/^\.\.?[/\\]/.test(className) && className.includes("#")) {
      const hash = className.lastIndexOf("#");
      agent["className"] = `${path.resolve(dir, className.slice(0, hash))}${className.slice(hash)}`;
    }
  }
}

/**
 * Reads and validates the guild file at `file` (YAML or JSON).
 *
 * @throws CliError (bad guild file) naming the file and, for an invalid spec, each bad field's
 *   path (`agents[1].className`)
 */
export function readGuildFile(file: string): GuildFile {
  const source = file;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(
      `cannot read the guild file ${source}: ${errorMessage(error)}; give the path of a guild.yaml (see examples/hello/guild.yaml)`,
      ExitCode.badGuildFile,
    );
  }
  let spec: GuildSpec;
  try {
    let raw: unknown;
    try {
      raw = parse(text);
    } catch {
      raw = undefined;
    }
    if (isRecord(raw)) {
      absoluteClassNames(raw, path.dirname(path.resolve(file)));
      spec = validateGuildSpec(raw, { source });
    } else {
      // Syntax errors, empty files and lists: core names the line and what to write instead.
      spec = parseGuildSpec(text, { source });
    }
  } catch (error) {
    throw new CliError(errorMessage(error), ExitCode.badGuildFile, { cause: error });
  }
  const modules = [...new Set(spec.agents.map((agent) => parseClassName(agent.className).module))];
  return { spec, modules };
}
