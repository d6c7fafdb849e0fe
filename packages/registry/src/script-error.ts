// The numeric errors the registry's Lua scripts return (see isScriptError), and what each means to a
// caller. MemoryLocationRegistry raises the same errors through the same function, so both
// registries refuse alike.
import { GuildhallError } from "@guildhall/core";

/** Negative returns of the scripts in lua/. */
export enum ScriptError {
  /** The host is not registered, or its lease lapsed. */
  HostNotRegistered = -1,
  /** The host is draining and takes no new agents. */
  HostDraining = -2,
  /** The host runs `maxAgents` agents already. */
  HostFull = -3,
  /** No location is recorded for the agent. */
  AgentNotFound = -4,
  /** The agent is registered under another epoch. */
  StaleEpoch = -5,
}

/** The error a caller gets for a script error when registering `agent` at `address`. */
export function registrationError(
  code: ScriptError,
  agent: string,
  address: string,
): GuildhallError {
  switch (code) {
    case ScriptError.HostNotRegistered:
      return new GuildhallError(
        "failed-precondition",
        `cannot register agent ${agent} at host ${address}: the host is not registered or its ` +
          "lease lapsed. Register the host (registerHost) and keep it heartbeating, or place the " +
          "agent on a live host.",
      );
    case ScriptError.HostDraining:
      return new GuildhallError(
        "unavailable",
        `cannot register agent ${agent} at host ${address}: the host is draining. Place the ` +
          "agent on another host.",
      );
    case ScriptError.HostFull:
      return new GuildhallError(
        "resource-exhausted",
        `cannot register agent ${agent} at host ${address}: the host runs its maximum number of ` +
          "agents. Place the agent on another host or raise the host's maxAgents.",
      );
    default:
      return new GuildhallError(
        "internal",
        `registering agent ${agent} at host ${address} failed with script error ${String(code)}`,
      );
  }
}
