// Scenario 3: a host is cut off from Redis and the engine (its veth link down) for longer than its
// lease, then healed. Same guarantees as a paused host. Needs network namespaces: where they
// cannot be made, the test says so and does nothing else.
import { afterAll, beforeAll, it } from "vitest";
import { startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { runStaleHostScenario, STALE_HOST_SETTINGS } from "./support/stale-host.js";

let cluster: FaultCluster;

beforeAll(async () => {
  cluster = await startFaultCluster({ label: "partition", hosts: 3, host: STALE_HOST_SETTINGS });
});

afterAll(async () => {
  await cluster?.close();
});

it("fences a host partitioned past its lease and leaves no duplicate", async (context) => {
  if (cluster.network.kind === "loopback") {
    const reason = `partitions need network namespaces: ${cluster.network.fallbackReason}`;
    console.log(`[faults:partition] skipped: ${reason}`);
    context.skip(reason);
  }
  await runStaleHostScenario(cluster, {
    name: "partition",
    apply: (host) => host.node.partition(),
    undo: (host) => host.node.heal(),
  });
}, 90_000);
