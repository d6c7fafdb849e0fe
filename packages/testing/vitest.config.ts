import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // The Redis-backed contract run needs a redis-server; the others ignore it.
    globalSetup: ["../../tools/redis/global-setup.ts"],
  },
});
