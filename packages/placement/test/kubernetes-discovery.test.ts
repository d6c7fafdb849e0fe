// KubernetesDiscovery through the real @kubernetes/client-node informer and a real kubeconfig,
// against a fake API server that speaks the list/watch wire format.
import { KubeConfig } from "@kubernetes/client-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  startFakeKubeApiServer,
  type FakeEndpointSlice,
  type FakeKubeApiServer,
} from "../../../tools/fake-kube-apiserver/fake-kube-apiserver.js";
import { MemoryLocationRegistry } from "@guildhall/registry";
import {
  KubernetesDiscovery,
  eligibleHosts,
  leastLoaded,
  type HostDiscovery,
} from "../src/index.js";

const NAMESPACE = "agents";
const SERVICE = "guildhall-hosts";

function slice(
  name: string,
  endpoints: [string, boolean?][],
  service = SERVICE,
): FakeEndpointSlice {
  return {
    name,
    namespace: NAMESPACE,
    labels: { "kubernetes.io/service-name": service },
    endpoints: endpoints.map(([address, ready]) => ({
      addresses: [address],
      conditions: ready === undefined ? {} : { ready },
    })),
    ports: [
      { name: "metrics", port: 9464 },
      { name: "grpc", port: 50051 },
    ],
  };
}

/** Resolves when the discovery shows exactly `expected`, or rejects after `timeoutMs`. */
function waitForHosts(
  discovery: HostDiscovery,
  expected: string[],
  timeoutMs = 1000,
): Promise<void> {
  const same = (hosts: readonly string[]) =>
    JSON.stringify(hosts) === JSON.stringify([...expected].sort());
  if (same(discovery.hosts())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(
          `hosts are ${JSON.stringify(discovery.hosts())}, expected ${JSON.stringify(expected)} within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const stop = discovery.onChange((hosts) => {
      if (!same(hosts)) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

describe("KubernetesDiscovery", () => {
  let api: FakeKubeApiServer;
  let dir: string;
  let discovery: KubernetesDiscovery;

  beforeEach(async () => {
    api = await startFakeKubeApiServer();
    dir = mkdtempSync(path.join(tmpdir(), "guildhall-kube-"));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(api.writeKubeconfig(dir));
    discovery = new KubernetesDiscovery({
      namespace: NAMESPACE,
      service: SERVICE,
      kubeConfig,
      initialBackoffMs: 20,
      maxBackoffMs: 200,
    });
  });

  afterEach(async () => {
    await discovery.close();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists ready endpoints of the service's slices only", async () => {
    api.upsert(slice("hosts-a", [["10.0.0.1", true], ["10.0.0.2"], ["10.0.0.3", false]]));
    api.upsert(slice("other", [["10.9.9.9", true]], "some-other-service"));
    await discovery.ready();
    expect(discovery.hosts()).toEqual(["10.0.0.1:50051", "10.0.0.2:50051"]);
  });

  it("reflects endpoints that appear, turn unready and disappear", async () => {
    api.upsert(slice("hosts-a", [["10.0.0.1", true]]));
    await discovery.ready();
    api.upsert(
      slice("hosts-a", [
        ["10.0.0.1", true],
        ["10.0.0.2", true],
      ]),
    );
    await waitForHosts(discovery, ["10.0.0.1:50051", "10.0.0.2:50051"]);
    api.upsert(slice("hosts-b", [["fd00::7", true]]));
    await waitForHosts(discovery, ["10.0.0.1:50051", "10.0.0.2:50051", "[fd00::7]:50051"]);
    api.upsert(
      slice("hosts-a", [
        ["10.0.0.1", false],
        ["10.0.0.2", true],
      ]),
    );
    await waitForHosts(discovery, ["10.0.0.2:50051", "[fd00::7]:50051"]);
    api.delete(NAMESPACE, "hosts-b");
    await waitForHosts(discovery, ["10.0.0.2:50051"]);
  });

  it("recovers its watch after the API server restarts, keeping the last hosts meanwhile", async () => {
    api.upsert(slice("hosts-a", [["10.0.0.1", true]]));
    await discovery.ready();
    await api.stop();
    api.upsert(
      slice("hosts-a", [
        ["10.0.0.1", true],
        ["10.0.0.5", true],
      ]),
    );
    expect(discovery.hosts()).toEqual(["10.0.0.1:50051"]);
    await api.listen();
    await waitForHosts(discovery, ["10.0.0.1:50051", "10.0.0.5:50051"], 5000);
  });

  it("relists when a watch is answered with 410 Gone", async () => {
    api.upsert(slice("hosts-a", [["10.0.0.1", true]]));
    await discovery.ready();
    const lists = api.count("list");
    api.compact();
    api.upsert(slice("hosts-a", [["10.0.0.8", true]]));
    await waitForHosts(discovery, ["10.0.0.8:50051"], 5000);
    expect(api.count("list")).toBe(lists + 1);
  });

  it("sends the API server no request per placement", async () => {
    api.upsert(
      slice("hosts-a", [
        ["10.0.0.1", true],
        ["10.0.0.2", true],
      ]),
    );
    await discovery.ready();
    const registry = new MemoryLocationRegistry();
    for (const address of discovery.hosts())
      await registry.registerHost({ address, maxAgents: 100 });
    const strategy = leastLoaded();
    const before = api.count();
    for (let i = 0; i < 100; i++) {
      const candidates = eligibleHosts(discovery.hosts(), await registry.listHosts());
      const hostAddress = strategy.choose(candidates, { guildId: "g", agentId: `a-${i}` });
      expect(hostAddress).toBeDefined();
      await registry.registerAgent({
        guildId: "g",
        spec: { id: `a-${i}`, name: "probe", className: "@acme/agents#Probe" },
        hostAddress: hostAddress!,
      });
    }
    expect(api.count()).toBe(before);
    expect((await registry.listHosts()).map((h) => h.load)).toEqual([50, 50]);
    await registry.close();
  });

  it("fails ready() with a clear error when the API server is unreachable", async () => {
    await api.stop();
    await expect(discovery.ready()).rejects.toThrow(
      /cannot watch EndpointSlices of service agents\/guildhall-hosts/,
    );
  });
});
