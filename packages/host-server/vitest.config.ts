import { defineConfig } from "vitest/config";

// Integration tests start real hosts, agent processes and redis-servers; the time allowed is for
// process start-up on a busy machine, never for sleeping.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["../../tools/redis/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
