// Validates objects against the Kubernetes OpenAPI schemas through kubernetes-models, which has one
// class per kind under its apiVersion (kubernetes-models/apps/v1 exports Deployment, …). The class
// is found from the object's own apiVersion and kind, so a kind the library does not know fails.
import { describeObject, type KubernetesObject } from "./manifests.js";

interface ModelClass {
  readonly apiVersion: unknown;
  readonly kind: unknown;
  new (data: unknown): { validate(): void };
}

function isModelClass(value: unknown): value is ModelClass {
  return (
    typeof value === "function" &&
    "apiVersion" in value &&
    "kind" in value &&
    "prototype" in value &&
    typeof (value.prototype as { validate?: unknown }).validate === "function"
  );
}

/** The kubernetes-models class of `apiVersion`/`kind`. */
async function modelClass(apiVersion: string, kind: string): Promise<ModelClass> {
  // Resolved by Node at run time from the package's exports map, one entry per apiVersion.
  const specifier = `kubernetes-models/${apiVersion}`;
  let module: Record<string, unknown>;
  try {
    module = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `apiVersion ${apiVersion} is not a Kubernetes API that kubernetes-models knows (${(error as Error).message})`,
      { cause: error },
    );
  }
  const model = Object.values(module).find(
    (value) => isModelClass(value) && value.apiVersion === apiVersion && value.kind === kind,
  );
  if (model === undefined || !isModelClass(model)) {
    throw new Error(`${apiVersion} has no kind ${kind}`);
  }
  return model;
}

/**
 * Validates `object` against the schema of its apiVersion and kind.
 *
 * @throws Error naming the object and what in it does not match, or that its kind is unknown
 */
export async function validateKubernetesObject(object: KubernetesObject): Promise<void> {
  const Model = await modelClass(object.apiVersion, object.kind);
  try {
    new Model(object).validate();
  } catch (error) {
    throw new Error(`${object.apiVersion} ${describeObject(object)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
