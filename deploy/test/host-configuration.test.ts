// The host Deployment as `guildhall host` will read it: its environment goes through the CLI's own
// configuration function (so every variable is one the command reads, and its values pass the
// command's checks), its ports and probes match what the host serves, and the kubelet waits longer
// than the host's own shutdown deadline.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolveHostCommandConfig } from "@guildhall/cli";
import { resolveAgentHostOptions } from "@guildhall/host-server";
import { describe, expect, it } from "vitest";
import { parseDockerfile, stageEnv } from "./dockerfile.js";
import { podSpec } from "./kustomize-build.js";
import { buildAll, find, hostContainer } from "./kustomize.js";
import { isRecord, type KubernetesObject } from "./manifests.js";

const builds = buildAll();

/**
 * `guildhall host` gives up on a graceful shutdown this long after its drain timeout and the
 * agents' stop timeout (packages/cli README).
 */
const CLI_SHUTDOWN_SLACK_MS = 10_000;

/**
 * How much longer than the host's own shutdown deadline the kubelet may wait: enough for the
 * process to exit, not so much that a stuck pod holds a rolling update up for long.
 */
const GRACE_MARGIN_MS = 15_000;

/** The pod IP the downward API would give, for expanding `$(POD_IP)`. */
const POD_IP = "10.1.2.3";

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
  };
}

function envOf(objects: KubernetesObject[]): EnvVar[] {
  return (hostContainer(objects)["env"] ?? []) as EnvVar[];
}

/** The Secret references of the host container, as `name/key`. */
function secretRefs(objects: KubernetesObject[]): string[] {
  return envOf(objects).flatMap((v) => {
    const ref = v.valueFrom?.secretKeyRef;
    return ref === undefined ? [] : [`${ref.name}/${ref.key}`];
  });
}

/**
 * The environment the container would see: `$(NAME)` expanded from earlier variables as the
 * kubelet does, the pod IP for status.podIP, and Secret values from the build (or a stand-in for
 * Secrets created outside it).
 */
function containerEnvironment(objects: KubernetesObject[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const variable of envOf(objects)) {
    let value: string;
    if (variable.value !== undefined) {
      value = variable.value.replace(
        /\$\((\w+)\)/g,
        (whole, name: string) => env.get(name) ?? whole,
      );
    } else if (variable.valueFrom?.fieldRef?.fieldPath === "status.podIP") {
      value = POD_IP;
    } else if (variable.valueFrom?.secretKeyRef !== undefined) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === name);
      const data = secret?.["data"];
      const encoded = isRecord(data) ? data[key] : undefined;
      value =
        typeof encoded === "string"
          ? Buffer.from(encoded, "base64").toString()
          : `value of secret ${name} key ${key}`;
    } else {
      throw new Error(`env ${variable.name} has a source this test does not know`);
    }
    env.set(variable.name, value);
  }
  return env;
}

/** Runs the CLI's configuration on `env`, recording every variable it reads. */
function configureHost(env: ReadonlyMap<string, string>) {
  const read = new Set<string>();
  const recording = new Proxy<Record<string, string | undefined>>(
    {},
    {
      get(_, name) {
        if (typeof name === "string") read.add(name);
        return typeof name === "string" ? env.get(name) : undefined;
      },
    },
  );
  const config = resolveHostCommandConfig({}, recording);
  return { config, read, options: resolveAgentHostOptions(config.host) };
}

function containerPort(objects: KubernetesObject[], name: string): number {
  const ports = (hostContainer(objects)["ports"] ?? []) as {
    name: string;
    containerPort: number;
  }[];
  const port = ports.find((p) => p.name === name);
  if (port === undefined) throw new Error(`the host container has no port ${name}`);
  return port.containerPort;
}

