import { defineConfig } from "vitest/config";

// The scale scenarios (a host of 1,000 sleeping agents killed, a flood of 100,000 messages) each
// saturate both cores for tens of seconds: they run one at a time, after the fault suite, so they
// never disturb its timed recoveries nor each other.
export default defineConfig({
  test: {
    include: ["test/scale/**/*.test.ts"],
    setupFiles: ["test/support/failures.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
