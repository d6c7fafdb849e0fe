// Vitest global setup for test runs that need Redis: one private redis-server for the whole run,
// or the server REDIS_URL points at; tests read its URL with testRedisUrl(). Use it as
// `test: { globalSetup: ["@guildhall/testing/redis-global-setup"] }` in vitest.config.ts.
import type { TestProject } from "vitest/node";
import { startRedisServer } from "./redis-server.js";
import type {} from "./test-redis-url.js";

/** Starts the run's redis-server (unless REDIS_URL is set) and returns what stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env["REDIS_URL"];
  if (given !== undefined && given !== "") {
    project.provide("redisUrl", given);
    return async () => {};
  }
  const server = await startRedisServer();
  project.provide("redisUrl", server.url);
  return () => server.stop();
}
