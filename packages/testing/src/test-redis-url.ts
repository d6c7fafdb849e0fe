// The Redis of a test run, as `@guildhall/testing/redis-global-setup` provides it to the tests.
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** The URL of the run's Redis: set by `@guildhall/testing/redis-global-setup`. */
    redisUrl: string;
  }
}

/**
 * The URL of the Redis that the global setup `@guildhall/testing/redis-global-setup` started for
 * this test run, or `REDIS_URL` when that was set. Tests share it: each should keep to a key
 * prefix of its own. Throws when the global setup is not configured.
 *
 * @example
 * ```ts
 * // vitest.config.ts: test: { globalSetup: ["@guildhall/testing/redis-global-setup"] }
 * const bus = new RedisBus({ url: testRedisUrl(), prefix: `test-${randomUUID()}:` });
 * ```
 */
export function testRedisUrl(): string {
  const url = inject("redisUrl") as string | undefined;
  if (url === undefined || url === "") {
    throw new Error(
      'no Redis was provided to this test run: add "@guildhall/testing/redis-global-setup" to ' +
        "test.globalSetup in vitest.config.ts (it starts a redis-server, or uses REDIS_URL)",
    );
  }
  return url;
}
