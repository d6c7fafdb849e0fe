// The numeric errors the bus's Lua scripts in lua/ return (a script cannot throw a typed error, so
// it returns a negative number, as BullMQ's do).

/** Negative returns of the scripts in lua/. */
export enum ScriptError {
  /** The epoch is not the agent's current one: a newer claim holds it, or it was deleted. */
  Fenced = -1,
  /** The commit's sequence is not the next after the stored one. */
  OutOfOrder = -2,
  /** The agent's topics changed between reading them and deleting it: read again. */
  TopicsChanged = -3,
  /** A key holds another type than the bus writes there. */
  WrongType = -4,
  /** The agent has no record at all (never claimed, or Redis lost its data). */
  Unknown = -5,
}
