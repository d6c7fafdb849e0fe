// How the engine learns which agent hosts exist. Discovery only answers "which addresses"; whether a
// host is alive, draining or full is the registry's knowledge, joined in by placement.

/** Called with the full, sorted set of host addresses each time it changes. */
export type HostsListener = (hosts: readonly string[]) => void;

/**
 * A live view of the agent hosts' addresses (`"10.0.0.7:50051"`, `"[fd00::7]:50051"`). Addresses
 * are opaque strings: nothing splits them on `:`.
 */
export interface HostDiscovery {
  /** Starts discovery if needed and resolves once the first set of hosts is known. */
  ready(): Promise<void>;
  /** The hosts known now, sorted; empty before `ready()` resolves. Costs no I/O. */
  hosts(): readonly string[];
  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: HostsListener): () => void;
  /** Stops watching. */
  close(): Promise<void>;
}