describe.each([...builds])("%s host Deployment", (name, objects) => {
  const env = containerEnvironment(objects);

  it("sets only variables `guildhall host` reads, with values it accepts", () => {
    const { read } = configureHost(env);
    const referenced = new Set(
      envOf(objects).flatMap((v) => [...(v.value ?? "").matchAll(/\$\((\w+)\)/g)].map((m) => m[1])),
    );
    const names = envOf(objects).map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const variable of names) {
      // POD_IP is there only to be expanded into GUILDHALL_ADVERTISE_ADDRESS.
      if (referenced.has(variable)) expect(read.has(variable), variable).toBe(false);
      else expect(read.has(variable), `guildhall host reads ${variable}`).toBe(true);
    }
  });

  it("advertises the pod IP and the port it listens on, and serves metrics where declared", () => {
    const { config, options } = configureHost(env);
    expect(config.backend.kind).toBe("redis");
    expect(options.port).toBe(containerPort(objects, "grpc"));
    expect(options.metricsPort).toBe(containerPort(objects, "metrics"));
    expect(options.host).toBe("0.0.0.0");
    expect(options.advertiseAddress).toBe(`${POD_IP}:${options.port}`);
  });

  it("waits a little longer than the host's own shutdown deadline (drain, then stop) before SIGKILL", () => {
    const { options, read } = configureHost(env);
    // Set in the manifest, so the grace period below is read against the value the pods run with.
    expect(env.has("GUILDHALL_DRAIN_TIMEOUT_MS")).toBe(true);
    expect(read.has("GUILDHALL_DRAIN_TIMEOUT_MS")).toBe(true);
    const grace = podSpec(find(objects, "Deployment", "guildhall-host"))?.[
      "terminationGracePeriodSeconds"
    ];
    expect(typeof grace).toBe("number");
    const deadlineMs = options.drainTimeoutMs + options.stopTimeoutMs + CLI_SHUTDOWN_SLACK_MS;
    expect((grace as number) * 1000).toBeGreaterThan(deadlineMs);
    expect((grace as number) * 1000).toBeLessThanOrEqual(deadlineMs + GRACE_MARGIN_MS);
  });

  it("probes the agent host API port with gRPC", () => {
    const container = hostContainer(objects);
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const grpc = (container[probe] as { grpc?: { port: number } }).grpc;
      expect(grpc?.port, probe).toBe(containerPort(objects, "grpc"));
    }
  });

  it("is exposed by a headless Service and scaled and protected by its own HPA and PDB", () => {
    const deployment = find(objects, "Deployment", "guildhall-host");
    const spec = deployment["spec"] as {
      replicas?: number;
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string> } };
    };
    // The autoscaler owns the replica count; a fixed one would fight it on every apply.
    expect(spec.replicas).toBeUndefined();
    expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);

    const service = find(objects, "Service", "guildhall-host")["spec"] as {
      clusterIP: string;
      selector: Record<string, string>;
      ports: { name: string; port: number; targetPort: string }[];
    };
    expect(service.clusterIP).toBe("None");
    expect(spec.template.metadata.labels).toMatchObject(service.selector);
    for (const port of service.ports) {
      expect(containerPort(objects, port.targetPort)).toBe(port.port);
    }
    expect(service.ports.map((p) => p.name).sort()).toEqual(["grpc", "metrics"]);

    const hpa = find(objects, "HorizontalPodAutoscaler", "guildhall-host")["spec"] as {
      scaleTargetRef: object;
      minReplicas: number;
    };
    expect(hpa.scaleTargetRef).toEqual({
      apiVersion: deployment.apiVersion,
      kind: "Deployment",
      name: "guildhall-host",
    });
    const pdb = find(objects, "PodDisruptionBudget", "guildhall-host")["spec"] as {
      selector: { matchLabels: Record<string, string> };
    };
    expect(spec.template.metadata.labels).toMatchObject(pdb.selector.matchLabels);
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(1);
  });

  it("allowlists the image's agents directory and runs the image of this version", () => {
    const dockerfile = parseDockerfile(
      readFileSync(fileURLToPath(new URL("../docker/Dockerfile", import.meta.url)), "utf8"),
    );
    const runtime = dockerfile.at(-1);
    expect(runtime && stageEnv(runtime).get("GUILDHALL_AGENT_MODULES")).toBe(
      env.get("GUILDHALL_AGENT_MODULES"),
    );
    const { version } = JSON.parse(
      readFileSync(
        fileURLToPath(new URL("../../packages/cli/package.json", import.meta.url)),
        "utf8",
      ),
    ) as { version: string };
    expect(hostContainer(objects)["image"]).toMatch(
      new RegExp(`/host:${version.replace(/\./g, "\\.")}$`),
    );
  });

  it("reads the Redis URL from a Secret", () => {
    expect(secretRefs(objects)).toContain("guildhall-redis/url");
    if (name === "overlays/dev") {
      // Dev generates its Secret; nothing is left to create by hand.
      for (const ref of secretRefs(objects)) {
        const [secret] = ref.split("/");
        expect(
          objects.some((o) => o.kind === "Secret" && o.metadata.name === secret),
          ref,
        ).toBe(true);
      }
    } else {
      // Elsewhere no Secret value is committed: the Secrets are created beside the manifests,
      // as deploy/README.md tells.
      expect(objects.some((o) => o.kind === "Secret")).toBe(false);
      const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
      for (const ref of secretRefs(objects)) {
        const [secret, key] = ref.split("/");
        expect(readme).toMatch(
          new RegExp(`create secret generic ${secret} [^\\n]*--from-literal=${key}=`),
        );
      }
    }
  });
});

describe("overlays/prod", () => {
  it("requires a token on the host API", () => {
    const prod = builds.get("overlays/prod") ?? [];
    expect(secretRefs(prod)).toEqual(["guildhall-redis/url", "guildhall-token/token"]);
    const { config } = configureHost(containerEnvironment(prod));
    expect(config.host.token).toBe("value of secret guildhall-token key token");
  });
});
