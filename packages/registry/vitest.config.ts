import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["@guildhall/testing/redis-global-setup"],
    // Lease and TTL tests poll with deadlines of their own; leave them room on a busy machine.
    testTimeout: 20_000,
  },
});
