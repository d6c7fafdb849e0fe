// Loads the Lua scripts in lua/ (shipped next to the compiled code) as ioredis commands, which send
// EVALSHA and fall back to EVAL when Redis does not know a script yet (after a restart, say). The
// bus's scripts take as many keys as the agent has topics or the commit has messages, so each file
// is named <name>-n.lua (variadic) and every call states its key count.
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

const SCRIPT_NAMES = ["claim-agent", "commit-agent", "delete-agent"] as const;

/** A script's name: its file name without `-n.lua`. */
export type ScriptName = (typeof SCRIPT_NAMES)[number];

type ScriptArg = string | number;
type ScriptMethod = (numberOfKeys: number, ...args: ScriptArg[]) => Promise<unknown>;

let sources: ReadonlyMap<ScriptName, string> | undefined;

function loadSources(): ReadonlyMap<ScriptName, string> {
  sources ??= new Map(
    SCRIPT_NAMES.map((name) => [
      name,
      readFileSync(new URL(`./lua/${name}-n.lua`, import.meta.url), "utf8"),
    ]),
  );
  return sources;
}

// ioredis commands become methods of the client; a namespace keeps them off real commands.
const commandOf = (name: ScriptName): string => `guildhall_bus_${name.replace(/-/g, "_")}`;

/** Runs the bus's scripts on one client. */
export class Scripts {
  readonly #client: Redis;

  constructor(client: Redis) {
    this.#client = client;
    for (const [name, lua] of loadSources()) client.defineCommand(commandOf(name), { lua });
  }

  /** Runs script `name` with `keys` then `args`: one EVALSHA round trip. */
  run(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const method = (this.#client as unknown as Record<string, ScriptMethod>)[commandOf(name)];
    if (method === undefined) throw new Error(`script ${name} is not defined on this client`);
    return method.call(this.#client, keys.length, ...keys, ...args);
  }
}
