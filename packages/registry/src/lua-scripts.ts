// Loads Lua script files and defines each as an ioredis command, which sends EVALSHA and falls back
// to EVAL once per connection when Redis does not know the script yet (after a restart, say). As in
// BullMQ, a line `--- @include "<path>"` is replaced at load time by the file `<path>.lua`, found
// next to the file that includes it; a script gets each include once.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";

/** A script's number of keys, or `"n"` when each call passes as many as it needs. */
export type ScriptKeyCount = number | "n";

/** Which scripts {@link LuaScripts} defines, and where their files are. */
export interface LuaScriptsOptions<Name extends string> {
  /** The folder of the files, e.g. `new URL("./lua/", import.meta.url)`. */
  readonly dir: URL;
  /** Every script's name and number of keys; its file is `<name>-<keys>.lua`. */
  readonly scripts: Readonly<Record<Name, ScriptKeyCount>>;
  /**
   * Starts every command name. ioredis makes commands methods of the client, so a namespace such
   * as `"guildhall_"` keeps them off real Redis commands.
   */
  readonly commandPrefix: string;
}

/** An argument of a script call. */
export type ScriptArg = string | number;

type ScriptMethod = (...args: ScriptArg[]) => Promise<unknown>;

const INCLUDE = /^--- @include "([^"]+)"[ \t]*$/gm;

const sources = new Map<string, string>();

function expand(file: URL, included: Set<string>): string {
  return readFileSync(file, "utf8").replace(INCLUDE, (_line, path: string) => {
    const target = new URL(`${path}.lua`, file);
    if (included.has(target.href)) return "";
    included.add(target.href);
    try {
      return expand(target, included);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "ENOENT") throw error;
      throw new Error(
        `Lua script ${fileURLToPath(file)} includes "${path}", but ${fileURLToPath(target)} ` +
          "does not exist",
        { cause: error },
      );
    }
  });
}

/**
 * The source of the Lua file at `file` with its includes expanded, read once per process.
 *
 * @throws Error naming the script and the missing file when an include does not exist
 */
export function loadLuaScript(file: URL): string {
  let source = sources.get(file.href);
  if (source === undefined) {
    source = expand(file, new Set([file.href]));
    sources.set(file.href, source);
  }
  return source;
}

/**
 * Whether a script's reply is one of its error numbers: a script cannot throw a typed error, so it
 * returns a negative number (BullMQ style), which each package maps to an enum of its own.
 */
export function isScriptError(reply: unknown): reply is number {
  return typeof reply === "number" && reply < 0;
}

/**
 * A package's Lua scripts, defined on one client.
 *
 * @example
 * ```ts
 * const scripts = new LuaScripts(client, {
 *   dir: new URL("./lua/", import.meta.url),
 *   scripts: { "get-host": 2 },
 *   commandPrefix: "guildhall_",
 * });
 * const reply = await scripts.run("get-host", [hostKey, hostAgentsKey], []);
 * ```
 */
export class LuaScripts<Name extends string> {
  readonly #client: Redis;
  readonly #options: LuaScriptsOptions<Name>;

  /** @throws Error when a script file or one of its includes is missing */
  constructor(client: Redis, options: LuaScriptsOptions<Name>) {
    this.#client = client;
    this.#options = options;
    for (const [name, keys] of Object.entries(options.scripts) as [Name, ScriptKeyCount][]) {
      const lua = loadLuaScript(new URL(`${name}-${keys}.lua`, options.dir));
      client.defineCommand(
        this.#command(name),
        keys === "n" ? { lua } : { numberOfKeys: keys, lua },
      );
    }
  }

  #command(name: Name): string {
    return `${this.#options.commandPrefix}${name.replace(/-/g, "_")}`;
  }

  /**
   * Runs script `name` with `keys` then `args`: one EVALSHA round trip.
   *
   * @throws Error (at once) when `keys` does not hold as many keys as the script's file name says
   */
  run(name: Name, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const count = this.#options.scripts[name];
    if (count !== "n" && keys.length !== count) {
      throw new Error(`script ${name} takes ${count} keys, got ${keys.length}`);
    }
    const method = (this.#client as unknown as Record<string, ScriptMethod>)[this.#command(name)];
    if (method === undefined) throw new Error(`script ${name} is not defined on this client`);
    return count === "n"
      ? method.call(this.#client, keys.length, ...keys, ...args)
      : method.call(this.#client, ...keys, ...args);
  }
}
