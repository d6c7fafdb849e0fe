import { defineConfig } from "vitest/config";

// Integration tests fork real agent processes from the built package (dist), so they need time
// for process start-up on a busy machine, not for sleeping.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
