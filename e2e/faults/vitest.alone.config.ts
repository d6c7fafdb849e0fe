import { defineConfig } from "vitest/config";

/**
 * The scenarios that run one at a time, after the rest of the suite. The scale scenarios (a host
 * of 1,000 sleeping agents killed, a flood of 100,000 messages) each saturate both cores for tens
 * of seconds, which would disturb the timed recoveries beside them. The rolling update bounds every
 * message's wait while agents move, and a move's gap is mostly the new host forking runners: on two
 * cores shared with two other clusters, that bound measures the neighbours rather than the moves.
 */
export const RUN_ALONE = ["test/scale/**/*.test.ts", "test/rolling-update.test.ts"];

export default defineConfig({
  test: {
    include: RUN_ALONE,
    setupFiles: ["test/support/failures.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
