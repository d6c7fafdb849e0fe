// The kustomizations under deploy/kustomize, built once per test file.
import { fileURLToPath } from "node:url";
import { kustomizeBuild, podSpec } from "./kustomize-build.js";
import { describeObject, type KubernetesObject } from "./manifests.js";

/** deploy/kustomize. */
export const KUSTOMIZE_DIR = fileURLToPath(new URL("../kustomize/", import.meta.url));

/** The kustomizations to deploy, by name, relative to {@link KUSTOMIZE_DIR}. */
export const KUSTOMIZATIONS = ["base", "overlays/dev", "overlays/prod"] as const;

/** What `kustomize build` outputs for each of {@link KUSTOMIZATIONS}. */
export function buildAll(): Map<(typeof KUSTOMIZATIONS)[number], KubernetesObject[]> {
  return new Map(
    KUSTOMIZATIONS.map((name) => [name, kustomizeBuild(`${KUSTOMIZE_DIR}${name}`)] as const),
  );
}

/** The one object of `kind` named `name` among `objects`. */
export function find(objects: KubernetesObject[], kind: string, name: string): KubernetesObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) {
    throw new Error(
      `expected one ${kind}/${name}, found ${found.length} among ${objects.map(describeObject).join(", ")}`,
    );
  }
  return found[0] as KubernetesObject;
}

/** The container of the agent host Deployment. */
export function hostContainer(objects: KubernetesObject[]): Record<string, unknown> {
  const spec = podSpec(find(objects, "Deployment", "guildhall-host"));
  const containers = (spec?.["containers"] ?? []) as Record<string, unknown>[];
  const host = containers.find((c) => c["name"] === "host");
  if (host === undefined) throw new Error("the guildhall-host Deployment has no container host");
  return host;
}
