import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/package.test.ts"],
    // npm pack, npm install and tsc
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
