import { defineConfig } from "vitest/config";

// Each runnable README block is run as a reader would run it, one after the other (they share the
// checkout); the time allowed is for a cold start on a busy machine, never for sleeping. Examples
// that need Redis get the run's private redis-server.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 330_000,
    fileParallelism: false,
    globalSetup: ["@guildhall/testing/redis-global-setup"],
  },
});
