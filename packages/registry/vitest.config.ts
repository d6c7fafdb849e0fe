import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["../../tools/redis/global-setup.ts"],
    // Lease and TTL tests poll with deadlines of their own; leave them room on a busy machine.
    testTimeout: 20_000,
  },
});
