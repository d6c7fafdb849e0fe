// The registry's Lua scripts, in lua/. Each file is `<name>-<keys>.lua`, so a count here that
// disagrees with the file name fails at load rather than at the first call.

/** Every script of the registry and its number of keys. */
export const SCRIPT_KEYS = {
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
