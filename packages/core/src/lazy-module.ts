// Every agent process imports this package (for `Agent`), and loading zod and yaml costs about
// 90 ms of CPU: more than starting Node.js itself. An agent process rarely validates anything (its
// host validates what it is sent), so both load, and each schema is built, on first use instead.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as OtelApi from "@opentelemetry/api";
import type * as Yaml from "yaml";
import type { z } from "zod";

const require = createRequire(import.meta.url);

/**
 * Loads `specifier` synchronously, through the entry `import` would use. For an ES module that is
 * the very instance a static `import` elsewhere in the process gets (Node.js shares one module
 * cache between `import` and `require` of ES modules), so schemas built here compose with schemas
 * built by other packages.
 */
function loadModule<T>(specifier: string): T {
  return require(fileURLToPath(import.meta.resolve(specifier))) as T;
}

/** The `z` namespace of zod. */
export type Zod = typeof z;

let zod: Zod | undefined;

/** zod, loaded on the first call. */
export function loadZod(): Zod {
  zod ??= loadModule<{ z: Zod }>("zod").z;
  return zod;
}

let yaml: typeof Yaml | undefined;

/** The yaml package, loaded on the first call. */
export function loadYaml(): typeof Yaml {
  yaml ??= loadModule<typeof Yaml>("yaml");
  return yaml;
}

let otelApi: typeof OtelApi | undefined;

/**
 * The OpenTelemetry API, loaded on the first call. Its ES build is some fifty files (about 30 ms
 * of CPU), which agent processes never need: their hosts trace for them.
 */
export function loadOtelApi(): typeof OtelApi {
  otelApi ??= loadModule<typeof OtelApi>("@opentelemetry/api");
  return otelApi;
}

/**
 * A zod schema built by `build` the first time anything touches it. The returned object stands
 * for the schema in every way zod and callers use one (properties, methods, `instanceof`,
 * composition into other schemas), so it can be exported as the schema itself.
 */
export function lazySchema<T extends object>(build: (z: Zod) => T): T {
  let schema: T | undefined;
  const real = (): T => (schema ??= build(loadZod()));
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(real(), key),
    set: (_, key, value) => Reflect.set(real(), key, value),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    // Reported configurable: the proxy's own (empty) target cannot back a non-configurable one.
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(real(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(real(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
}
