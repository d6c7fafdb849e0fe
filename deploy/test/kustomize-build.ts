// Builds a kustomization the way `kustomize build` does, for the features these manifests use:
// resources (files, and directories holding a kustomization), secretGenerator literals, strategic
// merge patches of objects the resources define, images and namespace. Any other field is refused,
// so a kustomization cannot silently use something this build would ignore. Two simplifications,
// neither of which changes what the tests check: generated Secrets keep their name (kustomize adds a
// content hash and rewrites the references to it), and Namespace objects keep theirs.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import {
  describeObject,
  isRecord,
  readKubernetesObjects,
  type KubernetesObject,
} from "./manifests.js";
import { strategicMerge } from "./strategic-merge.js";

const SUPPORTED_FIELDS = new Set([
  "apiVersion",
  "kind",
  "namespace",
  "resources",
  "secretGenerator",
  "patches",
  "images",
]);

/** Kinds without a namespace, which the namespace field leaves alone. */
const CLUSTER_SCOPED_KINDS = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PersistentVolume",
  "PriorityClass",
  "StorageClass",
]);

/** The parsed kustomization.yaml of `dir`. */
function readKustomization(dir: string): Record<string, unknown> {
  const file = path.join(dir, "kustomization.yaml");
  if (!existsSync(file)) throw new Error(`${dir} has no kustomization.yaml`);
  const kustomization: unknown = parse(readFileSync(file, "utf8"));
  if (!isRecord(kustomization) || kustomization["kind"] !== "Kustomization") {
    throw new Error(`${file} is not a Kustomization`);
  }
  for (const field of Object.keys(kustomization)) {
    if (!SUPPORTED_FIELDS.has(field)) {
      throw new Error(
        `${file}: field ${field} is not supported by this build; use ${[...SUPPORTED_FIELDS].join(", ")}`,
      );
    }
  }
  return kustomization;
}

function list(kustomization: Record<string, unknown>, field: string, file: string): unknown[] {
  const value = kustomization[field] ?? [];
  if (!Array.isArray(value)) throw new Error(`${file}: ${field} must be a list`);
  return value;
}

/** The path of a `resources:`/`patches:` entry, which must exist. */
function existingPath(dir: string, entry: unknown, field: string): string {
  if (typeof entry !== "string") throw new Error(`${dir}: ${field} entries must be paths`);
  const resolved = path.resolve(dir, entry);
  if (!existsSync(resolved)) {
    throw new Error(`${dir}/kustomization.yaml: ${field} entry ${entry} does not exist`);
  }
  return resolved;
}

function generateSecret(dir: string, generator: unknown): KubernetesObject {
  if (!isRecord(generator) || typeof generator["name"] !== "string") {
    throw new Error(`${dir}: a secretGenerator entry needs a name`);
  }
  const keys = new Set(["name", "literals", "type"]);
  for (const key of Object.keys(generator)) {
    if (!keys.has(key)) throw new Error(`${dir}: secretGenerator field ${key} is not supported`);
  }
  const data: Record<string, string> = {};
  for (const literal of (generator["literals"] ?? []) as unknown[]) {
    const text = String(literal);
    const equals = text.indexOf("=");
    if (equals <= 0) throw new Error(`${dir}: secretGenerator literal ${text} is not key=value`);
    data[text.slice(0, equals)] = Buffer.from(text.slice(equals + 1)).toString("base64");
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: generator["name"] },
    type: generator["type"] ?? "Opaque",
    data,
  };
}

function applyPatch(dir: string, entry: unknown, objects: KubernetesObject[]): void {
  if (!isRecord(entry) || Object.keys(entry).some((key) => key !== "path")) {
    throw new Error(
      `${dir}: patches entries must be { path } (strategic merge, target taken from the patch)`,
    );
  }
  const file = existingPath(dir, entry["path"], "patches");
  for (const patch of readKubernetesObjects(file)) {
    const index = objects.findIndex(
      (object) =>
        object.apiVersion === patch.apiVersion &&
        object.kind === patch.kind &&
        object.metadata.name === patch.metadata.name,
    );
    const target = objects[index];
    if (target === undefined) {
      throw new Error(
        `${file} patches ${describeObject(patch)}, which the resources do not define`,
      );
    }
    objects[index] = strategicMerge(target, patch) as KubernetesObject;
  }
}

