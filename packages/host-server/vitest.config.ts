import { defineConfig } from "vitest/config";

// Integration tests start real hosts, agent processes and redis-servers; the time allowed is for
// process start-up on a busy machine, never for sleeping.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["@guildhall/testing/redis-global-setup"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
