// The acceptance of InProcessExecutionEngine: the whole execution-engine contract, on a MemoryBus,
// with the probe module on the engine's allowlist as a cluster's hosts would have it.
import { InProcessExecutionEngine, MemoryBus } from "@guildhall/core";
import { describeExecutionEngineContract, probeAgentsModule } from "@guildhall/testing";

describeExecutionEngineContract("InProcessExecutionEngine on a MemoryBus", () => {
  const bus = new MemoryBus();
  const engine = new InProcessExecutionEngine({ bus, agentModules: [probeAgentsModule] });
  return { engine, bus, teardown: () => bus.close() };
});
