// The bus Redis keeps what durable agents commit (state, read positions, outbox): each overlay's
// Redis runs with appendonly yes, fsyncs at least once a second, and keeps its data directory on a
// persistent volume. Dev ships that Redis; prod uses yours, and its kustomization says so.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { podSpec } from "./kustomize-build.js";
import { KUSTOMIZE_DIR, buildAll, find } from "./kustomize.js";
import { describeObject, type KubernetesObject } from "./manifests.js";
import { redisContainers, redisDirectives, redisDurabilityProblems } from "./redis.js";

const builds = buildAll();

function build(name: "base" | "overlays/dev" | "overlays/prod"): KubernetesObject[] {
  const objects = builds.get(name);
  if (objects === undefined) throw new Error(`no build ${name}`);
  return objects;
}

describe("the bus Redis", () => {
  it.each([...builds])(
    "%s: every Redis writes an append-only file to a persistent volume",
    (_, objects) => {
      for (const redis of redisContainers(objects)) {
        expect(redisDurabilityProblems(redis)).toEqual([]);
      }
    },
  );

  it("dev: one Redis, a StatefulSet with appendonly yes, appendfsync everysec and a claim for /data", () => {
    const objects = build("overlays/dev");
    const redis = redisContainers(objects);
    expect(redis.map(({ workload }) => describeObject(workload))).toEqual([
      "StatefulSet/guildhall-redis",
    ]);
    const [{ workload, container }] = redis as [(typeof redis)[number]];
    expect(Object.fromEntries(redisDirectives(container))).toMatchObject({
      appendonly: "yes",
      appendfsync: "everysec",
      dir: "/data",
    });
    const spec = workload["spec"] as {
      replicas: number;
      serviceName: string;
      volumeClaimTemplates: { metadata: { name: string }; spec: Record<string, unknown> }[];
    };
    expect(spec.replicas).toBe(1);
    expect(container["volumeMounts"]).toContainEqual({ name: "data", mountPath: "/data" });
    expect(spec.volumeClaimTemplates).toHaveLength(1);
    expect(spec.volumeClaimTemplates[0]).toMatchObject({
      metadata: { name: "data" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    // Nothing of Redis's on an emptyDir: the pod has no volumes of its own.
    expect(podSpec(workload)?.["volumes"]).toBeUndefined();
    // The data directory is the volume, the root file system stays read-only.
    expect(container["securityContext"]).toMatchObject({ readOnlyRootFilesystem: true });
    expect(podSpec(workload)?.["securityContext"]).toMatchObject({ fsGroup: 999 });

    // The hosts' Redis URL names the Service that selects this Redis.
    const service = find(objects, "Service", spec.serviceName);
    const labels = (workload["spec"] as { template: { metadata: { labels: object } } }).template
      .metadata.labels;
    expect(labels).toMatchObject((service["spec"] as { selector: object }).selector);
    const secret = find(objects, "Secret", "guildhall-redis");
    const url = new URL(
      Buffer.from((secret["data"] as { url: string }).url, "base64").toString("utf8"),
    );
    expect(url.hostname).toBe(service.metadata.name);
    expect((service["spec"] as { ports: { port: number }[] }).ports.map((p) => p.port)).toContain(
      Number(url.port),
    );
  });

  it("prod: runs no Redis, and asks for appendonly yes on persistent storage of yours", () => {
    const objects = build("overlays/prod");
    expect(redisContainers(objects)).toEqual([]);
    // The URL comes from a Secret the operator creates, not from the overlay.
    expect(objects.some((o) => o.kind === "Secret" && o.metadata.name === "guildhall-redis")).toBe(
      false,
    );
    const kustomization = readFileSync(
      path.join(KUSTOMIZE_DIR, "overlays/prod/kustomization.yaml"),
      "utf8",
    );
    expect(kustomization).toContain("`appendonly yes`");
    expect(kustomization).toContain("persistent storage");
    expect(kustomization).toContain("Durability of the bus Redis");
  });

  it("finds a Redis that can lose its data", () => {
    const objects = build("overlays/dev");
    const [durable] = redisContainers(objects) as [ReturnType<typeof redisContainers>[number]];
    const withArgs = (args: string[]) => ({
      ...durable,
      container: { ...durable.container, args },
    });
    expect(
      redisDurabilityProblems(
        withArgs(["redis-server", "--dir", "/data", "--appendfsync", "no", "--save", ""]),
      ),
    ).toEqual([
      "StatefulSet/guildhall-redis container redis: appendonly is no, not yes",
      "StatefulSet/guildhall-redis container redis: appendfsync is no, not everysec or always",
    ]);
    expect(redisDurabilityProblems(withArgs(["--appendonly", "yes"]))).toEqual([
      "StatefulSet/guildhall-redis container redis: no absolute --dir, so where the data goes depends on the image",
    ]);
    expect(
      redisDurabilityProblems(withArgs(["--appendonly", "yes", "--dir", "/var/lib/redis"])),
    ).toEqual([
      "StatefulSet/guildhall-redis container redis: the data directory /var/lib/redis is on the container's root file system",
    ]);
    expect(() =>
      redisDirectives({ name: "redis", args: ["redis-server", "/etc/redis.conf"] }),
    ).toThrow(/runs \/etc\/redis\.conf: give Redis its settings as --options/);

    // The same container in a Deployment with the data on an emptyDir.
    const spec = workloadSpec(durable.workload);
    const deployment: KubernetesObject = {
      ...durable.workload,
      kind: "Deployment",
      spec: {
        ...spec,
        volumeClaimTemplates: undefined,
        template: {
          ...spec.template,
          spec: { ...spec.template.spec, volumes: [{ name: "data", emptyDir: {} }] },
        },
      },
    };
    expect(redisDurabilityProblems({ workload: deployment, container: durable.container })).toEqual(
      [
        "Deployment/guildhall-redis container redis: the data directory /data is on volume data, which is not a PersistentVolumeClaim",
      ],
    );
    const claimed = structuredClone(deployment);
    workloadSpec(claimed).template.spec["volumes"] = [
      { name: "data", persistentVolumeClaim: { claimName: "redis-data" } },
    ];
    expect(redisDurabilityProblems({ workload: claimed, container: durable.container })).toEqual(
      [],
    );
  });
});

/** The spec of a workload with a pod template. */
function workloadSpec(object: KubernetesObject): {
  template: { spec: Record<string, unknown> };
  [key: string]: unknown;
} {
  return object["spec"] as { template: { spec: Record<string, unknown> } };
}
