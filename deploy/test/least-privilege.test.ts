// What the manifests allow, in every build (base and overlays): RBAC limited to reading
// EndpointSlices, every pod within Pod Security "restricted" with a read-only root, host pods
// without an API token, and network policies that admit only engines, monitoring and hosts.
import { describe, expect, it } from "vitest";
import { podSpec } from "./kustomize-build.js";
import { buildAll, find } from "./kustomize.js";
import { describeObject, type KubernetesObject } from "./manifests.js";
import { restrictedViolations } from "./pod-security.js";

const builds = buildAll();

const RBAC_KINDS = new Set(["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]);

describe("RBAC", () => {
  it.each([...builds])(
    "%s grants exactly get/list/watch on discovery.k8s.io endpointslices, to the engine",
    (_, objects) => {
      const rbac = objects.filter((o) => RBAC_KINDS.has(o.kind));
      expect(rbac.map((o) => o.kind).sort()).toEqual(["Role", "RoleBinding"]);
      const role = find(objects, "Role", "guildhall-endpointslice-reader");
      expect(role["rules"]).toEqual([
        {
          apiGroups: ["discovery.k8s.io"],
          resources: ["endpointslices"],
          verbs: ["get", "list", "watch"],
        },
      ]);
      const binding = find(objects, "RoleBinding", "guildhall-engine-endpointslice-reader");
      expect(binding["roleRef"]).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: role.metadata.name,
      });
      const engine = find(objects, "ServiceAccount", "guildhall-engine");
      expect(binding["subjects"]).toEqual([
        {
          kind: "ServiceAccount",
          name: engine.metadata.name,
          namespace: engine.metadata.namespace,
        },
      ]);
    },
  );

  it.each([...builds])("%s gives host pods no Kubernetes API token", (_, objects) => {
    const account = find(objects, "ServiceAccount", "guildhall-host");
    expect(account["automountServiceAccountToken"]).toBe(false);
    const spec = podSpec(find(objects, "Deployment", "guildhall-host"));
    expect(spec?.["serviceAccountName"]).toBe(account.metadata.name);
    expect(spec?.["automountServiceAccountToken"]).toBe(false);
  });
});

describe("Pod Security", () => {
  /** Every workload with a pod template in `objects`. */
  function workloads(objects: KubernetesObject[]): KubernetesObject[] {
    return objects.filter((o) => podSpec(o) !== undefined);
  }

  it.each([...builds])("%s: every pod and container meets restricted", (_, objects) => {
    expect(workloads(objects).length).toBeGreaterThan(0);
    for (const workload of workloads(objects)) {
      expect(restrictedViolations(podSpec(workload) ?? {}), describeObject(workload)).toEqual([]);
    }
  });

  it.each([...builds])(
    "%s: every container has a read-only root, limits and a numeric non-root user",
    (_, objects) => {
      for (const workload of workloads(objects)) {
        const spec = podSpec(workload) ?? {};
        const podContext = (spec["securityContext"] ?? {}) as Record<string, unknown>;
        for (const container of (spec["containers"] ?? []) as Record<string, unknown>[]) {
          const where = `${describeObject(workload)} container ${String(container["name"])}`;
          const context = (container["securityContext"] ?? {}) as Record<string, unknown>;
          expect(context["readOnlyRootFilesystem"], where).toBe(true);
          expect(context["runAsUser"] ?? podContext["runAsUser"], where).toBeGreaterThan(0);
          const resources = container["resources"] as
            { requests?: Record<string, unknown>; limits?: Record<string, unknown> } | undefined;
          expect(resources?.requests?.["cpu"], where).toBeDefined();
          expect(resources?.requests?.["memory"], where).toBeDefined();
          expect(resources?.limits?.["memory"], where).toBeDefined();
        }
      }
    },
  );

  it("enforces restricted on the namespace too", () => {
    for (const [, objects] of builds) {
      expect(find(objects, "Namespace", "guildhall").metadata["labels"]).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
      });
    }
  });

  it("finds what breaks restricted", () => {
    const compliant = podSpec(find(builds.get("base") ?? [], "Deployment", "guildhall-host")) ?? {};
    const [container] = compliant["containers"] as Record<string, unknown>[];
    const broken = {
      ...compliant,
      hostNetwork: true,
      securityContext: { runAsUser: 0, seccompProfile: { type: "Unconfined" } },
      volumes: [{ name: "docker", hostPath: { path: "/var/run/docker.sock" } }],
      containers: [
        {
          ...container,
          ports: [{ containerPort: 50051, hostPort: 50051 }],
          securityContext: { capabilities: { add: ["SYS_ADMIN"] }, privileged: true },
        },
      ],
    };
    expect(restrictedViolations(broken)).toEqual([
      "pod: runAsUser 0",
      "pod: seccompProfile Unconfined",
      "pod: hostNetwork",
      "volume docker: type hostPath",
      "container host: privileged",
      "container host: allowPrivilegeEscalation is not false",
      "container host: runAsNonRoot is not true (neither container nor pod)",
      "container host: capabilities.drop lacks ALL",
      "container host: adds capability SYS_ADMIN",
      "container host: hostPort 50051",
    ]);
  });
});

describe("NetworkPolicy", () => {
  const ENGINE = {
    "app.kubernetes.io/part-of": "guildhall",
    "app.kubernetes.io/component": "engine",
  };
  const HOST = { "app.kubernetes.io/part-of": "guildhall", "app.kubernetes.io/component": "host" };

  it.each([...builds])(
    "%s: hosts take gRPC only from engines and scrapes only from monitoring",
    (_, objects) => {
      const host = find(objects, "Deployment", "guildhall-host");
      const policy = find(objects, "NetworkPolicy", "guildhall-host");
      const spec = policy["spec"] as Record<string, unknown>;
      // The policy selects the host pods.
      const template = (host["spec"] as { template: { metadata: { labels: object } } }).template;
      expect(template.metadata.labels).toMatchObject(
        (spec["podSelector"] as { matchLabels: object }).matchLabels,
      );
      expect(template.metadata.labels).toMatchObject(HOST);
      expect(spec["policyTypes"]).toEqual(["Ingress"]);
      expect(spec["ingress"]).toEqual([
        {
          from: [{ podSelector: { matchLabels: ENGINE } }],
          ports: [{ protocol: "TCP", port: 50051 }],
        },
        {
          from: [
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
          ],
          ports: [{ protocol: "TCP", port: 9464 }],
        },
      ]);
    },
  );

  it("dev: Redis takes connections only from hosts and engines", () => {
    const objects = builds.get("overlays/dev") ?? [];
    const redis = find(objects, "StatefulSet", "guildhall-redis");
    const policy = find(objects, "NetworkPolicy", "guildhall-redis");
    const spec = policy["spec"] as Record<string, unknown>;
    const labels = (redis["spec"] as { template: { metadata: { labels: object } } }).template
      .metadata.labels;
    expect(labels).toMatchObject((spec["podSelector"] as { matchLabels: object }).matchLabels);
    expect(spec["ingress"]).toEqual([
      {
        from: [{ podSelector: { matchLabels: HOST } }, { podSelector: { matchLabels: ENGINE } }],
        ports: [{ protocol: "TCP", port: 6379 }],
      },
    ]);
  });
});
