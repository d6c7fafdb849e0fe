import { GuildhallError } from "@guildhall/core";
import type { HostDiscovery, HostsListener } from "./host-discovery.js";

/** A fixed list of host addresses, for local clusters, tests and hosts outside Kubernetes. */
export class StaticDiscovery implements HostDiscovery {
  readonly #addresses: readonly string[];

  /** @param addresses host addresses such as `"127.0.0.1:50051"`; duplicates are dropped. */
  constructor(addresses: readonly string[]) {
    for (const address of addresses) {
      if (typeof address !== "string" || address.trim() === "" || /\s/.test(address)) {
        throw new GuildhallError(
          "invalid-argument",
          `StaticDiscovery: host address ${JSON.stringify(address)} is not valid; give "host:port" such as "10.0.0.7:50051" or "[::1]:50051"`,
        );
      }
    }
    this.#addresses = Object.freeze([...new Set(addresses)].sort());
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  hosts(): readonly string[] {
    return this.#addresses;
  }

  onChange(_listener: HostsListener): () => void {
    return () => {};
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