/** The repository of an image reference `repository[:tag][@digest]`. */
function imageName(image: string): string {
  const withoutDigest = image.split("@", 1)[0] ?? image;
  const colon = withoutDigest.lastIndexOf(":");
  return colon > withoutDigest.lastIndexOf("/") ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** The containers (init, app and ephemeral) of `object`'s pod spec, if it has one. */
function podContainers(object: KubernetesObject): Record<string, unknown>[] {
  const spec = podSpec(object);
  if (spec === undefined) return [];
  return ["initContainers", "containers", "ephemeralContainers"].flatMap((field) =>
    Array.isArray(spec[field]) ? (spec[field] as unknown[]).filter(isRecord) : [],
  );
}

/** The pod spec of a Pod or of a workload's pod template, if `object` has one. */
export function podSpec(object: KubernetesObject): Record<string, unknown> | undefined {
  if (object.kind === "Pod") return isRecord(object["spec"]) ? object["spec"] : undefined;
  const spec = object["spec"];
  const template = isRecord(spec) ? spec["template"] : undefined;
  const templateSpec = isRecord(template) ? template["spec"] : undefined;
  return isRecord(templateSpec) ? templateSpec : undefined;
}

function setImages(dir: string, entries: unknown[], objects: KubernetesObject[]): void {
  for (const entry of entries) {
    if (!isRecord(entry) || typeof entry["name"] !== "string") {
      throw new Error(`${dir}: images entries need a name`);
    }
    const { name, newName, newTag } = entry;
    for (const container of objects.flatMap(podContainers)) {
      const image = container["image"];
      if (typeof image !== "string" || imageName(image) !== name) continue;
      const tag = image.slice(imageName(image).length);
      container["image"] =
        `${typeof newName === "string" ? newName : name}${typeof newTag === "string" ? `:${newTag}` : tag}`;
    }
  }
}

function setNamespace(namespace: string, objects: KubernetesObject[]): void {
  for (const object of objects) {
    if (CLUSTER_SCOPED_KINDS.has(object.kind)) continue;
    object.metadata.namespace = namespace;
    // Kustomize moves the service accounts a binding names along with them.
    if (object.kind === "RoleBinding" && Array.isArray(object["subjects"])) {
      for (const subject of object["subjects"] as unknown[]) {
        if (isRecord(subject) && subject["kind"] === "ServiceAccount") {
          subject["namespace"] = namespace;
        }
      }
    }
  }
}

/**
 * Builds the kustomization in `dir` into the objects `kustomize build dir` would output.
 *
 * @throws Error naming the file and entry when a resource or patch file is missing, a patch targets
 *   an object the resources do not define, or the kustomization uses an unsupported field
 */
export function kustomizeBuild(dir: string): KubernetesObject[] {
  const file = path.join(dir, "kustomization.yaml");
  const kustomization = readKustomization(dir);
  const objects: KubernetesObject[] = [];
  for (const entry of list(kustomization, "resources", file)) {
    const resource = existingPath(dir, entry, "resources");
    objects.push(
      ...(statSync(resource).isDirectory()
        ? kustomizeBuild(resource)
        : readKubernetesObjects(resource)),
    );
  }
  for (const generator of list(kustomization, "secretGenerator", file)) {
    objects.push(generateSecret(dir, generator));
  }
  const seen = new Set<string>();
  for (const object of objects) {
    const id = `${object.apiVersion} ${describeObject(object)}`;
    if (seen.has(id)) throw new Error(`${file}: ${id} is defined twice`);
    seen.add(id);
  }
  for (const patch of list(kustomization, "patches", file)) applyPatch(dir, patch, objects);
  setImages(dir, list(kustomization, "images", file), objects);
  const namespace = kustomization["namespace"];
  if (namespace !== undefined) {
    if (typeof namespace !== "string") throw new Error(`${file}: namespace must be a string`);
    setNamespace(namespace, objects);
  }
  return objects;
}
