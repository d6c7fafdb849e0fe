// The part of Kubernetes' strategic merge patch these manifests use: mappings merge key by key
// (null deletes), lists of named things merge by their merge key as the API declares it
// (containers and env by name, ports by containerPort, …), any other list is replaced.
// Directives ($patch, $retainKeys, …) are refused rather than misread.
import { isRecord } from "./manifests.js";

/** The merge key of each list field the Kubernetes API merges, by field name. */
type MergeKeyOf = (item: Record<string, unknown>) => string;

const MERGE_KEYS: ReadonlyMap<string, MergeKeyOf> = new Map<string, MergeKeyOf>([
  ["containers", () => "name"],
  ["initContainers", () => "name"],
  ["ephemeralContainers", () => "name"],
  ["env", () => "name"],
  ["volumes", () => "name"],
  ["volumeMounts", () => "mountPath"],
  ["imagePullSecrets", () => "name"],
  ["topologySpreadConstraints", () => "topologyKey"],
  // Container ports merge by containerPort, Service ports by port.
  ["ports", (item) => ("containerPort" in item ? "containerPort" : "port")],
]);

function mergeList(
  field: string,
  base: unknown[],
  patch: unknown[],
  keyOf: (item: Record<string, unknown>) => string,
): unknown[] {
  const merged = [...base];
  for (const item of patch) {
    if (!isRecord(item)) throw new Error(`patch of list ${field} holds a non-object item`);
    const key = keyOf(item);
    if (item[key] === undefined) {
      throw new Error(`patch of list ${field} has an item without its merge key ${key}`);
    }
    const index = merged.findIndex((existing) => isRecord(existing) && existing[key] === item[key]);
    if (index === -1) merged.push(item);
    else merged[index] = strategicMerge(merged[index], item, field);
  }
  return merged;
}

/**
 * Applies the strategic merge patch `patch` to `base` (neither is modified) and returns the result.
 *
 * @param field the name of the field `base` is the value of, which decides how lists merge
 * @throws Error on a patch directive, or a list item without its merge key
 */
export function strategicMerge(base: unknown, patch: unknown, field = ""): unknown {
  if (isRecord(patch)) {
    const result: Record<string, unknown> = isRecord(base) ? { ...base } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith("$")) throw new Error(`patch directive ${key} is not supported`);
      if (value === null) delete result[key];
      else result[key] = strategicMerge(result[key], value, key);
    }
    return result;
  }
  const keyOf = MERGE_KEYS.get(field);
  if (Array.isArray(patch) && Array.isArray(base) && keyOf !== undefined) {
    return mergeList(field, base, patch, keyOf);
  }
  return patch;
}
