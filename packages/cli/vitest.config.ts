import { defineConfig } from "vitest/config";

// The end-to-end test runs the built `guildhall` bin with a private redis-server and real agent
// processes; the time allowed is for start-up on a busy machine, never for sleeping.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
