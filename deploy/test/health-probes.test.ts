// The Deployment's gRPC probes asked of a real host the way the kubelet asks them
// (grpc.health.v1.Health/Check over gRPC, with the probe's service name): each passes on a serving
// host, and once it drains readiness fails (taking it out of the engines' endpoints) while liveness passes.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@guildhall/proto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildAll, hostContainer } from "./kustomize.js";
import { startLiveHost, type LiveHost } from "./live-host.js";

const PROBES = ["startupProbe", "readinessProbe", "livenessProbe"] as const;

/** The service each probe of the host container checks ("" when it names none, as the kubelet sends). */
function probeServices(): Map<string, string> {
  const services = new Map<string, string>();
  for (const [name, objects] of buildAll()) {
    const container = hostContainer(objects);
    for (const probe of PROBES) {
      const grpc = (container[probe] as { grpc?: { service?: string } } | undefined)?.grpc;
      if (grpc === undefined) throw new Error(`${name}: ${probe} is not a gRPC probe`);
      services.set(`${name} ${probe}`, grpc.service ?? "");
    }
  }
  return services;
}

describe("gRPC probes", () => {
  let live: LiveHost | undefined;
  let health: Client<typeof Health>;

  beforeEach(async () => {
    live = await startLiveHost();
    health = createClient(Health, createGrpcTransport({ baseUrl: `http://${live.host.address}` }));
  });

  afterEach(async () => {
    await live?.close();
    live = undefined;
  });

  it("pass on a serving host", async () => {
    const services = probeServices();
    expect(services.size).toBe(3 * PROBES.length);
    for (const [probe, service] of services) {
      const { status } = await health.check({ service });
      expect(status, probe).toBe(ServingStatus.SERVING);
    }
  });

  it("take a draining host out of rotation through readiness, and keep it alive", async () => {
    await live?.host.drain();
    for (const [probe, service] of probeServices()) {
      if (probe.endsWith("startupProbe")) continue;
      const { status } = await health.check({ service });
      const expected = probe.endsWith("readinessProbe")
        ? ServingStatus.NOT_SERVING
        : ServingStatus.SERVING;
      expect(status, probe).toBe(expected);
    }
  });
});
