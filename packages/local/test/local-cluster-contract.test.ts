// The acceptance of the embedded default: the whole execution-engine contract against a local
// cluster of two real agent hosts (HTTP/2, agents as child processes) driven by a
// ClusterExecutionEngine.
import { describeExecutionEngineContract, probeAgentsModule } from "@guildhall/testing";
import { startLocalCluster } from "../src/index.js";

describeExecutionEngineContract(
  "ClusterExecutionEngine on a local cluster of 2 hosts",
  async () => {
    const cluster = await startLocalCluster({
      hosts: 2,
      agentModules: [probeAgentsModule],
      hostOptions: { logLevel: "silent", stopTimeoutMs: 5_000 },
    });
    return { engine: cluster.engine, bus: cluster.bus, teardown: () => cluster.stop() };
  },
);
