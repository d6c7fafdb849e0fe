import { defineConfig } from "vitest/config";

// Each scenario file runs its own network, redis-server and host processes, so files run side by
// side; the time allowed is each scenario's failure bound (fault, recovery, start-up on a busy
// machine), never a sleep.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Run alone, after this suite: vitest.scale.config.ts.
    exclude: ["test/scale/**"],
    setupFiles: ["test/support/failures.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: true,
    maxWorkers: 3,
  },
});
