import { defineConfig } from "vitest/config";

// Static checks of the image and manifests, and one real agent host for the dashboard's metrics;
// the time allowed is for that host's start on a busy machine, never for sleeping.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
