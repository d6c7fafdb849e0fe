// The Redis servers the manifests run, and what keeps their data: the directives on a container's
// redis-server command line, and the volume its data directory is on. Durable agents commit their
// state, read positions and outbox to the bus Redis, so a Redis of the manifests must write an
// append-only file, fsync it at least once a second, and keep it on a persistent volume.
import { podSpec } from "./kustomize-build.js";
import { describeObject, isRecord, type KubernetesObject } from "./manifests.js";

/** The fsync policies that lose at most about a second of acknowledged writes on a power loss. */
const DURABLE_FSYNC = new Set(["always", "everysec"]);

/** Redis's own default of each directive this check reads. */
const REDIS_DEFAULTS: Readonly<Record<string, string>> = {
  appendonly: "no",
  appendfsync: "everysec",
};

/** A container that runs Redis, with the workload it belongs to. */
export interface RedisContainer {
  workload: KubernetesObject;
  container: Record<string, unknown>;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** Whether `image` is Redis (`redis`, `redis:7.2`, `docker.io/library/redis@sha256:…`). */
function isRedisImage(image: unknown): boolean {
  if (typeof image !== "string") return false;
  const repository = image.split("@", 1)[0]?.replace(/:[^/]*$/, "") ?? "";
  return repository.split("/").at(-1) === "redis";
}

/** Every container of `objects` whose image is Redis. */
export function redisContainers(objects: KubernetesObject[]): RedisContainer[] {
  return objects.flatMap((workload) => {
    const containers = podSpec(workload)?.["containers"];
    return (Array.isArray(containers) ? containers : [])
      .filter(isRecord)
      .filter((container) => isRedisImage(container["image"]))
      .map((container) => ({ workload, container }));
  });
}

/**
 * The directives on `container`'s redis-server command line (`--appendonly yes` → appendonly: "yes"),
 * names lower-cased; a directive with several words (`--save 3600 1`) joins them with spaces.
 *
 * @throws Error when the command names a configuration file, whose directives this cannot read
 */
export function redisDirectives(container: Record<string, unknown>): Map<string, string> {
  const words = [...strings(container["command"]), ...strings(container["args"])];
  // The official image's entrypoint runs redis-server when the first argument is an option.
  if (words[0] === "redis-server") words.shift();
  const first = words[0];
  if (first !== undefined && !first.startsWith("--")) {
    throw new Error(
      `container ${String(container["name"])} runs ${first}: give Redis its settings as --options`,
    );
  }
  const directives = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const word of words) {
    if (word.startsWith("--")) {
      current = [];
      directives.set(word.slice(2).toLowerCase(), current);
    } else {
      current?.push(word);
    }
  }
  return new Map([...directives].map(([name, values]) => [name, values.join(" ")]));
}

/** The volume `mountPath` of `container` is on: the mount that is the longest prefix of it. */
function volumeAt(container: Record<string, unknown>, mountPath: string): string | undefined {
  const mounts = (Array.isArray(container["volumeMounts"]) ? container["volumeMounts"] : [])
    .filter(isRecord)
    .filter((mount) => {
      const at = String(mount["mountPath"]).replace(/\/+$/, "");
      return mountPath === at || mountPath.startsWith(`${at}/`);
    })
    .sort((a, b) => String(b["mountPath"]).length - String(a["mountPath"]).length);
  const name = mounts[0]?.["name"];
  return typeof name === "string" ? name : undefined;
}

/** Whether the volume `name` of `workload` is persistent: a claim, or a claim template of a StatefulSet. */
function isPersistentVolume(workload: KubernetesObject, name: string): boolean {
  const spec = workload["spec"];
  const templates =
    workload.kind === "StatefulSet" && isRecord(spec) && Array.isArray(spec["volumeClaimTemplates"])
      ? spec["volumeClaimTemplates"].filter(isRecord)
      : [];
  if (
    templates.some(
      (template) => isRecord(template["metadata"]) && template["metadata"]["name"] === name,
    )
  ) {
    return true;
  }
  const volumes = podSpec(workload)?.["volumes"];
  const volume = (Array.isArray(volumes) ? volumes : [])
    .filter(isRecord)
    .find((v) => v["name"] === name);
  return volume !== undefined && isRecord(volume["persistentVolumeClaim"]);
}

/**
 * What keeps the Redis of `redis` from being durable: no append-only file, an fsync policy that
 * may lose more than about a second, a data directory not named or not on a persistent volume.
 * Empty when it is durable.
 */
export function redisDurabilityProblems({ workload, container }: RedisContainer): string[] {
  const where = `${describeObject(workload)} container ${String(container["name"])}`;
  const directives = redisDirectives(container);
  const setting = (name: string): string => directives.get(name) ?? REDIS_DEFAULTS[name] ?? "";
  const problems: string[] = [];
  if (setting("appendonly") !== "yes") {
    problems.push(`${where}: appendonly is ${setting("appendonly")}, not yes`);
  }
  if (!DURABLE_FSYNC.has(setting("appendfsync"))) {
    problems.push(`${where}: appendfsync is ${setting("appendfsync")}, not everysec or always`);
  }
  const dir = directives.get("dir");
  if (dir === undefined || !dir.startsWith("/")) {
    problems.push(`${where}: no absolute --dir, so where the data goes depends on the image`);
    return problems;
  }
  const volume = volumeAt(container, dir.replace(/\/+$/, ""));
  if (volume === undefined) {
    problems.push(`${where}: the data directory ${dir} is on the container's root file system`);
  } else if (!isPersistentVolume(workload, volume)) {
    problems.push(
      `${where}: the data directory ${dir} is on volume ${volume}, which is not a PersistentVolumeClaim`,
    );
  }
  return problems;
}
