// Reading Kubernetes manifests: every YAML document of a file as one object, refused with the file's
// name when it is not a Kubernetes object, so a typo fails where it was made.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

/** A Kubernetes object as written in a manifest. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** Whether `value` is a plain object (a YAML mapping). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses every YAML document of `file`, failing on a syntax error or a document that is not an object. */
export function readYamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, "utf8")).map((document, index) => {
    if (document.errors.length > 0) {
      throw new Error(
        `${file}, document ${index + 1}: ${document.errors.map((e) => e.message).join("; ")}`,
      );
    }
    return document.toJS() as unknown;
  });
}

/** Parses `file` as Kubernetes objects (apiVersion, kind and metadata.name each present). */
export function readKubernetesObjects(file: string): KubernetesObject[] {
  return readYamlDocuments(file).flatMap((document, index): KubernetesObject[] => {
    // An empty document (a trailing `---`) holds nothing, as kubectl sees it.
    if (document === null) return [];
    const where = `${file}, document ${index + 1}`;
    if (!isRecord(document)) throw new Error(`${where} is not a mapping`);
    const { apiVersion, kind, metadata } = document;
    if (typeof apiVersion !== "string" || typeof kind !== "string") {
      throw new Error(`${where} has no apiVersion or kind`);
    }
    if (!isRecord(metadata) || typeof metadata["name"] !== "string") {
      throw new Error(`${where} (${kind}) has no metadata.name`);
    }
    return [document as KubernetesObject];
  });
}

/** `Kind/name` of an object, for messages. */
export function describeObject(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata.name}`;
}
