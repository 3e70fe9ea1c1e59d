import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/integration.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // One server, one set of checks at a time.
    fileParallelism: false,
  },
});
