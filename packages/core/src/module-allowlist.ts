// Which agent modules may be loaded (DESIGN section 3): the only gate between a spec arriving over
// the network and code running on a host. Every runtime uses this one check, so an allowlist means
// the same in a host, in an agent process and in the in-process engine. A host runs it twice:
// before anything is forked (so a refused spec costs no process), and in the agent process right
// before the import (so the check and the import see the same file system).
import { realpathSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GuildhallError } from "./errors.js";

/** Whether an allowlist entry or a specifier names a file system location rather than a package. */
function isLocation(specifier: string): boolean {
  return specifier.startsWith("file:") || path.isAbsolute(specifier);
}

function toPath(specifier: string): string {
  if (!specifier.startsWith("file:")) return path.resolve(specifier);
  try {
    return path.resolve(fileURLToPath(specifier));
  } catch (error) {
    throw new GuildhallError(
      "invalid-argument",
      `"${specifier}" is not a valid file URL (${(error as Error).message}); use "file:///absolute/path.mjs"`,
    );
  }
}

/** `child` equals `parent` (when `parent` is a file) or lies strictly below it (a directory). */
function isWithin(child: string, parent: string, parentIsFile: boolean): boolean {
  if (parentIsFile) return child === parent;
  const relative = path.relative(parent, child);
  return (
    relative !== "" &&
    relative !== ".." &&
    !relative.startsWith(`..${path.sep}`) &&
    !path.isAbsolute(relative)
  );
}

interface AllowedLocation {
  /** The entry as written, made absolute and normalised. */
  readonly lexical: string;
  /** The entry with symlinks resolved; undefined when it does not exist. */
  readonly real: string | undefined;
  readonly isFile: boolean;
}

function allowedLocations(agentModules: readonly string[]): AllowedLocation[] {
  return agentModules.filter(isLocation).map((entry): AllowedLocation => {
    const lexical = toPath(entry);
    try {
      const real = realpathSync(lexical);
      return { lexical, real, isFile: statSync(real).isFile() };
    } catch {
      return { lexical, real: undefined, isFile: false };
    }
  });
}

function refused(specifier: string, agentModules: readonly string[], why = ""): GuildhallError {
  const listed = agentModules.length > 0 ? agentModules.join(", ") : "(empty)";
  return new GuildhallError(
    "permission-denied",
    `agent module "${specifier}" is not allowed on this host${why} (agentModules: ${listed}); ` +
      "add its package name, or a directory containing it, to agentModules " +
      "(GUILDHALL_AGENT_MODULES on a host)",
  );
}

/**
 * Checks `specifier` against the allowlist and returns what to pass to `import()`.
 *
 * Package entries match exactly (`@acme/agents` allows neither `@acme/agents/extra` nor
 * `@acme/agents-x`). Path and file-URL entries allow every module inside that directory (or that
 * one file). The requested path is normalised (`..` removed) and its symlinks resolved before the
 * check, so neither `..` nor a symlink leads out of an allowed directory; the import then uses the
 * resolved file. Relative paths and other URL schemes (`data:`, `http:`, `node:`) are refused.
 *
 * Synchronous: a few `realpath` calls on local files take microseconds, while each asynchronous
 * one is a thread-pool round trip on the path of every spawn.
 *
 * @throws GuildhallError `permission-denied` when not allowed, `not-found` when an allowed path
 *   does not exist, `invalid-argument` for a malformed file URL.
 */
export function resolveAgentModule(specifier: string, agentModules: readonly string[]): string {
  if (!isLocation(specifier)) {
    if (specifier.startsWith(".")) {
      throw refused(
        specifier,
        agentModules,
        ": relative paths are ambiguous, use an absolute path",
      );
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) {
      throw refused(specifier, agentModules, ": only packages, absolute paths and file URLs load");
    }
    if (agentModules.includes(specifier)) return specifier;
    throw refused(specifier, agentModules);
  }

  const lexical = toPath(specifier);
  const allowed = allowedLocations(agentModules);
  let real: string;
  try {
    real = realpathSync(lexical);
  } catch {
    const lexicallyAllowed = allowed.some(
      (entry) =>
        isWithin(lexical, entry.lexical, entry.isFile) ||
        (entry.real !== undefined && isWithin(lexical, entry.real, entry.isFile)),
    );
    if (!lexicallyAllowed) throw refused(specifier, agentModules);
    throw new GuildhallError(
      "not-found",
      `agent module file ${lexical} does not exist; check the path in className or install the module on the host`,
    );
  }
  const inside = allowed.some(
    (entry) => entry.real !== undefined && isWithin(real, entry.real, entry.isFile),
  );
  if (inside) return pathToFileURL(real).href;
  throw refused(
    specifier,
    agentModules,
    real === lexical ? "" : `: it resolves to ${real} (symlinks are followed before the check)`,
  );
}
