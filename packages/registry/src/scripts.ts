// Loads the Lua scripts in lua/ (shipped next to the compiled code) and defines each as an ioredis
// command, which sends EVALSHA and falls back to EVAL once per connection when Redis does not know
// the script yet (after a restart, say). A file is named <name>-<numberOfKeys>.lua.
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

/**
 * Every script and its number of keys; the file is `lua/<name>-<keys>.lua`, so a count that
 * disagrees with the file name fails at load rather than at the first call.
 */
const SCRIPT_KEYS = {
  "register-agent": 5,
  "deregister-agent": 2,
  heartbeat: 3,
  "register-host": 4,
  "restore-host": 5,
  "deregister-host": 4,
  "set-host-draining": 1,
  "get-host": 2,
  "list-hosts": 1,
  "list-guild-agents": 1,
  "set-desired-agent": 2,
  "remove-desired": 2,
  "list-all-desired": 1,
  "renew-lease": 1,
  "release-lease": 1,
} as const;

/** A script's name: its file name without the key count. */
export type ScriptName = keyof typeof SCRIPT_KEYS;

interface ScriptSource {
  readonly command: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

let sources: Map<ScriptName, ScriptSource> | undefined;

function loadSources(): Map<ScriptName, ScriptSource> {
  if (sources !== undefined) return sources;
  const loaded = new Map<ScriptName, ScriptSource>();
  for (const [name, numberOfKeys] of Object.entries(SCRIPT_KEYS) as [ScriptName, number][]) {
    const lua = readFileSync(new URL(`./lua/${name}-${numberOfKeys}.lua`, import.meta.url), "utf8");
    // ioredis commands become methods of the client; a namespace keeps them off real commands.
    const command = `guildhall_${name.replace(/-/g, "_")}`;
    loaded.set(name, { command, numberOfKeys, lua });
  }
  sources = loaded;
  return loaded;
}

type ScriptArg = string | number;
type ScriptMethod = (...args: ScriptArg[]) => Promise<unknown>;

/** Runs the registry's scripts on one client. */
export class Scripts {
  readonly #client: Redis;
  readonly #sources: Map<ScriptName, ScriptSource>;

  constructor(client: Redis) {
    this.#client = client;
    this.#sources = loadSources();
    for (const source of this.#sources.values()) {
      client.defineCommand(source.command, { numberOfKeys: source.numberOfKeys, lua: source.lua });
    }
  }

  /** Runs a script; `keys` must hold exactly as many keys as its file name says. */
  run(name: ScriptName, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const source = this.#sources.get(name);
    if (source === undefined || keys.length !== source.numberOfKeys) {
      throw new Error(
        `script ${name} takes ${source?.numberOfKeys ?? "?"} keys, got ${keys.length}`,
      );
    }
    const method = (this.#client as unknown as Record<string, ScriptMethod>)[source.command];
    if (method === undefined) throw new Error(`script ${name} is not defined on this client`);
    return method.call(this.#client, ...keys, ...args);
  }
}
