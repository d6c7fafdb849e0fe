// Vitest global setup for packages whose tests need Redis: one private redis-server for the whole
// run (or REDIS_URL when given), handed to tests as `inject("redisUrl")`.
import type { TestProject } from "vitest/node";
import { startRedisServer } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

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
