// One real agent host for the tests that need what a host serves (its /metrics, its health
// service): free ports, an in-memory registry and bus, no warm processes, no log output.
import { MemoryBus } from "@guildhall/core";
import { startAgentHost, type AgentHost } from "@guildhall/host-server";
import { MemoryLocationRegistry } from "@guildhall/registry";

/** A started host and how to stop it with its bus. */
export interface LiveHost {
  readonly host: AgentHost;
  close(): Promise<void>;
}

/** Starts an agent host on 127.0.0.1 with the API and metrics on free ports. */
export async function startLiveHost(): Promise<LiveHost> {
  const bus = new MemoryBus();
  const host = await startAgentHost({
    port: 0,
    metricsPort: 0,
    warmPoolSize: 0,
    logLevel: "silent",
    registry: new MemoryLocationRegistry(),
    bus,
  });
  return {
    host,
    async close() {
      await host.close();
      await bus.close();
    },
  };
}
