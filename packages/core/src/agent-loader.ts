// Finds the Agent class a spec's className names. Hosts and the in-process engine share this, so a
// className means the same everywhere and is refused with the same words.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { isAgentClass } from "./agent.js";
import type { AgentClass } from "./agent.js";
import { GuildhallError, errorMessage } from "./errors.js";
import { resolveAgentModule } from "./module-allowlist.js";

/** The two parts of a className. */
export interface ClassNameParts {
  /** A package name (with an optional subpath), an absolute path or a `file:` URL. */
  module: string;
  /** The name under which the module exports the class. */
  exportName: string;
}

const EXPORT_NAME = /^[A-Za-z_$][\w$]*$/;

/**
 * Splits `"<module>#<ExportName>"`.
 *
 * @throws GuildhallError `invalid-argument` if `className` does not have that shape, or names a
 *   relative path.
 */
export function parseClassName(className: string): ClassNameParts {
  const hash = className.lastIndexOf("#");
  const module = hash > 0 ? className.slice(0, hash) : "";
  const exportName = hash > 0 ? className.slice(hash + 1) : "";
  if (
    module.trim() !== module ||
    module === "" ||
    module.includes("#") ||
    !EXPORT_NAME.test(exportName)
  ) {
    throw new GuildhallError(
      "invalid-argument",
      `className ${JSON.stringify(className)} must be "<module>#<ExportName>", e.g. "@acme/agents#Summarizer" or "/srv/agents/index.js#Summarizer"`,
    );
  }
  if (/^\.\.?[/\\]/.test(module)) {
    throw new GuildhallError(
      "invalid-argument",
      `className ${JSON.stringify(className)} names the relative path "${module}": use a package name, an absolute path or a file URL`,
    );
  }
  return { module, exportName };
}

/** What `import()` is given for a module when no allowlist applies: absolute paths become file URLs. */
function importSpecifier(module: string): string {
  return !module.startsWith("file:") && path.isAbsolute(module)
    ? pathToFileURL(module).href
    : module;
}

/** Options of {@link loadAgentClass}. */
export interface LoadAgentClassOptions {
  /** Modules agents may be loaded from. Default: any module. */
  agentModules?: readonly string[];
}

/**
 * Imports the module a className names and returns its exported Agent subclass.
 *
 * Package names are resolved from this package's location (in an application, its
 * `node_modules`).
 *
 * @throws GuildhallError `permission-denied` for a module not in `agentModules` (see
 *   {@link resolveAgentModule}); `not-found` for an allowed path that does not exist;
 *   `invalid-argument` for a malformed className, a module that cannot be loaded, a missing export
 *   or an export that is not an Agent subclass.
 */
export async function loadAgentClass(
  className: string,
  options: LoadAgentClassOptions = {},
): Promise<AgentClass> {
  const { module, exportName } = parseClassName(className);
  const specifier =
    options.agentModules === undefined
      ? importSpecifier(module)
      : resolveAgentModule(module, options.agentModules);
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const reason = errorMessage(error);
    const code = (error as { code?: unknown } | null)?.code;
    const missing =
      code === "ERR_MODULE_NOT_FOUND" ||
      code === "ERR_PACKAGE_PATH_NOT_EXPORTED" ||
      code === "ERR_UNSUPPORTED_DIR_IMPORT" ||
      /Cannot find (module|package)|Failed to load url|does not exist/i.test(reason);
    throw new GuildhallError(
      "invalid-argument",
      missing
        ? `cannot find module "${module}" of className "${className}": ${reason}. Check the path or package name, and that it is installed and built`
        : `module "${module}" of className "${className}" failed to load: ${reason}`,
      { cause: error },
    );
  }
  const exported = namespace[exportName];
  if (exported === undefined) {
    const agents = Object.keys(namespace)
      .filter((key) => isAgentClass(namespace[key]))
      .sort();
    throw new GuildhallError(
      "invalid-argument",
      `module "${module}" has no export "${exportName}" (className "${className}"); its Agent exports are: ${agents.length === 0 ? "none" : agents.join(", ")}`,
    );
  }
  if (!isAgentClass(exported)) {
    throw new GuildhallError(
      "invalid-argument",
      `export "${exportName}" of module "${module}" is not a class extending Agent from @guildhall/core (className "${className}")`,
    );
  }
  return exported;
}
