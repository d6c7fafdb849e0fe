import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["@guildhall/testing/redis-global-setup"],
    // Waits poll with deadlines of their own (waitFor's 15 s); leave them room to report first.
    testTimeout: 20_000,
  },
});
