// Scenario 2: a host is SIGSTOPped for longer than its lease (its agents keep running), then
// SIGCONTed. Its agents run elsewhere by then; its stale heartbeat is refused, it stops its
// copies, and no agent answers a message twice.
import { afterAll, beforeAll, it } from "vitest";
import { startFaultCluster, type FaultCluster } from "./support/fault-cluster.js";
import { runStaleHostScenario, STALE_HOST_SETTINGS } from "./support/stale-host.js";

let cluster: FaultCluster;

beforeAll(async () => {
  cluster = await startFaultCluster({ label: "sigstop", hosts: 3, host: STALE_HOST_SETTINGS });
});

afterAll(async () => {
  await cluster?.close();
});

it("fences a host paused past its lease and leaves no duplicate", async () => {
  await runStaleHostScenario(cluster, {
    name: "SIGSTOP",
    apply: async (host) => void process.kill(host.pid, "SIGSTOP"),
    undo: async (host) => void process.kill(host.pid, "SIGCONT"),
  });
}, 90_000);
