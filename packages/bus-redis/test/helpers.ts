// Shared by the RedisBus tests: a random key prefix per test, removal of its keys, and a check that
// a closed bus left no connection behind.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { testRedisUrl, waitFor } from "@guildhall/testing";
import { RedisBus, type RedisBusOptions } from "../src/index.js";

/** A key prefix no other test uses. */
export function randomPrefix(): string {
  return `test-${randomBytes(6).toString("hex")}:`;
}

/** The names of the connections Redis at `url` has for buses of `prefix`. */
export async function busConnections(admin: Redis, prefix: string): Promise<string[]> {
  const list = (await admin.client("LIST")) as string;
  return list
    .split("\n")
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "")
    .filter((name) => name.startsWith("guildhall-bus") && name.endsWith(`:${prefix}`));
}

/** The CLIENT LIST fields of each connection of buses of `prefix`. */
export async function busConnectionFields(
  admin: Redis,
  prefix: string,
): Promise<Array<Record<string, string>>> {
  const list = (await admin.client("LIST")) as string;
  return list
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) =>
      Object.fromEntries(
        line
          .trim()
          .split(" ")
          .map((field) => {
            const at = field.indexOf("=");
            return [field.slice(0, at), field.slice(at + 1)];
          }),
      ),
    )
    .filter(
      (fields) =>
        fields["name"]?.startsWith("guildhall-bus") && fields["name"].endsWith(`:${prefix}`),
    );
}

/** Fails unless every connection of buses of `prefix` is gone (closing is prompt). */
export async function expectNoBusConnections(admin: Redis, prefix: string): Promise<void> {
  let left: string[] = [];
  await waitFor(async () => (left = await busConnections(admin, prefix)).length === 0, {
    description: () => `every connection to close; open: ${left.join(", ")}`,
    timeoutMs: 2_000,
  });
  expect(left).toEqual([]);
}

/** Removes every key under `prefix`. */
export async function deleteKeys(admin: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await admin.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}

/** Buses made for one test on the private test Redis, and a connection to look at what they did. */
export interface BusHarness {
  /** A connection of its own to the test Redis, open for the whole file. */
  readonly admin: () => Redis;
  /** A bus on a fresh prefix (or `options.prefix`), closed and checked for leaks after the test. */
  readonly makeBus: (options?: Partial<RedisBusOptions>) => { bus: RedisBus; prefix: string };
  /** Closes a bus made by this harness now, as after the test. */
  readonly track: (bus: RedisBus) => void;
}

/**
 * Registers the hooks of a test file whose tests make buses: after each test, its buses are closed,
 * checked to have left no connection, and their keys removed.
 */
export function useBuses(): BusHarness {
  const url = testRedisUrl();
  let admin: Redis | undefined;
  let buses: RedisBus[] = [];
  let prefixes = new Set<string>();
  beforeAll(() => {
    admin = new Redis(url);
  });
  afterAll(async () => {
    await admin?.quit();
  });
  afterEach(async () => {
    const closing = buses;
    const checking = prefixes;
    buses = [];
    prefixes = new Set();
    await Promise.all(closing.map((bus) => bus.close()));
    for (const prefix of checking) {
      await expectNoBusConnections(admin!, prefix);
      await deleteKeys(admin!, prefix);
    }
  });
  return {
    admin: () => admin!,
    makeBus: (options = {}) => {
      const prefix = options.prefix ?? randomPrefix();
      const bus = new RedisBus({ url, ...options, prefix });
      buses.push(bus);
      prefixes.add(prefix);
      return { bus, prefix };
    },
    track: (bus) => void buses.push(bus),
  };
}
