import { defineConfig } from "vitest/config";
import { RUN_ALONE } from "./vitest.alone.config.js";

// Each scenario file runs its own network, redis-server and host processes, so files run side by
// side; the time allowed is each scenario's failure bound (fault, recovery, start-up on a busy
// machine), never a sleep.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Run one at a time, after this suite: vitest.alone.config.ts.
    exclude: RUN_ALONE,
    setupFiles: ["test/support/failures.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: true,
    maxWorkers: 3,
  },
});
