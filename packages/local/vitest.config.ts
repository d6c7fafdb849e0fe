import { defineConfig } from "vitest/config";

// The tests start real agent hosts, agent processes and a redis-server; the time allowed is for
// process start-up on a busy machine, never for sleeping.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["@guildhall/testing/redis-global-setup"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
