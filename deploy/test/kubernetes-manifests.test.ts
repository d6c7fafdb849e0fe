// Every manifest parses, every kustomization builds (its resources and patch files exist, its
// patches target objects of its bases), and every object the builds output is valid against the
// Kubernetes schema of its kind.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kustomizeBuild } from "./kustomize-build.js";
import { KUSTOMIZATIONS, KUSTOMIZE_DIR, buildAll, find } from "./kustomize.js";
import { describeObject, readKubernetesObjects, type KubernetesObject } from "./manifests.js";
import { validateKubernetesObject } from "./kubernetes-schema.js";
import { strategicMerge } from "./strategic-merge.js";

/** Every .yaml file under `dir`. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".yaml"))
    .map((file) => path.join(dir, file));
}

// Builds run inside the tests, so a kustomization that fails to build fails a named test.
describe("kustomizations", () => {
  it.each(KUSTOMIZATIONS)("%s builds into schema-valid objects", async (name) => {
    const objects = kustomizeBuild(path.join(KUSTOMIZE_DIR, name));
    expect(objects.length).toBeGreaterThan(5);
    for (const object of objects) await validateKubernetesObject(object);
  });

  it("use every manifest file, and each file holds Kubernetes objects", () => {
    const files = yamlFiles(KUSTOMIZE_DIR).filter((f) => !f.endsWith("kustomization.yaml"));
    expect(files.length).toBeGreaterThan(8);
    const referenced = new Set<string>();
    for (const name of KUSTOMIZATIONS) {
      const dir = path.join(KUSTOMIZE_DIR, name);
      const kustomization = parse(readFileSync(path.join(dir, "kustomization.yaml"), "utf8")) as {
        resources?: string[];
        patches?: { path: string }[];
      };
      for (const entry of [
        ...(kustomization.resources ?? []),
        ...(kustomization.patches ?? []).map((patch) => patch.path),
      ]) {
        referenced.add(path.join(dir, entry));
      }
    }
    for (const file of files) {
      expect(readKubernetesObjects(file).length, file).toBeGreaterThan(0);
      expect(referenced.has(file), `${file} is used by a kustomization`).toBe(true);
    }
  });

  it("put everything in the namespace the base creates", () => {
    for (const [name, objects] of buildAll()) {
      const namespace = find(objects, "Namespace", "guildhall");
      for (const object of objects.filter((o) => o !== namespace)) {
        expect(object.metadata.namespace, `${name}: ${describeObject(object)}`).toBe(
          namespace.metadata.name,
        );
      }
    }
  });

  it("overlays add to the base and patch only objects it defines", () => {
    const all = buildAll();
    const base = all.get("base") ?? [];
    for (const overlay of ["overlays/dev", "overlays/prod"] as const) {
      const objects = all.get(overlay) ?? [];
      for (const object of base) {
        expect(
          objects.some((o) => o.kind === object.kind && o.metadata.name === object.metadata.name),
          `${overlay} keeps ${describeObject(object)}`,
        ).toBe(true);
      }
    }
    // The dev overlay's patches took effect on the base's objects.
    const dev = all.get("overlays/dev") ?? [];
    expect(find(dev, "HorizontalPodAutoscaler", "guildhall-host")["spec"]).toMatchObject({
      minReplicas: 1,
      maxReplicas: 3,
    });
  });
});

describe("the kustomize build", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A kustomization in a fresh directory, with `files` next to it. */
  function kustomization(text: string, files: Record<string, string> = {}): string {
    dir = mkdtempSync(path.join(tmpdir(), "guildhall-kustomize-"));
    writeFileSync(path.join(dir, "kustomization.yaml"), text);
    for (const [name, content] of Object.entries(files))
      writeFileSync(path.join(dir, name), content);
    return dir;
  }

  const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n";

  it("fails on a resource that does not exist, naming it", () => {
    const at = kustomization("kind: Kustomization\nresources:\n  - missing.yaml\n");
    expect(() => kustomizeBuild(at)).toThrow(/resources entry missing\.yaml does not exist/);
  });

  it("fails on a patch of an object the resources do not define", () => {
    const at = kustomization(
      "kind: Kustomization\nresources:\n  - cm.yaml\npatches:\n  - path: patch.yaml\n",
      {
        "cm.yaml": configMap,
        "patch.yaml": configMap.replace("settings", "other") + "data:\n  a: b\n",
      },
    );
    expect(() => kustomizeBuild(at)).toThrow(/patches ConfigMap\/other, which the resources/);
  });

  it("fails on a field it would otherwise ignore", () => {
    const at = kustomization("kind: Kustomization\ncommonLabels:\n  a: b\n");
    expect(() => kustomizeBuild(at)).toThrow(/field commonLabels is not supported/);
  });

  it("fails on a kind the Kubernetes schemas do not have, and on an invalid field", async () => {
    const object = (kind: string, extra: Record<string, unknown> = {}): KubernetesObject => ({
      apiVersion: "apps/v1",
      kind,
      metadata: { name: "x" },
      ...extra,
    });
    await expect(validateKubernetesObject(object("Deploymnt"))).rejects.toThrow(
      /apps\/v1 has no kind Deploymnt/,
    );
    await expect(
      validateKubernetesObject({
        ...object("ServiceMonitor"),
        apiVersion: "monitoring.coreos.com/v1",
      }),
    ).rejects.toThrow(/not a Kubernetes API/);
    await expect(
      validateKubernetesObject(object("Deployment", { spec: { replicas: "two" } })),
    ).rejects.toThrow(/Deployment\/x: .*replicas/);
  });

  it("merges lists of named things by their key and replaces other lists", () => {
    const base = {
      containers: [{ name: "a", env: [{ name: "X", value: "1" }], args: ["p", "q"] }],
    };
    const patch = {
      containers: [{ name: "a", env: [{ name: "Y", value: "2" }], args: ["r"] }, { name: "b" }],
    };
    expect(strategicMerge(base, patch)).toEqual({
      containers: [
        {
          name: "a",
          env: [
            { name: "X", value: "1" },
            { name: "Y", value: "2" },
          ],
          args: ["r"],
        },
        { name: "b" },
      ],
    });
    expect(strategicMerge({ a: 1, b: 2 }, { a: null })).toEqual({ b: 2 });
    expect(() => strategicMerge({}, { $patch: "delete" })).toThrow(/\$patch is not supported/);
  });
});
